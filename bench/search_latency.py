"""Warm search latency at 10 k and 100 k passages against its lower bound measured in the same run.

    .venv/bin/python -m bench.search_latency [--sizes 10000 100000] [--queries 200]

Passages are synthetic French sentences drawn from the sample corpus's vocabulary; their vectors are random unit
vectors (embedding 100 k passages on 2 cores would take most of an hour, and FAISS's cost does not depend on the
values). Queries are real: embedded by the packaged model. The lower bound of one query is embedding it + the FAISS
search + the lexical search, each run alone; the search is `Retriever.search` (both plus fusion and passage fetch).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.config import index_settings_from_env
from index.embedder import Embedder, make_embedder
from index.lexical import analyze
from index.retriever import Retriever
from index.store import FORMAT_VERSION, IndexSnapshot, Manifest, analysed, new_build_dir, swap_in, write_version
from index.types import Chunk, DocumentInfo
from ingest.load import load_document

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["Quand le Comptoir citoyen a-t-il ouvert ?", "observation partagée Bordeaux", "réciprocité Angers",
           "politique jeunesse Valenciennes", "préconisations services déconcentrés de l’État",
           "Qui a fondé l’Odas ?", "ateliers citoyens Le Havre", "street workout Strasbourg"]


def _vocabulary() -> list[str]:
    words: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.pdf")):
        document = load_document(path, path.name, 10**9)
        for paragraph in document.paragraphs:
            words.extend(re.findall(r"\S+", paragraph.text))
    return words


def build(index_dir: Path, size: int, dimension: int, model: str, seed: int = 7) -> None:
    rng = random.Random(seed)
    words = _vocabulary()
    documents, groups = [], []
    per_document = 100
    for start in range(0, size, per_document):
        source = f"doc-{start // per_document:05d}.pdf"
        group = []
        for n in range(min(per_document, size - start)):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(60, 110)))
            group.append(analysed(Chunk(source, f"Section {n % 7}", n // 10 + 1, n // 10 + 1, 0, len(text), text),
                                  f"Document {start}"))
        documents.append(DocumentInfo(source, f"Document {start}", "0" * 64, "pdf", 10, len(group), "now"))
        groups.append(group)
    vectors = np.random.default_rng(seed).standard_normal((size, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = Manifest(FORMAT_VERSION, model, dimension, 200, "now", len(documents), size)
    build_dir = new_build_dir(index_dir)
    write_version(build_dir, manifest, documents, groups, vectors)
    swap_in(index_dir, build_dir)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def measure(index_dir: Path, embedder: Embedder, queries: int) -> None:
    retriever = Retriever(index_dir, embedder)
    snapshot: IndexSnapshot = retriever.snapshot
    weights = retriever.weights
    for query in QUERIES:  # warm caches
        retriever.search(query)
    bound, full = [], []
    for n in range(queries):
        query = QUERIES[n % len(QUERIES)]
        started = time.perf_counter()
        vector = embedder.embed_query(query)
        snapshot.dense_search(vector, weights.candidates)
        snapshot.lexical_search(analyze(query), weights.candidates)
        bound.append(time.perf_counter() - started)
        started = time.perf_counter()
        retriever.search(query, k=5)
        full.append(time.perf_counter() - started)
    bound_p50, bound_p95 = _percentiles(bound)
    full_p50, full_p95 = _percentiles(full)
    print(f"  lower bound (embed + FAISS + lexical): p50 {bound_p50 * 1000:.1f} ms, p95 {bound_p95 * 1000:.1f} ms")
    print(f"  search:                                p50 {full_p50 * 1000:.1f} ms, p95 {full_p95 * 1000:.1f} ms")
    print(f"  ratio: p50 {full_p50 / bound_p50:.2f}x, p95 {full_p95 / bound_p95:.2f}x (goal: within 1.3x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    embedder = make_embedder(index_settings_from_env())
    dimension = embedder.dimension
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            started = time.perf_counter()
            build(Path(work), size, dimension, embedder.name)
            print(f"{size} passages (index built in {time.perf_counter() - started:.1f} s):")
            measure(Path(work), embedder, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
