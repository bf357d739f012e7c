"""The python-telegram-bot `Application`: handlers wired, rate limiter, concurrent updates, index reload."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, LinkPreviewOptions, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import handlers
from bot.assistant import Assistant, follow_index, use_worker_threads
from bot.errors import BotApiUnavailable
from bot.pacing import ChatPacing, UserLines
from bot.redact import redact_in_logs
from bot.settings import BotSettings
from bot.state import RateLimiter

log = logging.getLogger(__name__)

PTBApplication = Application[Any, Any, Any, Any, Any, Any]
CONNECT_DELAYS = (1.0, 3.0)  # seconds between tries to reach the Bot API at start: a network that blinks is waited for


def build_application(assistant: Assistant, *, updater: bool = True) -> PTBApplication:
    """The bot for polling (`updater=True`) or for a webhook served by our own aiohttp app (`updater=False`)."""
    settings = assistant.settings
    redact_in_logs(settings.token.value, settings.webhook_secret.value, settings.api_token.value)
    builder: Any = (  # Any: the builder's generic type changes with each option
        Application.builder()
        .token(settings.token.value)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.file_api_url)
        .context_types(ContextTypes(context=handlers.BotContext))
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(UserLines(workers=64))  # one user's backlog waits behind itself, no one else
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.messages_per_second:  # 0: no limiter (a test server)
        # Telegram's flood limits, chat by chat; a 429 retried after retry_after, pausing its own chat only
        builder = builder.rate_limiter(ChatPacing(overall_per_second=settings.messages_per_second, max_retries=3))
    if not updater:
        builder = builder.updater(None)
    application: PTBApplication = builder.build()
    application.bot_data["assistant"] = assistant
    application.bot_data["limiter"] = RateLimiter(settings.questions_per_minute)
    application.bot_data["pace"] = RateLimiter(settings.actions_per_minute)  # every update, at the door
    add_handlers(application)
    return application


# What the bot serves: new messages (private chats; in groups, commands, mentions and replies) and its buttons.
# Channel posts, edited messages (the first answer stands: a second one would repeat it), member changes and every
# other kind of update match no handler and are dropped without a reply.
NEW_MESSAGE = filters.UpdateType.MESSAGE
# What a practitioner may send that is not text: a short hint in a private chat, nothing in a group.
NOT_TEXT = (filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
            | filters.ANIMATION | filters.LOCATION | filters.VENUE | filters.CONTACT | filters.POLL | filters.Dice.ALL)


def add_handlers(application: PTBApplication) -> None:
    application.add_handler(TypeHandler(Update, handlers.check_access), group=-2)
    application.add_handler(TypeHandler(Update, handlers.check_pace), group=-1)
    for name, callback in (("start", handlers.start), ("aide", handlers.aide), ("help", handlers.aide),
                           ("sources", handlers.sources), ("sites", handlers.sites), ("search", handlers.search),
                           ("reingest", handlers.reingest), ("stats", handlers.stats),
                           ("nouveau", handlers.nouveau)):
        application.add_handler(CommandHandler(name, callback, filters=NEW_MESSAGE))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.Document.ALL, handlers.document))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.TEXT & ~filters.COMMAND, handlers.question))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.ChatType.PRIVATE & NOT_TEXT, handlers.not_text))
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_handler(InlineQueryHandler(handlers.inline))
    application.add_error_handler(handlers.error_handler)


async def _post_init(application: PTBApplication) -> None:
    """Runs before polling starts: the model and the index warm first, so that the first question is not slow."""
    assistant: Assistant = application.bot_data["assistant"]
    use_worker_threads(asyncio.get_running_loop())
    await asyncio.to_thread(assistant.warm_up)
    await application.bot.set_my_commands(handlers.bot_commands())
    application.bot_data["reload_task"] = asyncio.create_task(follow_index(assistant))
    log.info("bot @%s ready", application.bot.username)


async def _post_shutdown(application: PTBApplication) -> None:
    task = application.bot_data.pop("reload_task", None)
    if task is not None:
        task.cancel()


async def reach_bot_api(settings: BotSettings, delays: tuple[float, ...] | None = None) -> None:
    """Call getMe, again after each of `delays`; BotApiUnavailable (French, one line) when Telegram stays out of
    reach or refuses the token. Run before the bot starts, so that a start without network is a message and an
    exit code, not python-telegram-bot's tracebacks."""
    bot: Bot = Bot(settings.token.value, base_url=settings.bot_api_url, base_file_url=settings.file_api_url)
    for delay in (*(CONNECT_DELAYS if delays is None else delays), None):
        try:
            async with bot:  # initialize: getMe; shut down on the way out
                return
        except InvalidToken:
            raise BotApiUnavailable("Telegram refuse le jeton TELEGRAM_BOT_TOKEN : vérifiez-le auprès de "
                                    "@BotFather.") from None
        except NetworkError as error:  # TimedOut included
            if delay is None:
                raise BotApiUnavailable(f"l’API des bots Telegram ({settings.api_base_url}) est injoignable "
                                        f"({error}) : vérifiez le réseau et TELEGRAM_API_BASE_URL.") from None
            log.warning("Bot API out of reach (%s); next try in %.0f s", error, delay)
            await asyncio.sleep(delay)
