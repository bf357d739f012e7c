"""Fairness between users, on the way in and on the way out.

In: `UserLines` processes each user's updates in that user's own line (at most `per_user` at once), so that a user
with a backlog waits behind it alone, and no more than `workers` updates do work at once overall.

Out: `ChatPacing` keeps Telegram's flood limits per chat (about 1 message/s in a private chat, 20/min in a group,
30/s overall) and, when Telegram still answers 429, pauses the chat it came from, not every chat:
python-telegram-bot's AIORateLimiter stops all requests on any 429, so one user's flood of answers delayed
everyone else's (45 s in the attack of issue 23)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
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
            async with line, self._work:
                await coroutine
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
    """Telegram's flood limits kept chat by chat; a 429 pauses its own chat and is retried `max_retries` times."""

    def __init__(self, overall_per_second: float = 30, private_burst: int = 2, group_per_minute: int = 20,
                 max_retries: int = 3) -> None:
        self._overall = AsyncLimiter(overall_per_second, 1) if overall_per_second else None
        self._private_burst = private_burst
        self._group_per_minute = group_per_minute
        self._max_retries = max_retries
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
        retries = rate_limit_args or self._max_retries
        for attempt in range(retries + 1):
            try:
                if chat is None:
                    return await callback(*args, **kwargs)
                await self._wait_for(chat)
                async with self._limiter(chat):
                    if self._overall is None:
                        return await callback(*args, **kwargs)
                    async with self._overall:
                        return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = error.retry_after if isinstance(error.retry_after, int | float) \
                    else error.retry_after.total_seconds()
                if attempt == retries:
                    log.warning("Telegram still refuses %s in chat %s after %d tries (flood limit)",
                                endpoint, chat, retries + 1)
                    raise
                if chat is not None:
                    self._paused_until[chat] = max(self._paused_until.get(chat, 0.0),
                                                   time.monotonic() + seconds + 0.1)
                else:
                    await asyncio.sleep(seconds + 0.1)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_for(self, chat: int | str) -> None:
        until = self._paused_until.get(chat)
        if until is None:
            return
        delay = until - time.monotonic()
        if delay <= 0:
            self._paused_until.pop(chat, None)
            return
        await asyncio.sleep(delay)

    def _limiter(self, chat: int | str) -> AsyncLimiter:
        limiter = self._chats.get(chat)
        if limiter is None:
            group = isinstance(chat, str) or chat < 0
            # a leaky bucket: `private_burst` at once, then one per second (Telegram: « about one per second »)
            limiter = AsyncLimiter(self._group_per_minute, 60) if group else \
                AsyncLimiter(self._private_burst, self._private_burst)
            self._chats[chat] = limiter
            if len(self._chats) > CHATS_KEPT:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat)
        return limiter
