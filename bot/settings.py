"""Settings of the bot floor (Telegram, admins, limits, HTTP), read from the environment in one place.

The index floor's settings (corpus, index, model) come from `index.config`; these are added on top.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index.config import IndexSettings, env_int, index_settings_from_env
from index.errors import ConfigError

TELEGRAM_API = "https://api.telegram.org"


@dataclass(frozen=True)
class Secret:
    """A value that never shows in logs, errors or reprs."""

    value: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class BotSettings:
    index: IndexSettings = field(default_factory=IndexSettings)
    token: Secret = field(default_factory=Secret)
    admin_user_ids: frozenset[int] = frozenset()
    allowed_user_ids: frozenset[int] = frozenset()  # empty: everyone
    allowed_chat_ids: frozenset[int] = frozenset()  # empty: every chat
    questions_per_minute: int = 10
    actions_per_minute: int = 60  # every update a user sends (messages, commands, buttons, uploads), at the door
    # Telegram's flood limit for a bot (messages per second across chats); 0 turns the limiter off, for a Bot API
    # server without limits (a test server) or to measure what the limiter costs (bench.bot_latency)
    messages_per_second: int = 30
    api_base_url: str = TELEGRAM_API  # a self-hosted Bot API server replaces it
    state_db: Path = Path("var/bot.sqlite")
    max_upload_mb: int = 20  # Telegram's own limit for bots downloading files
    button_ttl_hours: int = 48
    conversation_minutes: int = 30  # after this quiet period, a question no longer continues the previous one
    # the HTTP service (`vve serve`, webhook mode)
    host: str = "127.0.0.1"
    port: int = 8080
    webhook_url: str = ""
    webhook_secret: Secret = field(default_factory=Secret)
    api_token: Secret = field(default_factory=Secret)
    reload_seconds: float = 2.0

    @property
    def bot_api_url(self) -> str:
        return self.api_base_url.rstrip("/") + "/bot"

    @property
    def file_api_url(self) -> str:
        return self.api_base_url.rstrip("/") + "/file/bot"


def _ids(env: Mapping[str, str], key: str) -> frozenset[int]:
    raw = env.get(key, "").replace(";", ",").replace(" ", ",")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    # plain ASCII digits (a chat id may be negative): int() would also read « 1_2_3 » or full-width digits
    if not all(re.fullmatch(r"-?[0-9]+", part) for part in parts):
        raise ConfigError(f"{key} doit être une liste d'identifiants numériques séparés par des virgules.")
    return frozenset(int(part) for part in parts)


def bot_settings_from_env(env: Mapping[str, str] | None = None) -> BotSettings:
    env = os.environ if env is None else env
    index = index_settings_from_env(env)
    base_url = env.get("TELEGRAM_API_BASE_URL", "").strip() or TELEGRAM_API
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("TELEGRAM_API_BASE_URL doit commencer par http:// ou https://.")
    webhook_url = env.get("WEBHOOK_URL", "").strip()
    if webhook_url and not webhook_url.startswith("https://"):
        raise ConfigError("WEBHOOK_URL doit commencer par https:// (Telegram n'appelle que des adresses HTTPS).")
    return BotSettings(
        index=index,
        token=Secret(env.get("TELEGRAM_BOT_TOKEN", "").strip()),
        admin_user_ids=_ids(env, "ADMIN_USER_IDS"),
        allowed_user_ids=_ids(env, "ALLOWED_USER_IDS"),
        allowed_chat_ids=_ids(env, "ALLOWED_CHAT_IDS"),
        questions_per_minute=env_int(env, "QUESTIONS_PER_MINUTE", 10, 1, 10_000),
        actions_per_minute=env_int(env, "ACTIONS_PER_MINUTE", 60, 1, 100_000),
        messages_per_second=env_int(env, "TELEGRAM_MESSAGES_PER_SECOND", 30, 0, 1_000),
        api_base_url=base_url.rstrip("/"),
        state_db=Path(env.get("STATE_DB", "").strip() or index.index_dir.parent / "bot.sqlite"),
        max_upload_mb=env_int(env, "MAX_UPLOAD_MB", 20, 1, 2000),
        button_ttl_hours=env_int(env, "BUTTON_TTL_HOURS", 48, 1, 24 * 365),
        conversation_minutes=env_int(env, "CONVERSATION_MINUTES", 30, 1, 24 * 60 * 30),
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=env_int(env, "PORT", 8080, 1, 65535),
        webhook_url=webhook_url,
        webhook_secret=Secret(env.get("WEBHOOK_SECRET", "").strip()),
        api_token=Secret(env.get("API_TOKEN", "").strip()),
        reload_seconds=float(env_int(env, "RELOAD_SECONDS", 2, 1, 3600)),
    )
