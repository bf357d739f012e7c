"""bot/pacing.py: a 429 pauses its own chat only; each user's updates wait in that user's line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from telegram import Chat, Message, Update, User
from telegram.error import RetryAfter

from bot.pacing import ChatPacing, UserLines


def _sends_refusing_a_once(pacing: ChatPacing, retry_after: int) -> tuple[list[str], Any]:
    """The chats sent to, in order, and a send through `pacing` whose first try into chat « A » gets a 429."""
    done: list[str] = []
    refused = {"A": 1}

    async def send(chat: str) -> bool:
        if refused.get(chat):
            refused[chat] -= 1
            raise RetryAfter(retry_after)
        done.append(chat)
        return True

    async def request(chat_id: int, name: str) -> object:
        return await pacing.process_request(send, (name,), {}, "sendMessage", {"chat_id": chat_id}, None)

    return done, request


async def test_a_429_pauses_its_own_chat_and_no_other():
    done, request = _sends_refusing_a_once(ChatPacing(overall_per_second=30, max_retries=2), retry_after=1)

    first = asyncio.create_task(request(1, "A"))
    await asyncio.sleep(0.05)  # A has had its 429 and waits out its retry_after
    assert await request(2, "B") is True  # B is not held by A's pause
    assert done == ["B"]
    assert await first is True and done == ["B", "A"]


async def test_a_chat_still_refused_after_its_retries_raises_the_429():
    pacing = ChatPacing(max_retries=1)
    calls = []

    async def always_refused() -> bool:
        calls.append(1)
        raise RetryAfter(0)

    try:
        await pacing.process_request(always_refused, (), {}, "sendMessage", {"chat_id": 5}, None)
    except RetryAfter:
        pass
    else:
        raise AssertionError("a 429 past the retries must reach the handler")
    assert len(calls) == 2


def _update(user_id: int, number: int) -> Update:
    user = User(user_id, "x", False)
    chat = Chat(user_id, "private")
    return Update(number, message=Message(number, datetime.now(UTC), chat, from_user=user))


async def test_a_user_s_backlog_waits_in_its_own_line():
    lines = UserLines(workers=4, per_user=1)
    order: list[str] = []
    release = asyncio.Event()

    async def slow(name: str) -> None:
        order.append(f"start {name}")
        await release.wait()
        order.append(f"end {name}")

    async def quick(name: str) -> None:
        order.append(f"start {name}")

    flood = [asyncio.create_task(lines.do_process_update(_update(1, n), slow(f"1.{n}"))) for n in range(5)]
    await asyncio.sleep(0.05)
    await lines.do_process_update(_update(2, 99), quick("2"))  # not behind user 1's four waiting updates
    assert order == ["start 1.0", "start 2"]
    release.set()
    await asyncio.gather(*flood)
    assert [entry for entry in order if entry.startswith("end")] == [f"end 1.{n}" for n in range(5)]


async def test_a_chat_waiting_out_a_429_holds_no_worker_and_a_long_pause_is_given_up():
    """From the attack: 40 chats paused by a long retry_after held all 64 workers. A paused send gives its worker back
    while it waits; a pause longer than the wait budget is given up at once, one log line, no retry."""
    lines = UserLines(workers=1, per_user=1)
    pacing = ChatPacing(max_retries=3, max_wait=20)
    done, request = _sends_refusing_a_once(pacing, retry_after=2)

    paused = asyncio.create_task(lines.do_process_update(_update(1, 1), request(1, "A")))
    await asyncio.sleep(0.1)  # A got its 429 and waits 2 s: its only worker is free meanwhile
    await asyncio.wait_for(lines.do_process_update(_update(2, 2), request(2, "B")), 1.5)
    assert done == ["B"]
    await paused
    assert done == ["B", "A"]

    async def refused_for_an_hour() -> bool:
        raise RetryAfter(3600)

    try:
        await asyncio.wait_for(pacing.process_request(refused_for_an_hour, (), {}, "sendMessage", {"chat_id": 3},
                                                      None), 1.0)
    except RetryAfter:
        pass
    else:
        raise AssertionError("an hour's pause must be given up")
