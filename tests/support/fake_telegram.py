"""A Bot API server of our own, on 127.0.0.1, for end-to-end tests of the real python-telegram-bot Application.

It implements the methods the bot calls and lets tests act as users (messages, commands, mentions, button presses,
document uploads). It enforces the documented rules a bot can break: text over 4096 UTF-16 units, HTML that does
not parse, callback data over 64 bytes, and floods (429 with retry_after).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                 "span", "blockquote", "tg-emoji"}
_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_JSON_FIELDS = {"results", "button", "reply_markup", "entities", "allowed_updates", "commands", "link_preview_options",
                "reply_parameters", "scope"}


class TelegramError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


class _TelegramHTML(HTMLParser):
    """Telegram's HTML subset: known tags, properly nested; returns the text a user would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise TelegramError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise TelegramError(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> str:
    if _ENTITY.search(text):
        raise TelegramError(400, "Bad Request: can't parse entities: Character '&' is reserved")
    if re.search(r"<(?![a-zA-Z/])", text):
        raise TelegramError(400, "Bad Request: can't parse entities: Character '<' is reserved")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise TelegramError(400, f"Bad Request: can't parse entities: Can't find end tag corresponding to start "
                                 f"tag \"{parser.stack[-1]}\"")
    return "".join(parser.text)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    error: str = ""
    _visible: str | None = field(default=None, repr=False)

    @property
    def visible(self) -> str:
        """The text a user sees (HTML parsed once; many waiters scan the same calls)."""
        if self._visible is None:
            text = str(self.params.get("text", ""))
            try:
                html = str(self.params.get("parse_mode", "")).upper() == "HTML"
                self._visible = parse_html(text) if html else text
            except TelegramError:
                self._visible = text
        return self._visible


@dataclass
class SentMessage:
    message_id: int
    chat_id: int
    text: str  # as the user sees it
    html: str  # as the bot sent it
    reply_markup: dict[str, Any] | None

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button(self, label: str) -> dict[str, Any]:
        for button in self.buttons():
            if button["text"] == label:
                return button
        raise AssertionError(f"no button {label!r} in {[b['text'] for b in self.buttons()]}")


class FakeTelegram:
    def __init__(self, token: str, bot_id: int = 4242, username: str = "vve_test_bot",
                 flood_limit: int | None = None, telegram_rates: bool = False) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.flood_limit = flood_limit  # messages per chat per second before a 429
        # Telegram's documented rates, each a 429 beyond: 30 messages/s overall, about 1/s in a private chat
        # (a short burst tolerated: 6 in any 5 s), 20/min in a group
        self.telegram_rates = telegram_rates
        self._all_sent: list[float] = []
        self.calls: list[Call] = []
        self.sent: dict[tuple[int, int], SentMessage] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.refused: list[tuple[str, str]] = []
        self.webhook: dict[str, Any] = {}
        self.blocked: set[int] = set()  # chats whose user blocked the bot: sending there is a 403
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._recent: dict[int, list[float]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # server

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        app.router.add_post("/_control/{action}", self._control)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _control(self, request: web.Request) -> web.Response:
        """Acting as users from another process (the latency bench runs the bot as a real `vve bot`)."""
        body = await request.json()
        action = request.match_info["action"]
        if action == "mark":
            return web.json_response({"mark": self.mark()})
        if action == "say":
            await self.say(int(body["user"]), str(body["text"]))
            return web.json_response({"ok": True})
        if action == "reply":
            try:
                message = await self.reply_to(int(body["chat"]), int(body["since"]), float(body.get("timeout", 60)),
                                              str(body.get("contains", "")))
            except AssertionError as error:
                return web.json_response({"error": str(error)[:500]}, status=504)
            return web.json_response({"text": message.text})
        if action == "ready":
            ready = any(call.method == "getUpdates" for call in self.calls)
            return web.json_response({"ready": ready})
        return web.json_response({"error": "unknown action"}, status=404)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data)
        return web.Response(status=404)

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        try:
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise TelegramError(404, "Not Found: method not found")
            result = await handler(params)
        except TelegramError as error:
            call.error = error.description
            self.refused.append((method, error.description))
            await self._record(call)
            body: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return web.json_response(body, status=error.status)
        await self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw: dict[str, Any] = await request.json()
            return raw
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):
                continue
            params[key] = json.loads(value) if key in _JSON_FIELDS else value
        return params

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # methods

    def _me(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Assistant VVE", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self._me()

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._check_blocked(int(params["chat_id"]))
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(params.get("text", "")) > 200:
            raise TelegramError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        results = params.get("results", [])
        results = json.loads(results) if isinstance(results, str) else results
        if len(results) > 50:
            raise TelegramError(400, "Bad Request: RESULTS_TOO_MUCH")
        for result in results:
            content = result.get("input_message_content", {})
            text = content.get("message_text", "")
            if len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
                raise TelegramError(400, "Bad Request: MESSAGE_TOO_LONG")
            if str(content.get("parse_mode", "")).upper() == "HTML":
                parse_html(text)  # raises on malformed HTML, as Telegram refuses it
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline:
                    return list(self._updates[: int(params.get("limit") or 100)])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())

    def _check_flood(self, chat_id: int) -> None:
        if self.telegram_rates:
            self._check_telegram_rates(chat_id)
        if self.flood_limit is None:
            return
        now = time.monotonic()
        recent = [t for t in self._recent.get(chat_id, []) if t > now - 1.0]
        if len(recent) >= self.flood_limit:
            self._recent[chat_id] = recent
            raise TelegramError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._recent[chat_id] = [*recent, now]

    def _check_telegram_rates(self, chat_id: int) -> None:
        now = time.monotonic()
        window, most = (60.0, 20) if chat_id < 0 else (5.0, 6)
        chat = [t for t in self._recent.get(chat_id, []) if t > now - window]
        overall = [t for t in self._all_sent if t > now - 1.0]
        if len(overall) >= 30:
            self._all_sent = overall
            raise TelegramError(429, "Too Many Requests: retry after 1", retry_after=1)
        if len(chat) >= most:
            self._recent[chat_id] = chat
            wait = max(1, int(chat[0] + window - now) + 1)
            raise TelegramError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self._recent[chat_id] = [*chat, now]
        self._all_sent = [*overall, now]

    def _check_markup(self, markup: dict[str, Any] | None) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                    raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _visible(self, params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        visible = parse_html(text) if str(params.get("parse_mode", "")).upper() == "HTML" else text
        if not visible.strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        if len(visible.encode("utf-16-le")) // 2 > TEXT_LIMIT:  # Telegram counts UTF-16 code units
            raise TelegramError(400, "Bad Request: message is too long")
        return visible

    def _check_blocked(self, chat_id: int) -> None:
        if chat_id in self.blocked:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        self._check_blocked(chat_id)
        visible = self._visible(params)
        self._check_markup(params.get("reply_markup"))
        self._check_flood(chat_id)
        message = SentMessage(next(self._message_ids), chat_id, visible, str(params["text"]),
                              params.get("reply_markup"))
        self.sent[(chat_id, message.message_id)] = message
        return self._message_json(message)

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self.sent.get((chat_id, message_id))
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        visible = self._visible(params)
        self._check_markup(params.get("reply_markup"))
        if self.telegram_rates:
            self._check_telegram_rates(chat_id)
        if visible == message.text and params.get("reply_markup") == message.reply_markup:
            raise TelegramError(400, "Bad Request: message is not modified: specified new message content and "
                                     "reply markup are exactly the same as a current content and reply markup")
        message.text, message.html, message.reply_markup = visible, str(params["text"]), params.get("reply_markup")
        return self._message_json(message)

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise TelegramError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"message_id": message.message_id, "date": int(time.time()),
                                "chat": self._chat(message.chat_id), "from": self._me(), "text": message.text}
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    # acting as users

    @staticmethod
    def _chat(chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Utilisateur {chat_id}"}
        if chat_id <= -1_000_000_000_000:  # Telegram's channel and supergroup ids start at -100…
            return {"id": chat_id, "type": "channel", "title": "Canal de l’équipe"}
        return {"id": chat_id, "type": "group", "title": "Groupe de travail"}

    @staticmethod
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"Utilisateur {user_id}", "language_code": "fr"}

    async def _push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def _incoming(self, user_id: int, chat_id: int | None) -> dict[str, Any]:
        chat = chat_id if chat_id is not None else user_id
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat(chat),
                "from": self.user(user_id)}

    async def say(self, user_id: int, text: str, chat_id: int | None = None,
                  reply_to: SentMessage | None = None) -> dict[str, Any]:
        """A user types `text`; commands and @mentions get their entities as Telegram would add them."""
        message = self._incoming(user_id, chat_id)
        message["text"] = text
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        for match in re.finditer(r"@\w+", text):
            entities.append({"type": "mention", "offset": match.start(), "length": len(match.group())})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self._message_json(reply_to)
        return await self._push("message", message)

    async def say_through_webhook(self, user_id: int, text: str, reachable_at: str,
                                  secret: str | None = None) -> int:
        """Deliver a user's message as Telegram does in webhook mode: POST the update to the URL the bot registered
        (its path, at `reachable_at`: the bot's local address stands in for the public one), with the secret
        token it registered (or `secret`). Returns the HTTP status the bot answered."""
        from urllib.parse import urlsplit

        import aiohttp

        message = self._incoming(user_id, None)
        message["text"] = text
        update = {"update_id": next(self._update_ids), "message": message}
        token = self.webhook.get("secret_token", "") if secret is None else secret
        url = reachable_at.rstrip("/") + urlsplit(str(self.webhook["url"])).path
        async with aiohttp.ClientSession() as session, session.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": token}) as response:
            return response.status

    async def post_in_channel(self, channel_id: int, text: str) -> dict[str, Any]:
        """A post in a channel where the bot is an administrator: a `channel_post`, with no sender."""
        post = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat(channel_id),
                "sender_chat": self._chat(channel_id), "text": text}
        return await self._push("channel_post", post)

    async def edit(self, user_id: int, original: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits a message sent earlier (`original` is the update `say` returned): an `edited_message`."""
        message = {**original["message"], "text": text, "edit_date": int(time.time())}
        return await self._push("edited_message", message)

    async def send_media(self, user_id: int, kind: str, chat_id: int | None = None) -> dict[str, Any]:
        """A message without text: kind is sticker, photo, voice or location."""
        message = self._incoming(user_id, chat_id)
        file = {"file_id": f"{kind}1", "file_unique_id": f"u{kind}1"}
        message[kind] = {
            "sticker": {**file, "type": "regular", "width": 512, "height": 512, "is_animated": False,
                        "is_video": False},
            "photo": [{**file, "width": 90, "height": 90}],
            "voice": {**file, "duration": 3},
            "location": {"latitude": 47.47, "longitude": -0.55},
        }[kind]
        return await self._push("message", message)

    async def press(self, user_id: int, message: SentMessage, label: str) -> str:
        """A user taps the button labelled `label` under a message the bot sent; returns the callback id."""
        data = message.button(label)["callback_data"]
        return await self.press_data(user_id, message, data)

    async def inline(self, user_id: int, query: str) -> str:
        """A user types `@bot query` in any chat: an inline query (Telegram sends one per keystroke)."""
        inline_id = str(next(self._callback_ids))
        await self._push("inline_query", {"id": inline_id, "from": self.user(user_id), "query": query,
                                          "offset": ""})
        return inline_id

    async def press_data(self, user_id: int, message: SentMessage, data: str) -> str:
        callback_id = str(next(self._callback_ids))
        await self._push("callback_query", {"id": callback_id, "from": self.user(user_id), "data": data,
                                            "chat_instance": "1", "message": self._message_json(message)})
        return callback_id

    async def upload(self, user_id: int, file_name: str, data: bytes, mime_type: str = "application/pdf",
                     chat_id: int | None = None) -> dict[str, Any]:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}", data)
        message = self._incoming(user_id, chat_id)
        message["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                               "mime_type": mime_type, "file_size": len(data)}
        return await self._push("message", message)

    # waiting for the bot

    async def wait_for(self, test: Callable[[Call], bool], timeout: float = 60.0, since: int = 0) -> Call:
        """The first call (from index `since`) that passes `test`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                for call in self.calls[since:]:
                    if test(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, str(c.params.get("text", ""))[:60], c.error) for c in self.calls[since:]]
                    raise AssertionError(f"the bot did not make the expected call; calls: {seen}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def reply_to(self, chat_id: int, since: int, timeout: float = 60.0,
                       contains: str = "") -> SentMessage:
        """The next message the bot sends to `chat_id` (after call index `since`), optionally holding `contains`."""
        def wanted(call: Call) -> bool:
            if call.method != "sendMessage" or call.error or int(call.params["chat_id"]) != chat_id:
                return False
            return contains in call.visible

        call = await self.wait_for(wanted, timeout, since)
        return self._find_sent(chat_id, str(call.params["text"]))

    def _find_sent(self, chat_id: int, raw: str) -> SentMessage:
        for message in reversed(list(self.sent.values())):
            if message.chat_id == chat_id and message.html == raw:
                return message
        raise AssertionError("message not stored")

    def mark(self) -> int:
        """The index of the next call: pass it as `since` to wait only for what follows."""
        return len(self.calls)


def main(argv: list[str] | None = None) -> int:
    """Run the server alone: python -m tests.support.fake_telegram --port 8081 --token 123:ABC"""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--telegram-rates", action="store_true", help="answer 429 beyond Telegram's rates")
    args = parser.parse_args(argv)

    async def serve() -> None:
        server = FakeTelegram(args.token, telegram_rates=args.telegram_rates)
        await server.start(args.port)
        await asyncio.Event().wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
