"""Telegram handlers: parse the update, run the blocking work in a thread, render, reply. One error handler.

Callback data (under Telegram's 64 bytes): "<action>:<state id>[:<n>]", the state itself in SQLite (bot.state).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import ApplicationHandlerStop, CallbackContext, ExtBot

from bot import render
from bot.answer import Answer
from bot.assistant import AddedDocument, Assistant
from bot.state import RateLimiter
from index.errors import IndexFailure
from index.normalize import clean_input
from index.render_text import snippet
from index.types import Passage, SearchResult
from ingest.build import IngestReport
from ingest.errors import IngestionStopped

log = logging.getLogger(__name__)

SEARCH_PAGE = 5
SEARCH_DEPTH = 30
FAILURES_SHOWN = 20  # failed files listed in an ingestion summary
EXAMPLES = (
    "Comment Bordeaux a-t-elle organisé l’observation partagée ?",
    "Qu’est-ce que l’engagement solidaire à Angers ?",
    "Quelles sont les recommandations du rapport final ?",
)
COMMANDS = (
    ("start", "présentation et exemples"), ("aide", "comment poser une question"),
    ("search", "recherche rapide : /search mots [ville:Angers]"), ("sites", "les 11 sites de l’étude"),
    ("sources", "les documents indexés"), ("nouveau", "nouvelle conversation : oublier la question précédente"),
)
EXPIRED = "Ce bouton a expiré : posez à nouveau votre question."
ERROR = "Une erreur est survenue de notre côté ; réessayez dans un instant. Si cela persiste, prévenez l’équipe."


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Typed access to what `__main__` built."""

    @property
    def assistant(self) -> Assistant:
        assistant: Assistant = self.bot_data["assistant"]
        return assistant

    @property
    def limiter(self) -> RateLimiter:
        limiter: RateLimiter = self.bot_data["limiter"]
        return limiter


def _is_admin(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.assistant.settings.admin_user_ids


async def _reply(message: Message, text: str, keyboard: InlineKeyboardMarkup | None = None) -> Message:
    """Send HTML in pieces under Telegram's limit, cut outside tags and entities; the keyboard goes under the last."""
    pieces = render.split_message(text)
    sent = message
    for number, piece in enumerate(pieces, 1):
        sent = await message.reply_text(piece, parse_mode=ParseMode.HTML,
                                        reply_markup=keyboard if number == len(pieces) else None)
    return sent


# access


async def check_access(update: Update, context: BotContext) -> None:
    """Runs first (group -1): ALLOWED_USER_IDS / ALLOWED_CHAT_IDS, when set, keep everyone else out."""
    settings = context.assistant.settings
    user, chat = update.effective_user, update.effective_chat
    user_ok = not settings.allowed_user_ids or (user is not None and user.id in settings.allowed_user_ids)
    # an inline query comes from no chat (the bot is typed in any chat): the user's right alone decides
    chat_ok = not settings.allowed_chat_ids or (chat is not None and chat.id in settings.allowed_chat_ids) or (
        update.inline_query is not None and bool(settings.allowed_user_ids) and user_ok)
    if user_ok and chat_ok:
        return
    if update.inline_query:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.callback_query:
        await update.callback_query.answer("Ce service est réservé à ses utilisateurs autorisés.")
    elif update.effective_message and chat is not None and chat.type == ChatType.PRIVATE:
        await update.effective_message.reply_text("Ce service est réservé à ses utilisateurs autorisés. "
                                                  "Adressez-vous à l’équipe qui l’administre.")
    raise ApplicationHandlerStop


async def check_pace(update: Update, context: BotContext) -> None:
    """Runs at the door (group -1, after check_access): every update a user sends — message, command, button,
    upload — counts against ACTIONS_PER_MINUTE, and the excess is dropped here, before any work, so that one user's
    flood never queues ahead of another's question. Told once a minute, not once per update."""
    user = update.effective_user
    if update.inline_query is not None:
        return  # one update per keystroke: only the query sent after a pause counts (`inline`)
    if user is None or context.bot_data["pace"].allow(user.id):
        return
    pace: RateLimiter = context.bot_data["pace"]
    if pace.first_refusal(user.id):
        text = (f"Vous allez trop vite (limite : {pace.per_minute} actions par minute) : les suivantes sont "
                "ignorées pendant un instant.")
        if update.callback_query:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message and update.effective_chat is not None:
            await update.effective_message.reply_text(text)
    raise ApplicationHandlerStop


# practitioners


async def start(update: Update, context: BotContext) -> None:
    """Say what the bot knows, with example questions as buttons."""
    assert update.effective_message
    snapshot = await asyncio.to_thread(lambda: context.assistant.retriever.snapshot)
    documents, sites = snapshot.manifest.documents, len(snapshot.sites())
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=f"ex:{n}")]
                                     for n, text in enumerate(EXAMPLES)])
    await _reply(update.effective_message, render.start_html(documents, sites), keyboard)
    await update.effective_message.reply_text("/search pour une recherche rapide · /sites · /sources · /aide")


async def aide(update: Update, context: BotContext) -> None:
    """How to ask; admins also see their commands."""
    assert update.effective_message
    text = render.HELP_HTML + (render.ADMIN_HELP_HTML if _is_admin(update, context) else "")
    await _reply(update.effective_message, text)


async def sources(update: Update, context: BotContext) -> None:
    """The indexed documents with title, pages and date."""
    assert update.effective_message
    documents = await asyncio.to_thread(lambda: context.assistant.retriever.snapshot.documents())
    await _reply(update.effective_message, render.sources_html(documents))


async def sites(update: Update, context: BotContext) -> None:
    """The sites with their axis and subject, one button each."""
    assert update.effective_message
    found = await asyncio.to_thread(lambda: context.assistant.retriever.snapshot.sites())
    buttons = [InlineKeyboardButton(render.shorten(site.name, 60), callback_data=f"site:{site_id(site.name)}")
               for site in found]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    await _reply(update.effective_message, render.sites_html(found), InlineKeyboardMarkup(rows) if rows else None)


async def search(update: Update, context: BotContext) -> None:
    """/search mots [ville:X]: one short line per passage, paged with buttons."""
    message = update.effective_message
    assert message and update.effective_user
    query = " ".join(context.args or []).strip()
    if not query:
        await message.reply_text("Indiquez des mots à chercher, par exemple : /search réciprocité ville:Angers")
        return
    if not context.limiter.allow(update.effective_user.id):
        if context.limiter.first_refusal(update.effective_user.id):
            await message.reply_text(_too_fast(context))
        return
    result, key = await asyncio.to_thread(_search_with_buttons, context.assistant, query, update.effective_user.id)
    passages = [hit.passage for hit in result.hits] if result.found else []
    await _send_search_page(message, key, passages, result.query, result.site, 0, edit=False)


def _search_with_buttons(assistant: Assistant, query: str, user_id: int) -> tuple[SearchResult, str]:
    """One trip to a worker thread: the search, and the id of the state its page buttons need."""
    result = assistant.search(query, SEARCH_DEPTH)
    passages = [_stored(hit.passage) for hit in result.hits] if result.found else []
    key = assistant.state.save_buttons({"kind": "search", "query": result.query, "site": result.site,
                                        "passages": passages}, user_id)
    return result, key


def _too_fast(context: BotContext) -> str:
    return (f"Vous posez beaucoup de questions à la suite (limite : {context.limiter.per_minute} par minute). "
            "Patientez un instant, puis reprenez.")


async def question(update: Update, context: BotContext) -> None:
    """Any text: a cited answer made of the corpus's own sentences."""
    message = update.effective_message
    user = update.effective_user
    assert message and message.text is not None and user
    text: str | None = message.text
    if message.chat.type != ChatType.PRIVATE:
        text = _addressed_text(message, context)
    if text is None:
        return  # in a group, only mentions and replies to the bot are questions
    if not text.strip():
        await message.reply_text("Posez votre question en une phrase, par exemple : « " + EXAMPLES[1] + " »")
        return
    if not context.limiter.allow(user.id):
        if context.limiter.first_refusal(user.id):
            await message.reply_text(_too_fast(context))
        return
    await _answer(message, text, user.id, context)


UPDATES = ["message", "callback_query", "inline_query"]  # what the bot asks Telegram for (polling and webhook)
INLINE_PAUSE_SECONDS = 0.7  # Telegram sends an inline query at each keystroke: the one followed by this pause is read
INLINE_RESULTS = 5


async def inline(update: Update, context: BotContext) -> None:
    """`@bot question` typed in any chat: the best passages as results (title, page, quote). Only the query the user
    pauses on is searched and counted against their limit; the ones typed over are dropped."""
    query, user = update.inline_query, update.effective_user
    assert query is not None and user is not None
    latest: dict[int, str] = context.bot_data.setdefault("inline_latest", {})
    latest[user.id] = query.id
    await asyncio.sleep(INLINE_PAUSE_SECONDS)
    if latest.get(user.id) != query.id:
        return  # typed over: a later keystroke's query stands
    del latest[user.id]
    text = clean_input(query.query).strip()
    if len(text) < 3:
        await query.answer([], cache_time=0, is_personal=True)
        return
    if not context.bot_data["pace"].allow(user.id) or not context.limiter.allow(user.id):
        await query.answer([], cache_time=0, is_personal=True, button=InlineQueryResultsButton(
            "Vous allez trop vite : réessayez dans un instant", start_parameter="aide"))
        return
    result = await asyncio.to_thread(context.assistant.retriever.search, text, INLINE_RESULTS)
    results = [InlineQueryResultArticle(
        id=str(number), title=render.shorten(render.cited(hit.passage), 120),
        description=render.shorten(snippet(hit.passage.text, text, 160), 160),
        input_message_content=InputTextMessageContent(render.inline_html(hit.passage, text),
                                                      parse_mode=ParseMode.HTML))
        for number, hit in enumerate(result.hits) if result.found]
    button = None if results else InlineQueryResultsButton("Rien dans les documents : ouvrir l’assistant",
                                                           start_parameter="aide")
    await query.answer(results, cache_time=30, is_personal=True, button=button)


async def not_text(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice message, location… in a private chat: the bot reads only text."""
    assert update.effective_message
    await update.effective_message.reply_text("Posez votre question par écrit, en une phrase, par exemple : « "
                                              + EXAMPLES[1] + " » Je ne lis ni les images, ni les messages vocaux, "
                                              "ni les autocollants.")


def conversation_key(message: Message, user_id: int) -> str:
    """A conversation per private chat, and per user in a group (two members' questions do not mix)."""
    if message.chat.type == ChatType.PRIVATE:
        return f"chat:{message.chat.id}"
    return f"chat:{message.chat.id}:user:{user_id}"


async def nouveau(update: Update, context: BotContext) -> None:
    """Forget the conversation: the next question is read on its own."""
    message = update.effective_message
    user = update.effective_user
    assert message and user
    await asyncio.to_thread(context.assistant.forget_conversation, conversation_key(message, user.id))
    await message.reply_text("C’est noté : nouvelle conversation. Votre prochaine question sera lue pour elle-même.")


async def _answer(message: Message, text: str, user_id: int, context: BotContext) -> None:
    # no « typing… » action: an answer takes tens of milliseconds, and every call counts against flood limits
    answer, key = await asyncio.to_thread(_answer_with_buttons, context.assistant, text, user_id,
                                          conversation_key(message, user_id))
    await _reply(message, render.answer_html(answer), _answer_keyboard(answer, key) if key else None)


def _answer_with_buttons(assistant: Assistant, text: str, user_id: int, conversation: str) -> tuple[Answer, str]:
    """One trip to a worker thread: the answer, and the id of the state its buttons need ("" for a miss)."""
    answer, question_id = assistant.ask(text, user_id, conversation=conversation)
    key = assistant.memory("garder l’état des boutons", lambda: assistant.state.save_buttons(
        _answer_state(answer, question_id, user_id), user_id), "") if answer.found else ""
    return answer, key


def _addressed_text(message: Message, context: BotContext) -> str | None:
    """The question in a group message that mentions the bot or replies to it; None when not addressed to it."""
    username = (context.bot.username or "").lower()
    text = message.text or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id:
        return text
    # entity offsets count UTF-16 units (an emoji before the mention counts two): python-telegram-bot reads them
    for entity, mention in message.parse_entities([MessageEntityType.MENTION]).items():
        if mention.lower() == f"@{username}":
            units = text.encode("utf-16-le")
            start, end = 2 * entity.offset, 2 * (entity.offset + entity.length)
            return (units[:start] + units[end:]).decode("utf-16-le", errors="replace").strip()
    return None


def _stored(passage: Passage) -> dict[str, Any]:
    """A passage as button state keeps it: whole, so that it outlives the index version it came from."""
    return asdict(passage)


def _passage(stored: dict[str, Any]) -> Passage:
    """A stored passage back; a field this version does not know (written by a newer one) is left out."""
    known = {key: value for key, value in stored.items() if key in _PASSAGE_FIELDS}
    return Passage(**{**known, "also_in": tuple(known.get("also_in", ()))})


_PASSAGE_FIELDS = frozenset(field.name for field in fields(Passage))


def _answer_state(answer: Answer, question_id: int, user_id: int) -> dict[str, Any]:
    return {"kind": "answer", "question": answer.question, "question_id": question_id, "user_id": user_id,
            "cited": [_stored(c.passage) for c in answer.citations], "more": [_stored(p) for p in answer.more]}


def _answer_keyboard(answer: Answer, key: str) -> InlineKeyboardMarkup:
    passages = [InlineKeyboardButton(f"Passage complet [{c.marker}]", callback_data=f"p:{key}:{c.marker - 1}")
                for c in answer.citations]
    rows = [passages[i:i + 2] for i in range(0, len(passages), 2)]
    if answer.more:
        rows.append([InlineKeyboardButton("Plus de résultats", callback_data=f"m:{key}:0")])
    rows.append([InlineKeyboardButton("👍", callback_data=f"f:{key}:1"),
                 InlineKeyboardButton("👎", callback_data=f"f:{key}:0"),
                 InlineKeyboardButton("📋 Référence", callback_data=f"r:{key}:0")])
    return InlineKeyboardMarkup(rows)


async def _send_search_page(message: Message, key: str, passages: list[Passage], query: str, site: str,
                            page: int, edit: bool) -> None:
    first = page * SEARCH_PAGE
    shown = passages[first: first + SEARCH_PAGE]
    text = render.search_page_html(shown, query, first + 1, len(passages), site)  # one message: an edit cannot split
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton("◀ Précédents", callback_data=f"s:{key}:{page - 1}"))
    if first + SEARCH_PAGE < len(passages):
        buttons.append(InlineKeyboardButton("Suivants ▶", callback_data=f"s:{key}:{page + 1}"))
    keyboard = InlineKeyboardMarkup([buttons]) if buttons else None
    if edit:
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    else:
        await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


# what a button's callback data may be: anything else (forged, from an older version, truncated) has expired
_PRESS = re.compile(r"(?P<action>ex|site|p|m|s|f|r):(?:(?P<key>[A-Za-z0-9_-]{1,16}):)?(?P<number>[0-9]{1,4})\Z"
                    r"|site:(?P<site>[0-9a-f]{10})\Z")


@dataclass(frozen=True)
class Press:
    action: str
    key: str = ""  # the button state's id, for p, m, s and f
    number: int = 0
    site: str = ""  # the site's stable id, for site


def parse_press(data: str | None) -> Press | None:
    """A button's callback data, parsed as untrusted input: None for anything we did not write.

    >>> parse_press("p:AbC-d_1x:2"), parse_press("site:0123456789")
    (Press(action='p', key='AbC-d_1x', number=2, site=''), Press(action='site', key='', number=0, site='0123456789'))
    >>> [parse_press(bad) for bad in ("ex:²", "site:²", "p:k:²", "", None, "f:k", "ex:1:2", "p:1")]
    [None, None, None, None, None, None, None, None]
    """
    match = _PRESS.match(data or "")
    if match is None:
        return None
    if match["site"]:
        return Press("site", site=match["site"])
    action, key = match["action"], match["key"] or ""
    if (action in ("ex", "site")) != (not key):
        return None  # ex and site carry a number only; the others a state and a number
    return Press(action, key, int(match["number"]))


def site_id(name: str) -> str:
    """A site's button id: stable when sites are added or reordered, and short (Telegram's 64 bytes)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]


async def button(update: Update, context: BotContext) -> None:
    """Every button: example question, site, full passage, more results, search page, feedback."""
    query = update.callback_query
    if query is None or update.effective_user is None:
        return
    press = parse_press(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if press is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    action = press.action
    if action == "ex":
        if message is None or press.number >= len(EXAMPLES):
            await query.answer(EXPIRED, show_alert=True)
            return
        await query.answer()
        if message is not None:
            if not context.limiter.allow(update.effective_user.id):
                if context.limiter.first_refusal(update.effective_user.id):
                    await message.reply_text(_too_fast(context))
                return
            await message.reply_text(f"« {html.escape(EXAMPLES[press.number])} »", parse_mode=ParseMode.HTML)
            await _answer(message, EXAMPLES[press.number], update.effective_user.id, context)
        return
    if action == "site":
        await _site(query, message, press.site, context)
        return
    key = press.key
    state = await asyncio.to_thread(context.assistant.state.load_buttons, key)
    if state is None or message is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    n = press.number
    if action == "p" and state.get("kind") == "answer" and n < len(state["cited"]):
        await query.answer()
        await _reply(message, render.passage_html(_passage(state["cited"][n])))
    elif action == "m" and state.get("kind") == "answer":
        await query.answer()
        more = [_passage(p) for p in state["more"][n * SEARCH_PAGE: (n + 1) * SEARCH_PAGE]]
        if not more:
            await message.reply_text("Il n’y a pas d’autre passage pour cette question.")
            return
        keyboard = None
        if (n + 1) * SEARCH_PAGE < len(state["more"]):
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Plus de résultats",
                                                                   callback_data=f"m:{key}:{n + 1}")]])
        first = len(state["cited"]) + n * SEARCH_PAGE + 1
        await _reply(message, render.more_html(more, state["question"], first), keyboard)
    elif action == "s" and state.get("kind") == "search":
        await query.answer()
        passages = [_passage(p) for p in state["passages"]]
        try:
            await _send_search_page(message, key, passages, state["query"], state["site"], n, edit=True)
        except BadRequest as error:  # the same page pressed twice: Telegram refuses an edit that changes nothing
            if "not modified" not in str(error).lower():
                raise
    elif action == "r" and state.get("kind") == "answer" and state["cited"]:
        await query.answer()
        # plain text, no formatting: what a practitioner copies into a report, as it will be pasted
        await message.reply_text(render.references_text([_passage(p) for p in state["cited"]]))
    elif action == "f" and state.get("kind") == "answer" and state.get("user_id", update.effective_user.id) != \
            update.effective_user.id:
        await query.answer("Seule la personne qui a posé la question peut donner son avis sur la réponse.")
    elif action == "f" and state.get("kind") == "answer" and n in (0, 1):
        positive = n == 1
        shown = [p["source"] for p in state["cited"]]
        await asyncio.to_thread(context.assistant.record_feedback, state["question_id"],
                                update.effective_user.id, positive, shown)
        await query.answer("Merci pour votre avis !" if positive else "Merci : cela nous aide à améliorer le corpus.")
    else:
        await query.answer(EXPIRED, show_alert=True)


async def _site(query: Any, message: Message | None, wanted: str, context: BotContext) -> None:
    assistant = context.assistant
    found = await asyncio.to_thread(lambda: assistant.retriever.snapshot.sites())
    chosen = next((site for site in found if site_id(site.name) == wanted), None)
    if message is None or chosen is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    site = chosen
    result = await asyncio.to_thread(assistant.retriever.search, " ".join((site.name, site.subject)), 3, site.name)
    await _reply(message, render.site_html(site, [hit.passage for hit in result.hits]))


# admins


async def _refuse_non_admin(update: Update, context: BotContext) -> bool:
    if _is_admin(update, context):
        return False
    assert update.effective_message
    await update.effective_message.reply_text("Désolé, cette commande est réservée aux administrateurs du bot.")
    return True


class ChatProgress:
    """Ingestion progress, written by the ingestion thread and read by the event loop; while the embeddings are
    computed (the long stage), the line says how long is left at the pace so far (`clock` injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.stage, self.unit, self.done, self.total = "Préparation", "", 0, 0
        self._since = (0.0, 0)  # when the embedding stage began, and how many passages were done then

    def file_done(self, source: str, done: int, total: int) -> None:
        with self._lock:
            self.stage, self.unit, self.done, self.total = "Lecture des fichiers", "fichiers", done, total

    def embedded(self, done: int, total: int) -> None:
        with self._lock:
            if self.stage != "Calcul des embeddings":
                self._since = (self._clock(), done)
            self.stage, self.unit, self.done, self.total = "Calcul des embeddings", "passages", done, total

    def line(self) -> str:
        with self._lock:
            if not self.total:
                return f"Réindexation en cours — {self.stage}…"
            line = f"Réindexation en cours — {self.stage} : {self.done}/{self.total} {self.unit}"
            if self.stage == "Calcul des embeddings":
                started, done_then = self._since
                left = render.time_left(self.done - done_then, self.total - done_then, self._clock() - started)
                line += f" — {left}" if left else ""
            return line


async def _run_ingestion(status: Message, context: BotContext, work: Any, progress: ChatProgress,
                         failure: str = "Réindexation impossible") -> None:
    """Run `work` in a thread while the status message shows progress; then the summary."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    shown = status.text or ""
    while not task.done():
        await asyncio.wait({task}, timeout=1.0)
        if not context.application.running:  # stopping (SIGTERM): the run ends at its next file or batch
            context.assistant.stop_ingestion()
            continue
        line = progress.line()
        if not task.done() and line != shown:
            try:
                await status.edit_text(line)
                shown = line
            except BadRequest:
                pass  # an edit that changes nothing; the next one will do
    try:
        text = _ingest_summary(task.result())
    except IngestionStopped as error:
        log.info("ingestion stopped: %s", error)
        return  # the bot is stopping: no message to send
    except IndexFailure as error:
        text = f"{html.escape(failure)} : {html.escape(str(error))}"
    first, *rest = render.split_message(text)  # a long list of failed files goes on in new messages
    await status.edit_text(first, parse_mode=ParseMode.HTML)
    for piece in rest:
        await status.reply_text(piece, parse_mode=ParseMode.HTML)


def _ingest_summary(outcome: AddedDocument | IngestReport) -> str:
    lines = []
    report: IngestReport | None = outcome if isinstance(outcome, IngestReport) else outcome.report
    if isinstance(outcome, AddedDocument):
        if outcome.identical:
            lines.append(f"Document « {html.escape(render.shorten(outcome.name))} » déjà présent à l’identique : "
                         "rien à faire.")
        else:
            kept = (" (il remplace un fichier du même nom, dont l’ancienne version est gardée dans .remplaces/)"
                    if outcome.replaced else "")
            lines.append(f"Document « {html.escape(render.shorten(outcome.name))} » ajouté au corpus{kept}.")
    if report is not None:
        lines.append(html.escape(report.summary()))
        # a bounded line per failed file, and not hundreds of them in the chat: the bot's log has each one
        lines += [f"• Échec : {html.escape(render.shorten(source))} — {html.escape(render.shorten(reason, 300))}"
                  for source, reason in report.failed[:FAILURES_SHOWN]]
        if len(report.failed) > FAILURES_SHOWN:
            others = len(report.failed) - FAILURES_SHOWN
            lines.append(f"… et {others} autres fichiers en échec (voir le journal du bot).")
    return "\n".join(lines)


async def reingest(update: Update, context: BotContext) -> None:
    """Admins: re-run ingestion in the background; everyone keeps being answered."""
    if await _refuse_non_admin(update, context):
        return
    assert update.effective_message
    assistant = context.assistant
    if assistant.ingesting:
        await update.effective_message.reply_text("Une réindexation est déjà en cours.")
        return
    progress = ChatProgress()
    status = await update.effective_message.reply_text(progress.line())
    context.application.create_task(_run_ingestion(status, context, lambda: assistant.reingest(progress), progress),
                                    update=update)


async def document(update: Update, context: BotContext) -> None:
    """Admins: a sent file joins the corpus and is ingested."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    if message.chat.type != ChatType.PRIVATE and not _is_admin(update, context):
        return  # files shared in a group are not for the bot
    if await _refuse_non_admin(update, context):
        return
    sent = message.document
    limit = context.assistant.settings.max_upload_mb
    if sent.file_size and sent.file_size > limit * 1_048_576:
        await message.reply_text(f"Fichier refusé : {sent.file_size / 1_048_576:.1f} Mo, la limite est {limit} Mo.")
        return
    assistant = context.assistant
    if assistant.ingesting:
        await message.reply_text("Une réindexation est en cours : renvoyez le fichier dans un instant.")
        return
    await message.chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    file = await sent.get_file()
    data = bytes(await file.download_as_bytearray())
    progress = ChatProgress()
    status = await message.reply_text(f"Fichier « {sent.file_name or 'document'} » reçu, vérification…")
    name = sent.file_name or "document"
    context.application.create_task(
        _run_ingestion(status, context, lambda: assistant.add_document(name, data, progress), progress,
                       failure=f"Document « {name} » refusé, le corpus et l’index sont inchangés"), update=update)


async def stats(update: Update, context: BotContext) -> None:
    """Admins: questions per day, share answered, feedback, frequent unanswered questions."""
    if await _refuse_non_admin(update, context):
        return
    assert update.effective_message
    figures = await asyncio.to_thread(context.assistant.state.stats)
    share = f"{figures.answered / figures.questions:.0%}" if figures.questions else "—"
    lines = [f"<b>Statistiques</b>\nQuestions : {figures.questions}, avec réponse : {figures.answered} ({share})",
             f"Avis : 👍 {figures.thumbs_up} · 👎 {figures.thumbs_down}", "<b>Par jour</b>"]
    lines += [f"• {day} : {n} question(s), {ok} avec réponse" for day, n, ok in figures.days] or ["• aucune"]
    lines.append("<b>Questions sans réponse les plus fréquentes</b>")
    lines += [f"• « {html.escape(render.shorten(q))} » ({n})" for q, n in figures.unanswered] or ["• aucune"]
    lines.append("<b>Documents les plus cités</b>")
    lines += [f"• {html.escape(render.shorten(title))} ({n})" for title, n in figures.cited] or ["• aucun"]
    lines.append("<b>Dernières réponses jugées 👎</b>")
    for rated in figures.disliked:
        sources = " ; ".join(html.escape(render.shorten(f"{s.get('title', '')}, {s.get('page', '')}".strip(", ")))
                             for s in rated.sources[:3]) or "sans source"
        lines.append(f"• {rated.date} « {html.escape(render.shorten(rated.question))} » → {sources}")
    if not figures.disliked:
        lines.append("• aucune")
    lines.append("<i>Toutes les réponses notées : « vve feedback export ».</i>")
    await _reply(update.effective_message, "\n".join(lines))


# errors


async def domain_error(update: object, context: BotContext) -> bool:
    """A domain error (no index, unknown site…) becomes its French message; True when it was one."""
    error = context.error
    if not isinstance(error, IndexFailure) or not isinstance(update, Update):
        return False
    if update.callback_query:
        await update.callback_query.answer(str(error)[:200], show_alert=True)
    elif update.effective_message:
        await update.effective_message.reply_text(str(error)[:2000])  # plain text; 2000 characters fit 4096 units
    return True


async def error_handler(update: object, context: BotContext) -> None:
    """The one error handler: domain errors explained, anything else logged with its traceback and apologised for.

    A chat the bot may no longer write to (the user blocked it, the bot left the group) ends there: nothing to
    apologise to, nothing to retry."""
    if isinstance(context.error, Forbidden):
        chat = update.effective_chat if isinstance(update, Update) else None
        log.info("chat %s closed to the bot: %s", chat.id if chat else "?", context.error)
        return
    if isinstance(context.error, RetryAfter):  # logged by bot.pacing; an apology would be refused the same way
        return
    if await domain_error(update, context):
        log.info("refused: %s", context.error)
        return
    log.error("update failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(ERROR)
        except Exception:
            log.warning("could not tell the user about the error")


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS]
