"""Unicode normalisation of every text the index sees: extracted documents and questions alike.

One place, so that a word typed on macOS (decomposed accents, NFD) meets the same word extracted from a PDF (NFC).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TextIO

# Invisible characters that cut a word in two for the tokenisers without showing anything: zero-width space,
# non-joiner, joiner, word joiner, byte order mark (also used as a zero-width no-break space), the soft
# hyphen, which only marks where a word may be broken, the combining grapheme joiner, and the bidirectional
# marks and controls (which can also reverse how the rest of a line displays). No-break spaces (U+00A0, U+202F)
# stay: « 190 000 » is one number because of them.
_INVISIBLE = re.compile("[\u00ad\u034f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
# What a client can send but no text should hold: lone UTF-16 surrogates (JSON's "\ud800" decodes to one, and
# UTF-8, SQLite and the model all refuse it) and control characters other than tab and line breaks (NUL ends a
# C string).
_UNENCODABLE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """NFC composition, invisible characters removed; nothing else changes (case, spaces, punctuation).

    >>> normalize_text("re\\u0301ciprocite\\u0301"), normalize_text("co\\u00adhé\\u200bsion")
    ('réciprocité', 'cohésion')
    >>> normalize_text("190\\u202f000 habitants") == "190\\u202f000 habitants"
    True
    """
    if text.isascii():  # the common case, and a cheap test
        return text
    return unicodedata.normalize("NFC", _INVISIBLE.sub("", text))


def clean_input(text: str) -> str:
    """A text typed by a client made safe for every layer: lone surrogates become U+FFFD, control characters spaces.

    >>> clean_input("cohésion\\ud800 sociale\\x00"), clean_input("ligne\\nsuivante")
    ('cohésion\ufffd sociale ', 'ligne\\nsuivante')
    """
    return _CONTROL.sub(" ", _UNENCODABLE.sub("\ufffd", text))


MAX_LINE_CHARS = 2_000  # a line of standard input read at most: a question or a query is a sentence or two


def read_line(stream: TextIO, limit: int = MAX_LINE_CHARS) -> tuple[str, bool]:
    """One line of a text stream, read in bounded pieces: ("", False) at its end; (the line's first `limit`
    characters, True) when it is longer, the rest read and dropped without holding it (a 300 MB line in a pipe
    costs no memory).

    >>> import io
    >>> stream = io.StringIO("court\\n" + "x" * 50 + "\\nfin")
    >>> read_line(stream, 10), read_line(stream, 10)[1], read_line(stream, 10), read_line(stream, 10)
    (('court\\n', False), True, ('fin', False), ('', False))
    """
    line = stream.readline(limit + 1)
    if len(line) <= limit or line.endswith("\n"):
        return line, False
    while True:
        rest = stream.readline(65_536)
        if not rest or rest.endswith("\n"):
            return line[:limit], True
