"""The top floor: the Telegram bot, the console chat, the HTTP service and the `vve` command."""
