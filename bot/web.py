"""The HTTP service (aiohttp): health, Prometheus metrics, the JSON search API, and the Telegram webhook.

Every error a client can cause is a 4xx with a French JSON message {"erreur": ...}; nothing a client sends gives a 500:
not a malformed body (JSON nested too deep, an unknown charset, a false gzip, a body that never ends), nor a request
line or headers over the limits, which aiohttp refuses before any route runs (`ServiceRunner` answers those).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from telegram import Update
from telegram.error import TelegramError

from bot import render
from bot.application import reach_bot_api
from bot.assistant import MAX_QUESTION_CHARS, Assistant, follow_index, use_worker_threads
from bot.metrics import CONTENT_TYPE
from bot.redact import redact_in_logs
from index.errors import IndexFailure, IndexFormatError, IndexNotFound, ModelMismatch, ModelUnavailable
from index.normalize import clean_input
from index.render_text import result_json

log = logging.getLogger(__name__)
UNAVAILABLE = (IndexNotFound, ModelMismatch, IndexFormatError, ModelUnavailable)  # 503: the service, not the request

ASSISTANT = web.AppKey("assistant", Assistant)
TELEGRAM = web.AppKey("telegram", object)  # the PTB Application in webhook mode, else absent
WEBHOOK_SECRET = web.AppKey("webhook_secret", str)
BODY_SECONDS = web.AppKey("body_seconds", float)
STARTED = web.AppKey("started", asyncio.Event)  # set once the model and the index are warm (or known missing)
MAX_BODY_BYTES = 16 * 1024
MAX_K = 50
WEBHOOK_BODY_BYTES = 1024 * 1024  # Telegram's updates, on the webhook route only
# The request line holds the query: 500 characters of 4-byte UTF-8, percent-encoded, are 6,000 bytes for `q`,
# as many for `ville`; a question at the limit must reach our own « trop long », not aiohttp's refusal.
MAX_LINE_BYTES = 16 * 1024
MAX_FIELD_BYTES = 8 * 1024  # one header; a different figure from the line's, to tell the two refusals apart

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ClientError(Exception):
    """A request the service refuses; becomes `status` with the French message."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close  # the body was left unread: the connection cannot carry another request


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"erreur": message}, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"})
_HTTP_MESSAGES = {
    404: "Adresse inconnue. Routes : /healthz, /metrics, /api/search, /api/ask.",
    405: "Méthode non autorisée pour cette adresse.",
    413: f"Corps de requête trop volumineux (limite : {MAX_BODY_BYTES // 1024} Ko).",
}


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Times each request by route and turns every refusal into French JSON."""
    started = time.perf_counter()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "inconnue"
    assistant = request.app[ASSISTANT]
    try:
        response = await handler(request)
    except ClientError as error:
        response = _error(error.status, error.message)
        if error.close:
            response.force_close()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = _error(error.status, _HTTP_MESSAGES.get(error.status, error.reason))
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("request %s %s failed", request.method, route)
        response = _error(500, "Une erreur interne est survenue ; elle a été consignée.")
    # a label set per value forever: the method a client invents must not add one (nor memory) per request
    method = request.method if request.method in _METHODS else "AUTRE"
    assistant.metrics.requests.labels(route, method, str(response.status)).inc()
    assistant.metrics.latency.labels(route).observe(time.perf_counter() - started)
    return response


def _authorised(request: web.Request) -> None:
    token = request.app[ASSISTANT].settings.api_token.value
    if not token:
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    # a header's bytes may be anything (aiohttp keeps undecodable ones as surrogates): compared, never a 500
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode("utf-8", "replace"),
                                                             token.encode("utf-8", "replace")):
        raise ClientError(401, "Jeton d'accès manquant ou invalide (en-tête Authorization: Bearer …).")


async def healthz(request: web.Request) -> web.Response:
    """200 only once the model is loaded and warm and the served index answers; 503 with the reason otherwise."""
    assistant = request.app[ASSISTANT]
    if not request.app[STARTED].is_set():
        return _unavailable("en cours de démarrage", "Chargement du modèle et de l’index ; réessayez dans un instant.")
    if assistant.failure:
        return _unavailable("indisponible", assistant.failure)
    try:
        snapshot = await asyncio.to_thread(lambda: assistant.retriever.snapshot)
    except UNAVAILABLE as error:
        return _unavailable("indisponible", str(error))
    manifest = snapshot.manifest
    return web.json_response({"status": "ok", "version": snapshot.version_dir.name, "model": manifest.model,
                              "documents": manifest.documents, "passages": manifest.passages,
                              "ingesting": assistant.ingesting}, dumps=_dumps)


def _unavailable(status: str, reason: str) -> web.Response:
    return web.json_response({"status": status, "raison": reason}, status=503, dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[ASSISTANT].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _query_text(raw: object, name: str) -> str:
    """The question as every layer can take it: validated, and cleaned before it joins a batch of queries."""
    if not isinstance(raw, str) or not raw.strip():
        raise ClientError(400, f"Paramètre « {name} » manquant : indiquez le texte à chercher.")
    if len(raw) > MAX_QUESTION_CHARS:
        raise ClientError(400, f"« {name} » est trop long ({len(raw)} caractères, limite {MAX_QUESTION_CHARS}).")
    cleaned = clean_input(raw).strip()
    if not cleaned:
        raise ClientError(400, f"Paramètre « {name} » manquant : indiquez le texte à chercher.")
    return cleaned


async def _read_json(request: web.Request, limit: int, invalid: str) -> Any:
    """The JSON body, read within `limit` bytes and the app's BODY_SECONDS; every failure is a ClientError.

    JSON is UTF-8 (RFC 8259, which defines no charset parameter): a declared charset is ignored, not trusted."""
    if request.content_length is not None and request.content_length > limit:
        raise ClientError(413, f"Corps de requête trop volumineux (limite : {_size(limit)}).", close=True)
    try:
        async with asyncio.timeout(request.app[BODY_SECONDS]):
            body = await request.clone(client_max_size=limit).read()
    except TimeoutError:
        request.content.feed_eof()  # nothing more is read from it: aiohttp must not wait for the rest either
        raise ClientError(408, "Corps de requête incomplet : il n’est pas arrivé à temps.", close=True) from None
    except web.HTTPRequestEntityTooLarge:
        raise ClientError(413, f"Corps de requête trop volumineux (limite : {_size(limit)}).", close=True) from None
    except web.RequestPayloadError:  # a body announced as gzip (or chunked) that is not
        request.content.feed_eof()  # else aiohttp reads it again after the answer, and logs the same error
        raise ClientError(400, "Corps de requête illisible : son encodage (Content-Encoding ou découpage) "
                               "ne correspond pas à son contenu.", close=True) from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested thousands deep
        raise ClientError(400, invalid) from None


def _size(limit: int) -> str:
    return f"{limit // 1_048_576} Mo" if limit >= 1_048_576 else f"{limit // 1024} Ko"


async def api_search(request: web.Request) -> web.Response:
    _authorised(request)
    query = _query_text(request.query.get("q"), "q")
    raw_k = request.query.get("k", "5")
    try:
        k = int(raw_k)
    except ValueError:
        raise ClientError(400, f"« k » doit être un nombre entier entre 1 et {MAX_K} (reçu : « {raw_k[:20]} »).") \
            from None
    if not 1 <= k <= MAX_K:
        raise ClientError(400, f"« k » doit être compris entre 1 et {MAX_K} (reçu : {k}).")
    site = request.query.get("ville", "").strip()
    assistant = request.app[ASSISTANT]
    try:
        result = await asyncio.to_thread(assistant.search, query, k, site)
    except UNAVAILABLE as error:
        raise ClientError(503, str(error)) from None
    except IndexFailure as error:
        raise ClientError(400, str(error)) from None
    return web.json_response(result_json(result), dumps=_dumps)


async def api_ask(request: web.Request) -> web.Response:
    _authorised(request)
    if request.content_type != "application/json":
        raise ClientError(415, "Envoyez du JSON (Content-Type: application/json) : {\"question\": \"…\"}.")
    body = await _read_json(request, MAX_BODY_BYTES, "Corps JSON invalide : attendu {\"question\": \"…\"}.")
    if not isinstance(body, dict):
        raise ClientError(400, "Corps JSON invalide : attendu un objet {\"question\": \"…\"}.")
    question = _query_text(body.get("question"), "question")
    conversation = body.get("conversation", "")
    if not isinstance(conversation, str) or len(conversation) > 100:
        raise ClientError(400, "« conversation » doit être un identifiant texte de 100 caractères au plus.")
    conversation = clean_input(conversation)
    assistant = request.app[ASSISTANT]
    try:
        answer, _ = await asyncio.to_thread(assistant.ask, question, 0, False,
                                            f"api:{conversation}" if conversation else "")
    except UNAVAILABLE as error:
        raise ClientError(503, str(error)) from None
    except IndexFailure as error:
        raise ClientError(400, str(error)) from None
    return web.json_response(render.answer_json(answer), dumps=_dumps)


async def telegram_webhook(request: web.Request) -> web.Response:
    """Updates from Telegram; refused with 403 before the body is read unless the secret header matches."""
    expected = request.app[WEBHOOK_SECRET]
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")):
        raise ClientError(403, "Jeton secret du webhook absent ou invalide.")
    data = await _read_json(request, WEBHOOK_BODY_BYTES, "Mise à jour illisible (JSON invalide).")
    application: Any = request.app[TELEGRAM]
    await application.update_queue.put(_update(data, application.bot))
    return web.json_response({"ok": True})


def _update(data: Any, bot: Any) -> Update:
    """A Telegram update from its JSON; a body of another shape is a 400, never a failure inside the bot."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(data["update_id"], bool):
        raise ClientError(400, "Mise à jour invalide : attendu un objet Update de Telegram avec son « update_id ».")
    try:
        return Update.de_json(data, bot)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:  # wrong types inside
        log.info("malformed webhook update %s refused: %s", data["update_id"], type(error).__name__)
        raise ClientError(400, "Mise à jour invalide : un champ n’a pas le type attendu par Telegram.") from None


def webhook_path(webhook_url: str) -> str:
    """The path Telegram will post to, taken from the public URL (the reverse proxy forwards it unchanged).

    >>> webhook_path("https://exemple.fr/vve/telegram"), webhook_path("https://exemple.fr")
    ('/vve/telegram', '/telegram')
    """
    return urlsplit(webhook_url).path.rstrip("/") or "/telegram"


async def _background(app: web.Application) -> Any:
    task = asyncio.create_task(_start(app))
    yield
    task.cancel()


async def _start(app: web.Application) -> None:
    """Warm the model and the index (the port already answers: /healthz says 503 meanwhile), register the webhook
    once questions can be answered, then follow the index."""
    assistant = app[ASSISTANT]
    use_worker_threads(asyncio.get_running_loop())
    try:
        await asyncio.to_thread(assistant.warm_up)
    except IndexFailure as error:  # served as 503 by /healthz until a version works
        log.warning("not ready: %s", error)
    except Exception:  # anything else too: the service must still start and follow the index until one works
        log.exception("warm-up failed")
        assistant.failure = assistant.failure or ("L'index ne répond pas (erreur consignée) : relancez "
                                                  "« vve ingest --full ».")
    app[STARTED].set()
    if TELEGRAM in app:
        try:
            await _register_webhook(app)
        except TelegramError as error:  # Telegram answered getMe a moment ago: say it, keep serving the rest
            log.error("webhook not registered, the bot gets no update: %s", error)
    await follow_index(assistant)


def build_web_app(assistant: Assistant, telegram_application: Any = None,
                  body_seconds: float = 10.0) -> web.Application:
    """The service; with `telegram_application` (webhook mode) it also receives the bot's updates.

    A request body not received within `body_seconds` is refused (408) and its connection closed. Serve it with
    `ServiceRunner` (or `serve`), which also answers malformed requests in French JSON."""
    settings = assistant.settings
    redact_in_logs(settings.token.value, settings.webhook_secret.value, settings.api_token.value)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[errors_and_metrics],
                          handler_args={"max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_FIELD_BYTES})
    app[ASSISTANT] = assistant
    app[BODY_SECONDS] = body_seconds
    app[STARTED] = asyncio.Event()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/search", api_search)
    app.router.add_post("/api/ask", api_ask)
    if telegram_application is not None:
        app[TELEGRAM] = telegram_application
        app[WEBHOOK_SECRET] = assistant.settings.webhook_secret.value or secrets.token_urlsafe(32)
        path = webhook_path(assistant.settings.webhook_url)
        app.router.add_post(path, telegram_webhook)
        app.cleanup_ctx.append(_telegram_lifecycle)  # first: the start task registers the webhook on a started bot
    app.cleanup_ctx.append(_background)
    return app


async def _telegram_lifecycle(app: web.Application) -> Any:
    """Start the bot without an updater; stop it on shutdown. The webhook is registered once warm (`_start`)."""
    application: Any = app[TELEGRAM]
    await reach_bot_api(app[ASSISTANT].settings)  # BotApiUnavailable stops the start with its French message
    await application.initialize()
    await application.start()
    yield
    await application.stop()
    await application.shutdown()


async def _register_webhook(app: web.Application) -> None:
    from bot import handlers

    application: Any = app[TELEGRAM]
    settings = app[ASSISTANT].settings
    await application.bot.set_my_commands(handlers.bot_commands())
    await application.bot.set_webhook(settings.webhook_url, secret_token=app[WEBHOOK_SECRET],
                                      allowed_updates=handlers.UPDATES)
    log.info("webhook registered for @%s", application.bot.username)


MAX_CONNECTIONS = 800  # open at once: below the 1,024 descriptors a process gets by default (the unit raises them)
HEADER_SECONDS = 10.0  # to send a request's line and headers once connected: a slow client cannot hold a connection
_THROTTLE_SECONDS = 10.0  # a fault repeated by the thousand is logged once per this interval


class _Throttled:
    """Log a repeated fault once per interval, with how many times it happened since."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def warning(self, key: str, message: str) -> None:
        now = time.monotonic()
        self._count[key] = self._count.get(key, 0) + 1
        if now - self._last.get(key, -_THROTTLE_SECONDS) >= _THROTTLE_SECONDS:
            log.warning("%s (%d fois depuis le dernier message)", message, self._count[key])
            self._last[key], self._count[key] = now, 0


_throttled = _Throttled()


class _FrenchRefusals(RequestHandler):
    """aiohttp's connection handler, answering what it refuses before any route runs (a request line or a header
    over the limits, a request that is not HTTP) in French JSON, without echoing the request; at most
    MAX_CONNECTIONS open (the next ones are closed at once), and a connection that has not sent its request's
    headers within HEADER_SECONDS is closed (slow clients starve nobody)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        self._counted = False
        if server is not None and getattr(server, "open_connections", 0) >= MAX_CONNECTIONS:
            _throttled.warning("cap", f"connexion refusée : {MAX_CONNECTIONS} connexions ouvertes (MAX_CONNECTIONS)")
            self._manager = None  # never registered: connection_lost has nothing to undo
            transport.close()
            return
        if server is not None:
            server.open_connections = getattr(server, "open_connections", 0) + 1  # type: ignore[attr-defined]
            self._counted = True
        super().connection_made(transport)
        self._header_timer = self._loop.call_later(HEADER_SECONDS, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        if self._request_count == 0 and self.transport is not None:
            _throttled.warning("slow", f"connexion fermée : en-têtes non reçus en {HEADER_SECONDS:.0f} s")
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if getattr(self, "_counted", False):
            server = self._manager
            if server is not None:
                server.open_connections -= 1  # type: ignore[attr-defined]
            self._header_timer.cancel()
            self._counted = False
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong) and exc.args[1:2] == (self.max_field_size,):
            status, text = 431, f"En-tête de requête trop long (limite : {self.max_field_size // 1024} Ko par en-tête)."
        elif isinstance(exc, LineTooLong):
            status, text = 414, (f"Adresse trop longue (limite : {self.max_line_size // 1024} Ko) : une question "
                                 f"compte {MAX_QUESTION_CHARS} caractères au plus.")
        else:
            text = "Requête HTTP mal formée."
        log.info("malformed request refused (%d): %s", status, type(exc).__name__)
        response = _error(status, text)
        response.force_close()
        return response


class _FrenchServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _FrenchRefusals(self, loop=self._loop, **self._kwargs)


class ServiceRunner(web.AppRunner):
    """An AppRunner whose connections answer malformed requests in French JSON (see `_FrenchRefusals`)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _FrenchServer  # the same server, only the class of its connection handlers changes
        return server


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Out of descriptors, the event loop fails every accept: one line per interval, not a traceback each
    (537,583 of them once filled 239 MB of log in 80 s)."""
    error = context.get("exception")
    if isinstance(error, OSError) and "accept" in str(context.get("message", "")):
        _throttled.warning("accept", f"connexion impossible à accepter ({error.strerror or error})")
        return
    loop.default_exception_handler(context)


def serve(app: web.Application, host: str, port: int, shutdown_timeout: float = 30.0) -> None:
    """Serve with `ServiceRunner` until SIGINT or SIGTERM; then stop accepting, let every request already received
    finish (up to `shutdown_timeout` seconds), run the clean-up (the bot's queue is emptied there), and return.

    The signals only set an event: the clean-up runs inside the serving coroutine, before anything is cancelled
    (aiohttp's own handling raises out of the loop, and asyncio.run then cancels the requests in flight)."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_accept_errors)
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        runner = ServiceRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            log.info("serving on http://%s:%d", host, port)
            await stop.wait()
            log.info("stopping: requests in flight are answered first")
        finally:
            await runner.cleanup()
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signal_number)

    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(run())
