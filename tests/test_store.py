"""The index on disk: the BM25 matrix (bm25s), the dense index (FAISS flat or HNSW), what a damaged file gives."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from index import store
from index.errors import IndexFormatError
from index.lexical import analyze
from index.store import FORMAT_VERSION, IndexSnapshot, Manifest, analysed, new_build_dir, swap_in, write_version
from index.types import Chunk, DocumentInfo

TEXTS = {  # source -> (site, passages)
    "angers.md": ("Angers", ["Le Comptoir citoyen ouvre ses portes.", "La réciprocité et les échanges de savoirs.",
                             "Les habitants du quartier organisent un repas."]),
    "bordeaux.md": ("Bordeaux", ["La Pactotec observe les quartiers.", "Un repas partagé au centre social.",
                                 "Réciprocité, réciprocité : le mot revient."]),
}


def _build(index_dir: Path, vectors: np.ndarray | None = None, extra: int = 0) -> Manifest:
    documents, groups = [], []
    texts = {source: (site, list(passages)) for source, (site, passages) in TEXTS.items()}
    texts["autres.md"] = ("", [f"Passage numéro {n} sur la cohésion sociale." for n in range(extra)])
    for source, (site, passages) in texts.items():
        group = [analysed(Chunk(source, "Section", 1, 1, 0, len(text), text), source.removesuffix(".md"))
                 for text in passages]
        documents.append(DocumentInfo(source, source, "0" * 64, "md", 1, len(group), "now", site))
        groups.append(group)
    total = sum(len(group) for group in groups)
    if vectors is None:
        vectors = np.random.default_rng(3).standard_normal((total, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    build_dir = new_build_dir(index_dir)
    manifest = write_version(build_dir, Manifest(FORMAT_VERSION, "m", 8, 200, "now", len(documents), total),
                             documents, groups, vectors)
    swap_in(index_dir, build_dir)
    return manifest


@pytest.fixture
def snapshot(tmp_path):
    _build(tmp_path)
    opened = IndexSnapshot.open(tmp_path)
    yield opened
    opened.close()


def test_bm25_ranks_like_the_formula_and_counts_a_repeated_query_term_once(snapshot):
    rows = snapshot.lexical_search([*analyze("réciprocité réciprocité inconnu"), ""], 10)
    # two passages hold « réciprocité »: the one that says it three times in a short passage comes first
    assert [row for row, _ in rows] == [5, 1]
    # Robertson's BM25 (k1 1.2, b 0.75) on title + section + body, as bm25s computes it (without the k1 + 1 factor)
    lengths = [len(f"{t.title_terms} {t.section_terms} {t.body_terms}".split())
               for t in [analysed(Chunk("s", "Section", 1, 1, 0, 1, text), source.removesuffix(".md"))
                         for source, (_, texts) in TEXTS.items() for text in texts]]
    average = sum(lengths) / len(lengths)
    idf = math.log((6 - 2 + 0.5) / (2 + 0.5))
    expected = idf * 2 / (2 + 1.2 * (0.25 + 0.75 * lengths[5] / average))
    assert rows[0][1] == pytest.approx(expected, rel=1e-5)
    assert snapshot.lexical_search(analyze("inconnu"), 10) == []
    assert snapshot.lexical_search([], 10) == []


def test_lexical_and_dense_search_keep_to_one_site(snapshot):
    assert [row for row, _ in snapshot.lexical_search(analyze("repas"), 10, site="bordeaux")] == [4]
    assert [row for row, _ in snapshot.lexical_search(analyze("repas"), 10)] in ([2, 4], [4, 2])
    query = snapshot.reconstruct([1])[0]
    assert snapshot.dense_search(query, 2, snapshot.site_rows("Angers"))[0][0] == 1
    assert {row for row, _ in snapshot.dense_search(query, 10, snapshot.site_rows("Bordeaux"))} == {3, 4, 5}


def test_vocabulary_counts_passages_per_term(snapshot):
    assert snapshot.vocabulary[analyze("réciprocité")[0]] == 2
    assert snapshot.vocabulary[analyze("repas")[0]] == 2
    assert snapshot.vocabulary["section"] == 6  # every passage's section
    assert "" not in snapshot.vocabulary


def test_large_versions_use_hnsw_with_the_same_neighbours_as_flat(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "HNSW_FROM", 100)
    vectors = np.random.default_rng(5).standard_normal((306, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert _build(tmp_path / "hnsw", vectors, extra=300).dense_index == "hnsw"
    monkeypatch.setattr(store, "HNSW_FROM", 10_000)
    assert _build(tmp_path / "flat", vectors, extra=300).dense_index == "flat"
    hnsw, flat = IndexSnapshot.open(tmp_path / "hnsw"), IndexSnapshot.open(tmp_path / "flat")
    try:
        assert (hnsw.reconstruct([7, 300]) == vectors[[7, 300]]).all()
        found = 0
        for query in vectors[:20]:
            exact = {row for row, _ in flat.dense_search(query, 10)}
            found += len(exact & {row for row, _ in hnsw.dense_search(query, 10)})
        assert found >= 0.95 * 200  # recall@10 on 306 random 8-d vectors; measured at scale in bench.search_latency
    finally:
        hnsw.close()
        flat.close()


def test_no_file_of_a_version_needs_pickle(tmp_path):
    _build(tmp_path)
    version = store.current_version(tmp_path)
    for path in (version / store.BM25_DIR).glob("*.npy"):
        np.load(path, allow_pickle=False)  # raises on an object array
    assert {path.suffix for path in (version / store.BM25_DIR).iterdir()} <= {".npy", ".json"}


def _edit_json(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")


DAMAGES = {  # what a damaged or hand-edited BM25 folder may hold (found by an attack on the index's files)
    "truncated indptr": lambda folder: (folder / "indptr.csc.index.npy").write_bytes(
        (folder / "indptr.csc.index.npy").read_bytes()[:10]),
    "truncated vocabulary": lambda folder: (folder / "vocab.index.json").write_text("{", encoding="utf-8"),
    "truncated parameters": lambda folder: (folder / "params.index.json").write_text("{", encoding="utf-8"),
    "vocabulary of null": lambda folder: (folder / "vocab.index.json").write_text("null", encoding="utf-8"),
    "ids past the matrix": lambda folder: _edit_json(folder / "vocab.index.json",
                                                     lambda vocabulary: {t: i + 1000 for t, i in vocabulary.items()}),
    "ids as strings": lambda folder: _edit_json(folder / "vocab.index.json",
                                                lambda vocabulary: {t: str(i) for t, i in vocabulary.items()}),
    "parameters of null": lambda folder: (folder / "params.index.json").write_text("null", encoding="utf-8"),
    "another backend": lambda folder: _edit_json(folder / "params.index.json", lambda p: {**p, "backend": "numba"}),
    "another dtype": lambda folder: _edit_json(folder / "params.index.json", lambda p: {**p, "dtype": "garbage"}),
    "passages as text": lambda folder: _edit_json(folder / "params.index.json", lambda p: {**p, "num_docs": "6"}),
    "passage ids past the corpus": lambda folder: np.save(folder / "indices.csc.index.npy",
                                                          np.load(folder / "indices.csc.index.npy") + 5000),
    "columns out of order": lambda folder: np.save(folder / "indptr.csc.index.npy",
                                                   np.load(folder / "indptr.csc.index.npy")[::-1].copy()),
    "infinite scores": lambda folder: np.save(folder / "data.csc.index.npy",
                                              np.full_like(np.load(folder / "data.csc.index.npy"), np.inf)),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_bm25_folder_is_named_in_french(tmp_path, damage):
    _build(tmp_path)
    DAMAGES[damage](store.current_version(tmp_path) / store.BM25_DIR)
    with pytest.raises(IndexFormatError, match=r"BM25.*vve ingest --full"):
        IndexSnapshot.open(tmp_path)


def test_a_faiss_file_of_another_kind_is_named_in_french(tmp_path):
    import faiss

    _build(tmp_path)
    other = faiss.IndexFlatL2(8)
    other.add(np.zeros((6, 8), dtype=np.float32))
    faiss.write_index(other, str(store.current_version(tmp_path) / "vectors.faiss"))
    with pytest.raises(IndexFormatError, match="IndexFlatL2"):
        IndexSnapshot.open(tmp_path)


def test_vectors_that_are_not_finite_are_named_in_french(tmp_path):
    vectors = np.full((6, 8), np.nan, dtype=np.float32)
    _build(tmp_path, vectors)
    with pytest.raises(IndexFormatError, match="non finies"):
        IndexSnapshot.open(tmp_path)


def test_a_terms_table_that_lost_rows_is_named_in_french(tmp_path):
    import sqlite3

    _build(tmp_path)
    database = store.current_version(tmp_path) / "passages.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM passage_terms WHERE row > 2")
    with pytest.raises(IndexFormatError, match=r"passages\.sqlite"):
        IndexSnapshot.open(tmp_path)


def test_an_empty_version_opens_and_finds_nothing(tmp_path):
    build_dir = new_build_dir(tmp_path)
    write_version(build_dir, Manifest(FORMAT_VERSION, "m", 8, 200, "now", 0, 0), [], [],
                  np.zeros((0, 8), dtype=np.float32))
    swap_in(tmp_path, build_dir)
    snapshot = IndexSnapshot.open(tmp_path)
    try:
        assert snapshot.lexical_search(analyze("repas"), 5) == [] and snapshot.vocabulary == {}
        assert snapshot.dense_search(np.ones(8, dtype=np.float32), 5) == []
    finally:
        snapshot.close()


def test_passages_without_any_term_make_a_version_that_finds_nothing(tmp_path):
    chunk = Chunk("vide.md", "", 1, 1, 0, 3, "… ! ?")
    build_dir = new_build_dir(tmp_path)
    write_version(build_dir, Manifest(FORMAT_VERSION, "m", 8, 200, "now", 1, 1),
                  [DocumentInfo("vide.md", "", "0" * 64, "md", 1, 1, "now")], [[analysed(chunk, "")]],
                  np.ones((1, 8), dtype=np.float32) / np.sqrt(8))
    swap_in(tmp_path, build_dir)
    snapshot = IndexSnapshot.open(tmp_path)
    try:
        assert snapshot.lexical_search(analyze("le la les"), 5) == []
        assert snapshot.lexical_search(analyze("repas"), 5) == []
        assert snapshot.vocabulary == {}
    finally:
        snapshot.close()


def test_a_version_that_opens_but_fails_its_warm_up_is_an_index_error_and_replaced_ones_close(tmp_path, embedder,
                                                                                               monkeypatch):
    import shutil

    from index.retriever import RETIRED_SECONDS, Retriever

    index_dir = tmp_path / "index"
    shutil.copytree(store.current_version(_built(tmp_path, embedder)), index_dir / "v-1")
    (index_dir / "current").symlink_to("v-1")
    retriever = Retriever(index_dir, embedder)
    assert retriever.refresh()
    first = retriever.snapshot
    shutil.copytree(index_dir / "v-1", index_dir / "v-2")
    (index_dir / "current").unlink()
    (index_dir / "current").symlink_to("v-2")
    monkeypatch.setattr(IndexSnapshot, "terms", lambda self, rows: 1 / 0)  # damaged in a way `open` cannot see
    with pytest.raises(IndexFormatError, match=r"ZeroDivisionError.*vve ingest --full"):
        retriever.refresh()
    assert retriever.snapshot is first  # the previous version is still served
    monkeypatch.undo()
    clock = [1000.0]
    monkeypatch.setattr("index.retriever.time.monotonic", lambda: clock[0])
    assert retriever.refresh() and retriever.snapshot is not first
    (index_dir / "current").unlink()
    shutil.copytree(index_dir / "v-1", index_dir / "v-3")
    (index_dir / "current").symlink_to("v-3")
    clock[0] += RETIRED_SECONDS + 1
    assert retriever.refresh()
    with pytest.raises(Exception, match="closed"):  # retired a minute ago: its connections are closed
        first.passages([0])


def _built(tmp_path: Path, embedder) -> Path:
    """A small real index (the model's vectors), written by the pipeline."""
    from index.config import IndexSettings
    from ingest.build import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Angers\n\nLe Comptoir citoyen et la cohésion sociale.\n", encoding="utf-8")
    settings = IndexSettings(corpus_dir=corpus, index_dir=tmp_path / "built")
    ingest(settings, embedder)
    return settings.index_dir


def test_a_version_a_question_opened_before_any_warm_up_is_warmed_by_the_next_refresh(tmp_path, embedder):
    from index.retriever import Retriever

    index_dir = _built(tmp_path, embedder)
    retriever = Retriever(index_dir, embedder)
    retriever.search("Comptoir citoyen")  # opens the version lazily, without a warm-up
    assert retriever.refresh()  # warmed now: a health check that waited for a working version learns of it
    assert not retriever.refresh()
