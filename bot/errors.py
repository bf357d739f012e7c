"""Errors of the bot floor that end a command: each carries a French message for the person at the console."""


class BotApiUnavailable(Exception):
    """Telegram's Bot API cannot be reached (no network, a wrong TELEGRAM_API_BASE_URL) or refuses the token.

    `vve bot` and `vve serve` (webhook mode) print the message on one line and exit with EXIT_CODE."""

    EXIT_CODE = 4
