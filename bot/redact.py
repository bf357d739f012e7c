"""Secrets never reach a log line: every log record is rewritten with the known secrets masked.

Libraries log URLs that hold the bot token (httpx: https://api.telegram.org/bot<token>/getUpdates); silencing them
is not enough when someone turns on debug logging, so the record factory masks the secrets for every handler.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "**********"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """Mask every registered secret in `text`."""
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def redact_in_logs(*secrets: str) -> None:
    """Register secrets (empty ones are ignored) and install the masking record factory once per process."""
    global _installed
    with _lock:
        _secrets.update(secret for secret in secrets if len(secret) >= 8)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _secrets:
                message = record.getMessage()
                masked = redact(message)
                if masked != message:
                    record.msg, record.args = masked, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
