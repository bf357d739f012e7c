"""Fairness between users, on the way in and on the way out.

In: `UserLines` processes each user's updates in that user's own line (at most `per_user` at once), so that a user
with a backlog waits behind it alone, and no more than `workers` updates do work at once overall.

Out: `ChatPacing` keeps Telegram's flood limits per chat (1 message/s in a private chat, 20/min in a group, 30/s
overall, without bursts) and, when Telegram still answers 429, pauses the chat it came from, not every chat:
python-telegram-bot's AIORateLimiter stops all requests on any 429, so one user's flood of answers delayed
everyone else's (45 s in the attack of issue 23)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

log = logging.getLogger(__name__)

# What Telegram counts as messages a bot sends; chat actions, callback answers and the rest are not paced.
SENDS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto",
                   "sendMediaGroup", "copyMessage", "forwardMessage"})
CHATS_KEPT = 10_000  # per-chat limiters kept (least recently used dropped: a dropped one starts afresh)


class UserLines(BaseUpdateProcessor):
    """Each user's updates one line per user (`per_user` at once), `workers` doing work at once in all.

    PTB creates one task per update; an update waiting in its user's line holds no worker, so a flood waits
    behind itself. The door check (`handlers.check_pace`) still drops the excess as soon as its turn comes."""

    def __init__(self, workers: int = 64, per_user: int = 2, users_kept: int = CHATS_KEPT) -> None:
        super().__init__(max_concurrent_updates=1_000_000)  # PTB's own bound; ours are below
        self._work = asyncio.BoundedSemaphore(workers)
        self._per_user = per_user
        self._users_kept = users_kept
        self._lines: OrderedDict[int, tuple[asyncio.Semaphore, list[int]]] = OrderedDict()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if isinstance(update, Update) and update.inline_query is not None:
            # one per keystroke, each waiting for a pause (`handlers.inline`): in a line, the later keystrokes
            # would be invisible to the earlier ones; they hold no worker while they wait, and one search at most
            await coroutine
            return
        key = _user_key(update)
        line, waiting = self._line(key)
        waiting[0] += 1
        try:
            async with line:
                slot = _Slot(self._work)
                await slot.take()
                _holding.set(slot)
                try:
                    await coroutine
                finally:
                    slot.give_back()
        finally:
            waiting[0] -= 1
            if not waiting[0] and len(self._lines) > self._users_kept:
                self._lines.pop(key, None)

    def _line(self, key: int) -> tuple[asyncio.Semaphore, list[int]]:
        found = self._lines.get(key)
        if found is None:
            found = self._lines[key] = (asyncio.Semaphore(self._per_user), [0])
        self._lines.move_to_end(key)
        return found

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _user_key(update: object) -> int:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return 0


class ChatPacing(BaseRateLimiter[int]):
    """Telegram's flood limits kept chat by chat, without bursts (Telegram counts over a sliding window: a burst then
    a steady rate lets twice its rate through): one message a second in a private chat, one every three seconds in a
    group (20 a minute), `overall_per_second` in all. A 429 pauses its own chat and is retried `max_retries` times.

    A message waits at most `max_wait` seconds in all (its chat's pace, a pause): past that it is given up, one log
    line, so that a stop never waits minutes behind a flooded group. While it waits it holds no worker of UserLines."""

    def __init__(self, overall_per_second: float = 30, private_per_second: float = 1, group_per_minute: int = 20,
                 max_retries: int = 3, max_wait: float = 20.0) -> None:
        self._overall = AsyncLimiter(1, 1 / overall_per_second) if overall_per_second else None
        self._private_period = 1 / private_per_second
        self._group_period = 60 / group_per_minute
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._chats: OrderedDict[int | str, AsyncLimiter] = OrderedDict()
        self._paused_until: dict[int | str, float] = {}

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        given = data.get("chat_id")
        chat: int | str | None = given if endpoint in SENDS and isinstance(given, int | str) else None
        if chat is None:
            return await callback(*args, **kwargs)
        retries = rate_limit_args or self._max_retries
        deadline = time.monotonic() + self._max_wait
        for attempt in range(retries + 1):
            try:
                await self._wait(self._pause_of(chat), deadline, endpoint, chat)
                await self._wait(self._limiter(chat), deadline, endpoint, chat)
                if self._overall is not None:
                    await self._wait(self._overall, deadline, endpoint, chat)
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = error.retry_after if isinstance(error.retry_after, int | float) \
                    else error.retry_after.total_seconds()
                self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), time.monotonic() + seconds + 0.1)
                if attempt == retries or time.monotonic() + seconds > deadline:
                    log.warning("Telegram refuses %s in chat %s for %.0f s more (flood limit): given up", endpoint,
                                chat, seconds)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause_of(self, chat: int | str) -> float:
        """Seconds left of the chat's pause after a 429 (0 when none)."""
        until = self._paused_until.get(chat)
        if until is None:
            return 0.0
        if until <= time.monotonic():
            del self._paused_until[chat]
            return 0.0
        return until - time.monotonic()

    async def _wait(self, what: AsyncLimiter | float, deadline: float, endpoint: str, chat: int | str) -> None:
        """Wait for a limiter's turn or a pause, without holding a worker; past the deadline, give the message up."""
        if isinstance(what, AsyncLimiter) and what.has_capacity():
            await what.acquire()
            return
        if isinstance(what, float) and what <= 0:
            return
        left = deadline - time.monotonic()
        if isinstance(what, float) and what > left:
            log.warning("%s in chat %s would wait %.0f s (flood limit): given up", endpoint, chat, what)
            raise RetryAfter(int(what) + 1)
        async with _worker_released():
            try:
                if isinstance(what, AsyncLimiter):
                    await asyncio.wait_for(what.acquire(), max(left, 0.01))
                else:
                    await asyncio.sleep(what)
            except TimeoutError:
                log.warning("%s in chat %s waited its turn %.0f s (flood limit): given up", endpoint, chat, left)
                raise RetryAfter(int(left) + 1) from None

    def _limiter(self, chat: int | str) -> AsyncLimiter:
        limiter = self._chats.get(chat)
        if limiter is None:
            group = isinstance(chat, str) or chat < 0
            limiter = AsyncLimiter(1, self._group_period if group else self._private_period)
            self._chats[chat] = limiter
            if len(self._chats) > CHATS_KEPT:
                self._chats.popitem(last=False)
            if len(self._paused_until) > CHATS_KEPT:
                now = time.monotonic()
                self._paused_until = {key: until for key, until in self._paused_until.items() if until > now}
        self._chats.move_to_end(chat)
        return limiter


class _Slot:
    """A worker slot an update holds, and whether it holds it now (a wait for Telegram's pace gives it back)."""

    def __init__(self, work: asyncio.BoundedSemaphore) -> None:
        self._work = work
        self.held = False

    async def take(self) -> None:
        await self._work.acquire()
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._work.release()


_holding: ContextVar[_Slot | None] = ContextVar("holding", default=None)


@contextlib.asynccontextmanager
async def _worker_released() -> AsyncIterator[None]:
    slot = _holding.get()
    if slot is None or not slot.held:
        yield
        return
    slot.give_back()
    try:
        yield
    finally:
        await slot.take()  # cancelled here, the slot is simply not held: nothing is released twice
