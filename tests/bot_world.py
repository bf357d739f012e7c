"""A running bot for end-to-end tests: the real Application polling our fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.application import build_application
from bot.assistant import Assistant
from bot.settings import BotSettings, Secret
from index.config import IndexSettings
from tests.support.fake_telegram import FakeTelegram, SentMessage

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token-never-logged"
ADMIN = 1


@dataclass
class World:
    server: FakeTelegram
    application: Any
    assistant: Assistant
    settings: BotSettings

    async def ask(self, user: int, text: str, contains: str = "", chat: int | None = None,
                  timeout: float = 60) -> SentMessage:
        mark = self.server.mark()
        await self.server.say(user, text, chat_id=chat)
        return await self.server.reply_to(chat if chat is not None else user, mark, timeout, contains)


def copy_shipped(tmp_path: Path, shipped_index: Path) -> IndexSettings:
    """The sample corpus and its built index, copied so that a test may change them."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    shutil.copytree(shipped_index, index, symlinks=True, ignore=shutil.ignore_patterns("ingest.lock"))
    return IndexSettings(corpus_dir=corpus, index_dir=index)


@asynccontextmanager
async def running_bot(index: IndexSettings, embedder: Any, tmp_path: Path, flood_limit: int | None = None,
                      updater: bool = True, telegram_rates: bool = False, **overrides: Any) -> AsyncIterator[World]:
    server = FakeTelegram(TOKEN, flood_limit=flood_limit, telegram_rates=telegram_rates)
    base_url = await server.start()
    settings = BotSettings(index=index, token=Secret(TOKEN), admin_user_ids=frozenset({ADMIN}),
                           api_base_url=base_url, state_db=tmp_path / "bot.sqlite", questions_per_minute=30,
                           reload_seconds=1.0)
    settings = replace(settings, **overrides)
    assistant = Assistant.build(settings, embedder)
    application = build_application(assistant, updater=updater)
    if updater:  # polling; in webhook mode the web app starts and stops the bot itself
        await application.initialize()
        await application.post_init(application)  # run_polling would call it; here we drive the steps ourselves
        await application.start()
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield World(server, application, assistant, settings)
    finally:
        if updater:  # a test may have stopped it already, as SIGTERM would
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
            await application.post_shutdown(application)
        await server.stop()
        assistant.state.close()
