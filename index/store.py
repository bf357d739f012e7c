"""The index on disk: FAISS vectors + a BM25 matrix + SQLite (documents, passages, their terms) + a manifest, in one
version folder.

Layout of INDEX_DIR:
    current -> v-20261127T081500-1a2b   (a symlink, replaced atomically by rename)
    v-.../manifest.json                 (format version, model, dimension, chunking, counts, dense index kind)
    v-.../vectors.faiss                 (inner product over normalised vectors, flat or HNSW; FAISS id = passage row)
    v-.../bm25/                         (bm25s: the BM25 score matrix as .npy arrays + its vocabulary in JSON)
    v-.../passages.sqlite               (documents, passages, passage_terms, words)
    build-...                           (a build in progress; removed at the next run if it was interrupted)
    ingest.lock                         (held by the one ingestion allowed at a time)

A version folder is never modified once swapped in, so readers open it immutable and never see a half-written index.
Nothing in it is a pickle: numpy arrays are read with allow_pickle=False, the rest is JSON and SQLite.

Engines chosen by measurement (`python -m bench.search_latency`, BENCHMARKS.md): bm25s's precomputed sparse matrix
ranks a query in about a millisecond at 100,000 passages where an FTS5 OR query took ~50 ms; FAISS HNSW replaces the
flat index from HNSW_FROM passages on (recall@10 against flat recorded there).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import os
import queue
import re
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from index.errors import DiskFull, IndexFailure, IndexFormatError, IndexNotFound, ModelMismatch, OtherFormatVersion
from index.lexical import analyze, fold
from index.types import Chunk, DocumentInfo, Passage, Site

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import, which would print « Building index from tokens » on every ingestion
logging.getLogger("bm25s").setLevel(logging.WARNING)

# 2: front matter marked; stems of feminine participles mended. 3: bm25s and HNSW, no FTS5. 4: the words table.
# 5: sentence spans and sentence vectors (the answer stage scores a sentence's cosine by a dot product).
# 6: documents keep their author, year and description digest (corpus/documents.toml); notices.json.
FORMAT_VERSION = 6
CURRENT = "current"
LOCK_FILE = "ingest.lock"
_WORD = re.compile(r"[^\W\d_]{2,}(?:-[^\W\d_]+)*")  # words of at least two letters, hyphenated kept whole
_CONNECTIONS = 8  # a small pool: searches run in worker threads (32 in the bot and the service)
_searching_thread = threading.local()  # whether this thread already searches FAISS on one OpenMP thread

_SCHEMA = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, title TEXT NOT NULL, sha256 TEXT NOT NULL,
    kind TEXT NOT NULL, page_count INTEGER, ingested_at TEXT NOT NULL, site TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '', year INTEGER, described TEXT NOT NULL DEFAULT ''
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES documents(id), section TEXT NOT NULL,
    page_start INTEGER, page_end INTEGER, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL,
    front_matter INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passages_document ON passages(document_id);
CREATE TABLE sites (name TEXT PRIMARY KEY, aliases TEXT NOT NULL, axis TEXT NOT NULL, subject TEXT NOT NULL);
CREATE TABLE passage_terms (row INTEGER PRIMARY KEY, title TEXT NOT NULL, section TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE words (folded TEXT PRIMARY KEY, written TEXT NOT NULL);
CREATE TABLE sentences (id INTEGER PRIMARY KEY, row INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL);
CREATE INDEX sentences_row ON sentences(row);
"""
SENTENCE_VECTORS = "sentences.npy"  # float16, one row per `sentences.id`, read memory-mapped
NOTICES = "notices.json"  # sentences never quoted: repeated disclaimers (optional: older versions lack it)
BM25_DIR = "bm25"
# BM25 as SQLite FTS5 computed it before (k1 1.2, b 0.75, Robertson's IDF), over title, section and body together
BM25_PARAMETERS = {"k1": 1.2, "b": 0.75, "method": "robertson"}
# From this many passages on, vectors go into an HNSW graph instead of a flat index (crossover and recall measured by
# `python -m bench.search_latency --crossover`); under it a flat search is exact and already well under a millisecond.
HNSW_FROM = 20_000
HNSW_NEIGHBOURS = 32  # M: links per node
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 160  # candidates explored per search: above the 100 the retriever asks for


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    chunk_tokens: int
    created_at: str
    documents: int
    passages: int
    sites_sha256: str = ""
    dense_index: str = "flat"  # "flat" or "hnsw"
    sentences: int = 0  # sentence spans (and vectors) stored
    reader_version: int = 0  # the document readers' version (ingest.load.READER_VERSION); 0 before it was recorded


class IngestionLocked(IndexFailure):
    """Another ingestion holds the lock."""

    def __init__(self) -> None:
        super().__init__("Une ingestion est déjà en cours : attendez qu'elle se termine avant d'en relancer une.")


@contextlib.contextmanager
def ingestion_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive, non-blocking: a second ingestion fails at once. The kernel frees it if the process dies.

    A folder that cannot be written (a read-only mount, no permission, a full disk) is an IndexFailure saying so."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / LOCK_FILE, "a+")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(index_dir) from None
        raise IndexFailure(f"Dossier de l'index « {index_dir} » impossible à écrire ({error.strerror or error}) : "
                           "vérifiez INDEX_DIR et ses droits ; l'index en place, s'il y en a un, reste servi."
                           ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestionLocked() from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_version(index_dir: Path) -> Path | None:
    """The version folder that `current` points to, or None when nothing was built yet."""
    link = index_dir / CURRENT
    if not link.is_symlink() and not link.exists():
        return None
    target = link.resolve()
    return target if (target / "manifest.json").exists() else None


def read_manifest(version_dir: Path) -> Manifest:
    try:
        data = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError) as error:
        raise IndexFormatError(f"Index illisible dans « {version_dir} » ({error}) : relancez « vve ingest --full ».")\
            from error
    if manifest.format_version != FORMAT_VERSION:
        raise OtherFormatVersion(
            f"Index au format {manifest.format_version}, attendu {FORMAT_VERSION} : relancez « vve ingest --full »."
        )
    return manifest


# --- writing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPassage:
    """A passage on its way into a new version, with its analysed terms (copied from the old one when unchanged)."""

    chunk: Chunk
    title_terms: str
    section_terms: str
    body_terms: str
    sentences: tuple[tuple[int, int], ...] = ()  # (start, end) of each sentence in chunk.text

    def terms(self) -> list[str]:
        """Title, section and body terms in one list: the document BM25 ranks (equal field weights)."""
        return f"{self.title_terms} {self.section_terms} {self.body_terms}".split()


def analysed(chunk: Chunk, title: str, sentences: Sequence[tuple[int, int]] = ()) -> StoredPassage:
    return StoredPassage(chunk, " ".join(analyze(title)), " ".join(analyze(chunk.section)),
                         " ".join(analyze(chunk.text)), tuple(sentences))


def new_build_dir(index_dir: Path) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    # Names sort in time order; nanoseconds keep two builds of the same second apart.
    path = index_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000_000:09d}-{os.getpid()}"
    path.mkdir()
    return path


def write_version(build_dir: Path, manifest: Manifest, documents: Sequence[DocumentInfo],
                  passages: Sequence[Sequence[StoredPassage]], vectors: np.ndarray,
                  sites: Sequence[Site] = (), sentence_vectors: np.ndarray | None = None,
                  notices: Iterable[str] = ()) -> Manifest:
    """Write a complete version into `build_dir`; `passages[i]` belongs to `documents[i]`, rows follow that order.
    `sentence_vectors`: one per sentence span, in row then span order (none: the spans are not stored either).
    `notices`: the keys of the sentences never to quote (ingest.boilerplate), in a file a version may lack.
    Returns the manifest written (with the dense index kind chosen for the size)."""
    total = sum(len(group) for group in passages)
    if vectors.shape != (total, manifest.dimension):
        raise ValueError(f"{vectors.shape} vectors for {total} passages of dimension {manifest.dimension}")
    spans = [(row, start, end) for row, stored in enumerate(stored for group in passages for stored in group)
             for start, end in stored.sentences] if sentence_vectors is not None else []
    if sentence_vectors is None:
        sentence_vectors = np.zeros((0, manifest.dimension), dtype=np.float16)
    if sentence_vectors.shape != (len(spans), manifest.dimension):
        raise ValueError(f"{sentence_vectors.shape} sentence vectors for {len(spans)} sentences")
    database = sqlite3.connect(build_dir / "passages.sqlite")
    try:
        database.executescript(_SCHEMA)
        database.executemany("INSERT INTO sites VALUES (?, ?, ?, ?)",
                             [(site.name, json.dumps(site.aliases, ensure_ascii=False), site.axis, site.subject)
                              for site in sites])
        row = 0
        for document_id, (document, group) in enumerate(zip(documents, passages, strict=True)):
            database.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (document_id, document.source, document.title, document.sha256, document.kind,
                 document.page_count, document.ingested_at, document.site, document.author, document.year,
                 document.described),
            )
            database.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (row + n, document_id, stored.chunk.section, stored.chunk.page_start, stored.chunk.page_end,
                 stored.chunk.char_start, stored.chunk.char_end, stored.chunk.text, int(stored.chunk.front_matter))
                for n, stored in enumerate(group)])
            database.executemany("INSERT INTO passage_terms VALUES (?, ?, ?, ?)", [
                (row + n, stored.title_terms, stored.section_terms, stored.body_terms)
                for n, stored in enumerate(group)])
            row += len(group)
        # the words people may misspell, read at every start: computed here once rather than at each opening
        database.executemany("INSERT INTO words VALUES (?, ?)", words_of(
            stored.chunk.text for group in passages for stored in group).items())
        database.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?)",
                             [(number, row, start, end) for number, (row, start, end) in enumerate(spans)])
        database.commit()
    finally:
        database.close()
    np.save(build_dir / SENTENCE_VECTORS, np.ascontiguousarray(sentence_vectors, dtype=np.float16))
    written = [build_dir / "passages.sqlite", build_dir / "vectors.faiss", build_dir / SENTENCE_VECTORS,
               build_dir / "manifest.json"]
    (build_dir / NOTICES).write_text(json.dumps(sorted(notices), ensure_ascii=False), encoding="utf-8")
    written.append(build_dir / NOTICES)
    if total:  # bm25s cannot index nothing; an empty version has no BM25 folder
        terms = [stored.terms() for group in passages for stored in group]
        if not any(terms):  # only stop words, emoji or punctuation: bm25s needs one term, the empty one matches none
            terms = [[""] for _ in terms]
        bm25 = bm25s.BM25(**BM25_PARAMETERS)
        bm25.index(terms, show_progress=False)
        bm25.save(str(build_dir / BM25_DIR))
        written += sorted((build_dir / BM25_DIR).iterdir())
    manifest = replace(manifest, dense_index="hnsw" if total >= HNSW_FROM else "flat", sentences=len(spans))
    faiss.write_index(dense_index(np.ascontiguousarray(vectors, dtype=np.float32), manifest.dense_index),
                      str(build_dir / "vectors.faiss"))
    # The manifest goes last: a folder without one is not a version.
    (build_dir / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
    for path in written:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    return manifest


def dense_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    """A FAISS inner-product index holding `vectors` (n × d, float32, normalised): "flat" (exact) or "hnsw"."""
    dimension = vectors.shape[1]
    index: faiss.Index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        # every core for the build, even in a worker thread that searched before (the setting is per thread)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        _searching_thread.single = False
        index.add(vectors)
    return index


def swap_in(index_dir: Path, build_dir: Path) -> Path:
    """Make `build_dir` the current version by one atomic rename, then drop versions older than the previous."""
    version_dir = index_dir / ("v-" + build_dir.name.removeprefix("build-"))
    build_dir.rename(version_dir)
    temporary_link = index_dir / f".current-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary_link.unlink()
    temporary_link.symlink_to(version_dir.name)
    os.replace(temporary_link, index_dir / CURRENT)
    directory = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    _remove_old_versions(index_dir, keep=version_dir)
    return version_dir


def _remove_old_versions(index_dir: Path, keep: Path) -> None:
    # The previous version stays: a reader that opened it a moment ago keeps working until it reloads.
    versions = sorted((path for path in index_dir.glob("v-*") if path.is_dir()), key=lambda path: path.name)
    for old in versions[:-2]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def remove_abandoned_builds(index_dir: Path) -> None:
    """Builds left by an interrupted run (kill -9, power cut); call while holding the ingestion lock."""
    for path in index_dir.glob("build-*"):
        log.info("removing abandoned build %s", path.name)
        shutil.rmtree(path, ignore_errors=True)


# --- reading -------------------------------------------------------------------------------------------------


class IndexSnapshot:
    """One version of the index, opened read-only: FAISS and BM25 in memory, a small pool of SQLite connections."""

    def __init__(self, version_dir: Path, manifest: Manifest, vectors: faiss.Index, bm25: bm25s.BM25 | None,
                 connections: list[sqlite3.Connection], sentence_matrix: np.ndarray | None = None) -> None:
        self.version_dir = version_dir
        self.manifest = manifest
        self.vectors = vectors
        self.bm25 = bm25
        # one float16 vector per sentence, memory-mapped: a question reads the rows of its passages' sentences only
        self.sentence_matrix = sentence_matrix if sentence_matrix is not None else np.zeros(
            (0, manifest.dimension), dtype=np.float16)
        # The stored vectors as one (passages × dimension) array, a view into FAISS's own memory: exact cosines for
        # a few rows or one site's rows without a search.
        self.matrix = _stored_vectors(vectors)
        self._search_parameters = (getattr(faiss, "SearchParametersHNSW")(efSearch=HNSW_EF_SEARCH)  # noqa: B009
                                   if isinstance(vectors, faiss.IndexHNSW) else None)
        self._site_rows: dict[str, np.ndarray] = {}
        self._pool: queue.Queue[sqlite3.Connection] = queue.Queue()
        for connection in connections:
            self._pool.put(connection)
        self._connections = connections

    @classmethod
    def open(cls, index_dir: Path, expected_model: str | None = None) -> IndexSnapshot:
        version_dir = current_version(index_dir)
        if version_dir is None:
            raise IndexNotFound(index_dir)
        manifest = read_manifest(version_dir)
        if expected_model is not None and manifest.model != expected_model:
            raise ModelMismatch(manifest.model, expected_model)
        damaged = (f"Index endommagé dans « {version_dir} » ({{}}) : relancez « vve ingest --full » pour le "
                   "reconstruire à partir du corpus.")
        try:
            vectors = faiss.read_index(str(version_dir / "vectors.faiss"))
        except RuntimeError:  # what faiss raises for a missing, truncated or foreign file
            raise IndexFormatError(damaged.format("fichier vectors.faiss illisible ou tronqué")) from None
        if not isinstance(vectors, faiss.IndexFlat | faiss.IndexHNSWFlat) \
                or vectors.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise IndexFormatError(damaged.format(f"vectors.faiss est un index {type(vectors).__name__} inattendu"))
        if vectors.ntotal != manifest.passages or vectors.d != manifest.dimension:
            raise IndexFormatError(damaged.format(
                f"vectors.faiss contient {vectors.ntotal} vecteurs, le manifeste annonce {manifest.passages} passages"))
        if not np.isfinite(_stored_vectors(vectors)).all():
            raise IndexFormatError(damaged.format("vectors.faiss contient des valeurs non finies"))
        bm25 = _open_bm25(version_dir / BM25_DIR, manifest.passages, damaged) if manifest.passages else None
        try:
            sentence_matrix = np.load(version_dir / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise IndexFormatError(damaged.format(f"{SENTENCE_VECTORS} illisible ({type(error).__name__})")) from None
        if sentence_matrix.dtype != np.float16 or sentence_matrix.shape != (manifest.sentences, manifest.dimension):
            raise IndexFormatError(damaged.format(f"{SENTENCE_VECTORS} ne correspond pas au manifeste"))
        uri = f"file:{(version_dir / 'passages.sqlite').as_posix()}?mode=ro&immutable=1"
        connections: list[sqlite3.Connection] = []
        rows = None
        try:  # SQLite opens anything lazily: read it once now, not at the first question
            connections = [sqlite3.connect(uri, uri=True, check_same_thread=False) for _ in range(_CONNECTIONS)]
            (rows,) = connections[0].execute("SELECT COUNT(*) FROM passages").fetchone()
            (terms,) = connections[0].execute("SELECT COUNT(*) FROM passage_terms").fetchone()
            (sentences,) = connections[0].execute("SELECT COUNT(*) FROM sentences").fetchone()
            rows = rows if terms == rows and sentences == manifest.sentences else None
        except sqlite3.Error:
            rows = None
        if rows != manifest.passages:
            for connection in connections:
                connection.close()
            raise IndexFormatError(damaged.format("passages.sqlite illisible ou incomplet"))
        return cls(version_dir, manifest, vectors, bm25, connections, sentence_matrix)

    def __repr__(self) -> str:
        return f"IndexSnapshot({self.version_dir.name}, {self.manifest.passages} passages)"

    def close(self) -> None:
        for connection in self._connections:
            connection.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection; SQLite failing on a file `open` accepted (a table missing or damaged) is an
        IndexFormatError, so that callers answer « index endommagé » instead of failing on every question."""
        connection = self._pool.get()
        try:
            yield connection
        except sqlite3.DatabaseError as error:
            log.error("index %s: SQLite failed: %s", self.version_dir.name, error)
            raise IndexFormatError(f"Index endommagé dans « {self.version_dir} » (passages.sqlite : {error}) : "
                                   "relancez « vve ingest --full » pour le reconstruire à partir du corpus.") from error
        finally:
            self._pool.put(connection)

    # documents

    def documents(self) -> list[DocumentInfo]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT d.source, d.title, d.sha256, d.kind, d.page_count, COUNT(p.row), d.ingested_at, d.site, "
                "d.author, d.year, d.described "
                "FROM documents d LEFT JOIN passages p ON p.document_id = d.id GROUP BY d.id ORDER BY d.source"
            ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    @functools.cached_property
    def notices(self) -> frozenset[str]:
        """Keys of the sentences never quoted (ingest.boilerplate); a version written before them has none."""
        try:
            return frozenset(json.loads((self.version_dir / NOTICES).read_text(encoding="utf-8")))
        except FileNotFoundError:
            return frozenset()
        except (OSError, ValueError, TypeError) as error:
            log.warning("index %s: %s unreadable (%s): no sentence set aside", self.version_dir.name, NOTICES, error)
            return frozenset()

    @functools.cached_property
    def _sites(self) -> tuple[Site, ...]:
        with self._connection() as db:
            rows = db.execute("SELECT name, aliases, axis, subject FROM sites ORDER BY name").fetchall()
        return tuple(Site(name, tuple(json.loads(aliases)), axis, subject) for name, aliases, axis, subject in rows)

    def sites(self) -> tuple[Site, ...]:
        """The sites the corpus describes; a version never changes, so they are read once."""
        return self._sites

    def document_rows(self, source: str) -> list[int]:
        with self._connection() as db:
            return [row for (row,) in db.execute(
                "SELECT p.row FROM passages p JOIN documents d ON d.id = p.document_id WHERE d.source = ? "
                "ORDER BY p.row", (source,))]

    def site_rows(self, site: str) -> np.ndarray:
        """The rows of one site's passages, sorted (read once per site and version; do not modify)."""
        key = site.casefold()
        if key not in self._site_rows:
            with self._connection() as db:
                rows = db.execute("SELECT p.row FROM passages p JOIN documents d ON d.id = p.document_id "
                                  "WHERE d.site = ? COLLATE NOCASE ORDER BY p.row", (site,)).fetchall()
            found = np.array([row for (row,) in rows], dtype=np.int64)
            found.flags.writeable = False
            self._site_rows[key] = found  # a race computes it twice, harmlessly
        return self._site_rows[key]

    # passages

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        with self._connection() as db:
            found = db.execute(
                "SELECT p.row, d.source, d.title, p.section, p.page_start, p.page_end, p.text, d.site, "
                "p.front_matter = 1, d.author, d.year "
                f"FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.row IN ({marks})",
                [int(row) for row in rows],
            ).fetchall()
        return {row: Passage(row, source, title, section, start, end, text, site, bool(front), author=author,
                             year=year)
                for row, source, title, section, start, end, text, site, front, author, year in found}

    def chunks_and_terms(self, source: str) -> list[StoredPassage]:
        """The stored passages of one document, with their sentence spans, ready to be copied into a new version
        without re-analysis (their sentence vectors: `document_sentence_vectors`)."""
        with self._connection() as db:
            found = db.execute(
                "SELECT p.row, d.source, p.section, p.page_start, p.page_end, p.char_start, p.char_end, p.text, "
                "p.front_matter = 1, t.title, t.section, t.body "
                "FROM passages p JOIN documents d ON d.id = p.document_id JOIN passage_terms t ON t.row = p.row "
                "WHERE d.source = ? ORDER BY p.row", (source,)
            ).fetchall()
        spans = self.sentence_spans([row for row, *_ in found])
        return [StoredPassage(Chunk(source, section, start, end, char_start, char_end, text, bool(front)),
                              title, section_terms, body, tuple((a, b) for _, a, b in spans.get(row, ())))
                for row, source, section, start, end, char_start, char_end, text, front, title, section_terms, body
                in found]

    def sentence_spans(self, rows: Sequence[int]) -> dict[int, list[tuple[int, int, int]]]:
        """Each passage's sentences as (sentence id, start, end) in its text, in order; {} for rows without any."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        spans: dict[int, list[tuple[int, int, int]]] = {}
        with self._connection() as db:
            for sentence, row, start, end in db.execute(
                    f"SELECT id, row, start, end FROM sentences WHERE row IN ({marks}) ORDER BY id",
                    [int(row) for row in rows]):
                spans.setdefault(row, []).append((sentence, start, end))
        return spans

    def sentence_cosines(self, ids: Sequence[int], query_vector: np.ndarray) -> np.ndarray:
        """The cosines of stored sentences to a query vector: a dot product per sentence, no embedding."""
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        rows = np.asarray(self.sentence_matrix[np.asarray(ids, dtype=np.int64)], dtype=np.float32)
        return np.nan_to_num(rows @ np.asarray(query_vector, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)

    def document_sentence_vectors(self, source: str) -> np.ndarray:
        """The sentence vectors of one document's passages, in row then span order (float16, a copy)."""
        spans = self.sentence_spans(self.document_rows(source))
        ids = [sentence for row in sorted(spans) for sentence, _, _ in spans[row]]
        return np.array(self.sentence_matrix[np.asarray(ids, dtype=np.int64)], dtype=np.float16).reshape(
            len(ids), self.manifest.dimension)

    def reconstruct(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows` (len(rows) × dimension, float32, a copy)."""
        return self.matrix[np.asarray(rows, dtype=np.int64)].reshape(-1, self.matrix.shape[1])  # indexing copies

    # search

    def dense_search(self, query_vector: np.ndarray, limit: int,
                     allowed_rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(row, cosine) pairs, best first: FAISS over every passage (HNSW: approximate), or the exact cosines of
        `allowed_rows` when given (one site's passages)."""
        if self.vectors.ntotal == 0 or limit <= 0:
            return []
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
        if allowed_rows is not None:
            cosines = self.matrix[allowed_rows] @ query[0]
            best = _top(cosines, limit)
            return [(int(allowed_rows[i]), float(cosines[i])) for i in best]
        if not getattr(_searching_thread, "single", False):
            # One query is not worth two OpenMP threads: on a busy 2-core machine their hand-over cost 16 ms where
            # the search alone takes 0.3 ms (flat, 10,000 passages). The setting is the calling thread's own (libgomp
            # keeps it per thread), so an ingestion building HNSW in another thread keeps every core.
            faiss.omp_set_num_threads(1)
            _searching_thread.single = True
        scores, ids = self.vectors.search(query, min(limit, self.vectors.ntotal), params=self._search_parameters)
        return [(int(row), float(score)) for row, score in zip(ids[0], scores[0], strict=True) if row >= 0]

    def lexical_search(self, terms: list[str], limit: int, site: str = "") -> list[tuple[int, float]]:
        """(row, BM25 score) pairs, best first, of the passages holding at least one of the analysed `terms`
        (each counted once); only `site`'s passages when given."""
        if self.bm25 is None or limit <= 0:
            return []
        vocabulary = self.bm25.vocab_dict
        ids = list(dict.fromkeys(vocabulary[term] for term in terms if term and term in vocabulary))
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        if site:
            allowed = self.site_rows(site)
            kept = scores[allowed]
            best = _top(kept, limit)
            return [(int(allowed[i]), float(kept[i])) for i in best if kept[i] > 0]
        return [(int(row), float(scores[row])) for row in _top(scores, limit) if scores[row] > 0]

    @functools.cached_property
    def vocabulary(self) -> dict[str, int]:
        """Every analysed term of the index → how many passages hold it (title, section or body).

        Read once per version from the BM25 matrix (a term's column holds one entry per passage that has it): its
        size is the corpus's, whatever users type.
        """
        if self.bm25 is None:
            return {}
        starts = np.asarray(self.bm25.scores["indptr"])
        counts = np.diff(starts)
        # every column was checked at opening (`_open_bm25`); the empty term alone lies past the matrix
        return {term: int(counts[column]) for term, column in self.bm25.vocab_dict.items() if term}

    def document_frequency(self, term: str) -> int:
        """How many passages hold the term (in title, section or body)."""
        return self.vocabulary.get(term, 0)

    @functools.cached_property
    def words(self) -> dict[str, str]:
        """Every word of the passages, folded (« reciprocite ») → written as the documents most often write it.

        Computed at ingestion (`words_of`) and read once per version from the `words` table (~0.1 s per 100,000
        words); bounded by the corpus, not by what users type.
        """
        with self._connection() as db:
            return dict(db.execute("SELECT folded, written FROM words"))

    def terms(self, rows: Sequence[int]) -> dict[int, frozenset[str]]:
        """The analysed terms of passages (title, section and body together)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        with self._connection() as db:
            found = db.execute(f"SELECT row, title, section, body FROM passage_terms WHERE row IN ({marks})",
                               [int(row) for row in rows]).fetchall()
        return {row: frozenset(f"{title} {section} {body}".split()) for row, title, section, body in found}


def _stored_vectors(vectors: faiss.Index) -> np.ndarray:
    """The vectors of a flat or HNSW index as one (passages × dimension) array: a view into FAISS's own memory."""
    flat: Any = faiss.downcast_index(vectors.storage) if isinstance(vectors, faiss.IndexHNSW) else vectors
    count, dimension = vectors.ntotal, vectors.d
    if not count:
        return np.zeros((0, dimension), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), count * dimension).reshape(count, dimension)


def _open_bm25(folder: Path, passages: int, damaged: str) -> bm25s.BM25:
    """bm25s's files of a version, checked against each other and the manifest; IndexFormatError (French) else.
    Arrays are read without pickle (bm25s's default), the vocabulary and parameters are JSON."""
    try:
        bm25 = bm25s.BM25.load(str(folder), mmap=False, load_corpus=False, show_progress=False)
        columns = len(bm25.scores["indptr"]) - 1
        vocabulary = bm25.vocab_dict
        scores = bm25.scores
        sound = (isinstance(vocabulary, dict) and isinstance(scores["num_docs"], int)
                 and scores["num_docs"] == passages and len(scores["data"]) == len(scores["indices"])
                 # bm25s adds the empty term after the matrix (one past its columns); no query ever holds it
                 and all(type(column) is int and 0 <= column < columns + (term == "") for term, column
                         in vocabulary.items()))
        starts, ends = np.asarray(scores["indptr"]), np.asarray(scores["indices"])
        sound = sound and bool(  # the sparse matrix's own shape: every query term's column is read as it stands
            len(starts) and starts[0] == 0 and starts[-1] == len(ends) and (np.diff(starts) >= 0).all()
            and (len(ends) == 0 or (ends.min() >= 0 and ends.max() < passages))
            and np.isfinite(scores["data"]).all())
        if sound and columns:  # one scoring, as a question would do it: dtypes and parameters are usable
            bm25.get_scores_from_ids([0])
    except Exception as error:  # bm25s reads JSON and arrays written by anyone: any failure means a damaged file
        log.warning("%s: %s: %s", folder, type(error).__name__, error)
        sound = False
    if not sound:
        raise IndexFormatError(damaged.format("fichiers BM25 illisibles, tronqués ou incohérents"))
    return bm25


def words_of(texts: Iterable[str]) -> dict[str, str]:
    """Every word of the texts (two letters or more), folded → its most frequent written form (capitalised when
    written so, lower case otherwise); ties go to the form met first.

    >>> words_of(["la Réciprocité, la réciprocité", "réciprocité"])
    {'la': 'la', 'reciprocite': 'réciprocité'}
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text))
    spellings: dict[str, Counter[str]] = {}
    for word, count in counts.items():  # each distinct word folded once
        spellings.setdefault(fold(word), Counter())[word if word[0].isupper() else word.lower()] += count
    return {folded: forms.most_common(1)[0][0] for folded, forms in spellings.items()}


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the `limit` highest scores, highest first (ties: lower position first).

    >>> _top(np.array([0.1, 0.9, 0.5, 0.9]), 3).tolist()
    [1, 3, 2]
    """
    chosen = np.arange(len(scores)) if limit >= len(scores) else np.argpartition(-scores, limit - 1)[:limit]
    return chosen[np.lexsort((chosen, -scores[chosen]))]
