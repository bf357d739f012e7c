"""Warm search latency at 10 k and 100 k passages against the floor of the best components, measured in the same run.

    .venv/bin/python -m bench.search_latency [--sizes 10000 100000] [--queries 200] [--crossover]

Passages are made of real sentences: the sample corpus's sentences are embedded once with the configured model, and
each synthetic passage joins 3 to 6 of them drawn at random, its vector the normalised mean of theirs (a passage
vector is close to the mean of its sentences'; random vectors would have no neighbourhoods for HNSW to follow).
Queries are real questions embedded by the model at each search.

The floor of one query, built by this bench beside the index from the same terms and vectors: embedding the query
+ a FAISS search of 100 candidates (HNSW from `store.HNSW_FROM` passages, flat below) + bm25s scoring of the
query's analysed terms and its top 100, each run alone. The search is `Retriever.search(query, k=5)`: both sides,
synonyms, exact cosines of lexical candidates, fusion, the site a query names, passage fetch, confidence.
For the record of the choice, SQLite FTS5's ranked OR query (what the index used before) is timed too.
`--crossover` times flat against HNSW search from 1,000 to 100,000 passages and gives HNSW's recall@10 against flat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
import faiss
import numpy as np

from index import store
from index.config import index_settings_from_env
from index.embedder import Embedder, make_embedder
from index.lexical import analyze
from index.retriever import Retriever
from index.store import FORMAT_VERSION, Manifest, analysed, new_build_dir, swap_in, write_version
from index.types import Chunk, DocumentInfo
from ingest.chunk import split_sentences
from ingest.load import load_document

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = 100  # what the retriever asks each side for


def _questions() -> list[str]:
    questions = []
    for name in ("answers-dev.jsonl", "corpus-questions-dev.jsonl"):
        for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    return questions


def _sentences() -> list[str]:
    sentences = []
    for path in sorted((ROOT / "corpus").glob("*.pdf")):
        for paragraph in load_document(path, path.name, 10**9).paragraphs:
            sentences += [paragraph.text[a:b] for a, b in split_sentences(paragraph.text) if b - a > 30]
    return sorted(set(sentences))


class Synthetic:
    """`size` passages joining real sentences, with their analysed terms and vectors."""

    def __init__(self, sentences: list[str], sentence_vectors: np.ndarray, size: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.texts, self.terms, vectors = [], [], []
        for _ in range(size):
            chosen = rng.sample(range(len(sentences)), rng.randint(3, 6))
            self.texts.append(" ".join(sentences[i] for i in chosen))
            vectors.append(sentence_vectors[chosen].mean(axis=0))
        matrix = np.asarray(vectors, dtype=np.float32)
        self.vectors = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def write_index(self, index_dir: Path, model: str) -> None:
        documents, groups = [], []
        for start in range(0, len(self.texts), 100):
            source = f"doc-{start // 100:05d}.pdf"
            group = [analysed(Chunk(source, f"Section {n % 7}", n // 10 + 1, n // 10 + 1, 0, len(text), text),
                              f"Document {start}") for n, text in enumerate(self.texts[start:start + 100])]
            documents.append(DocumentInfo(source, f"Document {start}", "0" * 64, "pdf", 10, len(group), "now"))
            groups.append(group)
        self.terms = [passage.terms() for group in groups for passage in group]
        manifest = Manifest(FORMAT_VERSION, model, self.vectors.shape[1], 200, "now", len(documents), len(self.texts))
        build_dir = new_build_dir(index_dir)
        write_version(build_dir, manifest, documents, groups, self.vectors)
        swap_in(index_dir, build_dir)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _dense_floor(vectors: np.ndarray) -> tuple[faiss.Index, faiss.SearchParameters | None]:
    """The index the store builds for this size (store.dense_index), and its search parameters."""
    if len(vectors) >= store.HNSW_FROM:
        return store.dense_index(vectors, "hnsw"), faiss.SearchParametersHNSW(  # type: ignore[call-arg]
            efSearch=store.HNSW_EF_SEARCH)
    return store.dense_index(vectors, "flat"), None


def measure(data: Synthetic, index_dir: Path, embedder: Embedder, queries: list[str], count: int) -> None:
    retriever = Retriever(index_dir, embedder)
    retriever.refresh()
    dense, parameters = _dense_floor(data.vectors)
    bm25 = bm25s.BM25(**store.BM25_PARAMETERS)
    bm25.index(data.terms, show_progress=False)
    fts = sqlite3.connect(":memory:")
    fts.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    fts.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", [(n, " ".join(t)) for n, t in enumerate(data.terms)])
    fts.execute("INSERT INTO t(t) VALUES ('optimize')")
    fts.commit()

    faiss.omp_set_num_threads(1)  # searches on one thread, as IndexSnapshot.dense_search (see there)

    def floor(query: str) -> None:
        vector = embedder.embed_query(query)
        dense.search(vector.reshape(1, -1), CANDIDATES, params=parameters)
        ids = list(dict.fromkeys(bm25.vocab_dict[t] for t in analyze(query) if t in bm25.vocab_dict))
        scores = bm25.get_scores_from_ids(ids)
        top = np.argpartition(-scores, CANDIDATES)[:CANDIDATES]
        top[np.argsort(-scores[top])]

    def fts5(query: str) -> None:
        expression = " OR ".join(f'"{term}"' for term in dict.fromkeys(analyze(query)))
        fts.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?", (expression, CANDIDATES)).fetchall()

    for query in queries[:10]:  # warm caches
        floor(query)
        retriever.search(query)
    samples: dict[str, list[float]] = {"floor": [], "search": [], "embed": [], "dense": [], "bm25s": [], "fts5": []}
    for n in range(count):
        query = queries[n % len(queries)]
        samples["floor"].append(_timed(lambda: floor(query)))  # noqa: B023 - called at once
        samples["search"].append(_timed(lambda: retriever.search(query, k=5)))  # noqa: B023
        vector = embedder.embed_query(query)
        samples["embed"].append(_timed(lambda: embedder.embed_query(query)))  # noqa: B023
        samples["dense"].append(_timed(lambda: dense.search(vector.reshape(1, -1), CANDIDATES,  # noqa: B023
                                                            params=parameters)))
        terms = analyze(query)
        ids = list(dict.fromkeys(bm25.vocab_dict[t] for t in terms if t in bm25.vocab_dict))
        samples["bm25s"].append(_timed(lambda: bm25.get_scores_from_ids(ids)))  # noqa: B023
        samples["fts5"].append(_timed(lambda: fts5(query)))  # noqa: B023
    kind = "HNSW" if len(data.texts) >= store.HNSW_FROM else "flat"
    for name, label in (("embed", "query embedding"), ("dense", f"FAISS {kind}, {CANDIDATES} candidates"),
                        ("bm25s", "bm25s scoring"), ("fts5", "(FTS5 ranked OR query, for the record)")):
        p50, p95 = _percentiles(samples[name])
        print(f"  {label:<40} p50 {p50:7.2f} ms, p95 {p95:7.2f} ms")
    floor_p50, floor_p95 = _percentiles(samples["floor"])
    search_p50, search_p95 = _percentiles(samples["search"])
    print(f"  {'floor (embed + FAISS + bm25s top 100)':<40} p50 {floor_p50:7.2f} ms, p95 {floor_p95:7.2f} ms")
    print(f"  {'Retriever.search':<40} p50 {search_p50:7.2f} ms, p95 {search_p95:7.2f} ms")
    print(f"  ratio: p50 {search_p50 / floor_p50:.2f}x, p95 {search_p95 / floor_p95:.2f}x (goal: p50 within 1.3x)")
    fts.close()


def crossover(sentence_vectors: np.ndarray, query_vectors: np.ndarray, sizes: list[int], seed: int = 11) -> None:
    """Flat against HNSW search time (100 candidates) by size, HNSW's build time and recall@10 against flat."""
    print(f"HNSW M={store.HNSW_NEIGHBOURS}, efConstruction={store.HNSW_EF_CONSTRUCTION}, "
          f"efSearch={store.HNSW_EF_SEARCH}; {len(query_vectors)} queries, 100 candidates each")
    rng = np.random.default_rng(seed)
    biggest = max(sizes)
    mixes = [rng.choice(len(sentence_vectors), size=rng.integers(3, 7), replace=False) for _ in range(biggest)]
    all_vectors = np.asarray([sentence_vectors[mix].mean(axis=0) for mix in mixes], dtype=np.float32)
    all_vectors /= np.linalg.norm(all_vectors, axis=1, keepdims=True)
    for size in sizes:
        vectors = all_vectors[:size]
        flat = store.dense_index(vectors, "flat")
        started = time.perf_counter()
        hnsw = store.dense_index(vectors, "hnsw")
        build = time.perf_counter() - started
        parameters = faiss.SearchParametersHNSW(efSearch=store.HNSW_EF_SEARCH)  # type: ignore[call-arg]
        flat_times, hnsw_times, recall = [], [], []
        faiss.omp_set_num_threads(1)  # as IndexSnapshot.dense_search searches; builds keep every core
        for query in query_vectors:
            query = query.reshape(1, -1)
            flat_times.append(_timed(lambda: flat.search(query, CANDIDATES)))  # noqa: B023
            hnsw_times.append(_timed(lambda: hnsw.search(query, CANDIDATES, params=parameters)))  # noqa: B023
            exact = set(flat.search(query, 10)[1][0].tolist())
            recall.append(len(exact & set(hnsw.search(query, 10, params=parameters)[1][0].tolist())) / 10)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        flat_p50, _ = _percentiles(flat_times)
        hnsw_p50, _ = _percentiles(hnsw_times)
        print(f"  {size:>7} passages: flat p50 {flat_p50:6.2f} ms, HNSW p50 {hnsw_p50:6.2f} ms "
              f"(flat/HNSW {flat_p50 / hnsw_p50:5.1f}x), HNSW build {build:5.1f} s, "
              f"recall@10 {statistics.mean(recall):.4f} (min {min(recall):.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--crossover", action="store_true", help="flat against HNSW by size, and recall@10")
    args = parser.parse_args(argv)
    embedder = make_embedder(index_settings_from_env())
    sentences = _sentences()
    started = time.perf_counter()
    sentence_vectors = embedder.embed_passages(sentences)
    print(f"{len(sentences)} sentences of the sample corpus embedded in {time.perf_counter() - started:.1f} s "
          f"({embedder.name}); HNSW from {store.HNSW_FROM} passages")
    queries = _questions()
    if args.crossover:
        crossover(sentence_vectors, embedder.embed_queries(queries),
                  [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000])
        return 0
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            started = time.perf_counter()
            data = Synthetic(sentences, sentence_vectors, size)
            data.write_index(Path(work), embedder.name)
            print(f"{size} passages (index built in {time.perf_counter() - started:.1f} s):")
            measure(data, Path(work), embedder, queries, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
