"""Corpus folder -> a new index version, touching only what changed, swapped in atomically."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from index.config import IndexSettings
from index.embedder import Embedder
from index.errors import IndexNotFound, ModelMismatch
from index.store import (
    FORMAT_VERSION,
    IndexSnapshot,
    Manifest,
    StoredPassage,
    analysed,
    ingestion_lock,
    new_build_dir,
    remove_abandoned_builds,
    swap_in,
    write_version,
)
from index.types import Chunk, DocumentInfo, LoadedDocument, Site
from ingest.chunk import chunk_document
from ingest.errors import UnreadableDocument
from ingest.load import load_document
from ingest.sites import SITES_FILE, load_sites, site_of

log = logging.getLogger(__name__)


class Progress(Protocol):
    def file_done(self, source: str, done: int, total: int) -> None: ...

    def embedded(self, done: int, total: int) -> None: ...


class SilentProgress:
    def file_done(self, source: str, done: int, total: int) -> None:
        pass

    def embedded(self, done: int, total: int) -> None:
        pass


@dataclass(frozen=True)
class IngestReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    documents: int = 0
    passages: int = 0
    version: str = ""
    seconds: float = 0.0
    model_loaded: bool = False
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line in French, for the terminal and the admin's chat."""
        return (f"Ingestion terminée en {self.seconds:.1f} s : {len(self.added)} ajouté(s), "
                f"{len(self.updated)} mis à jour, {len(self.removed)} supprimé(s), "
                f"{len(self.unchanged)} inchangé(s), {len(self.failed)} en échec "
                f"— index : {self.documents} documents, {self.passages} passages.")


def corpus_files(corpus_dir: Path, index_dir: Path) -> dict[str, Path]:
    """Every visible file under the corpus folder, by path relative to it (the index folder excluded)."""
    if not corpus_dir.is_dir():
        raise IndexNotFound(corpus_dir)
    index_resolved = index_dir.resolve()
    files = {}
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith((".", "~$")) for part in relative.parts) or not path.is_file():
            continue
        if index_resolved in path.resolve().parents or relative.as_posix() == SITES_FILE:
            continue
        files[relative.as_posix()] = path
    return files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_previous(settings: IndexSettings, model: str, full: bool) -> IndexSnapshot | None:
    try:
        snapshot = IndexSnapshot.open(settings.index_dir)
    except IndexNotFound:
        return None
    if full:
        snapshot.close()
        return None
    if snapshot.manifest.model != model:
        snapshot.close()
        raise ModelMismatch(snapshot.manifest.model, model)
    if snapshot.manifest.chunk_tokens != settings.chunk_tokens:
        log.info("chunking changed (%d -> %d tokens): every document is cut again",
                 snapshot.manifest.chunk_tokens, settings.chunk_tokens)
        snapshot.close()
        return None
    return snapshot


def passage_token_budget(embedder: Embedder, chunk_tokens: int) -> int:
    """What a passage may cost: the configured size, within what the model reads after its prefix and [CLS]/[SEP]."""
    prefix = getattr(embedder, "passage_prefix", "")
    prefix_tokens = embedder.count_tokens([prefix])[0] if prefix else 0
    return min(chunk_tokens, embedder.max_tokens - 2 - prefix_tokens)


def ingest(settings: IndexSettings, embedder: Embedder, *, full: bool = False,
           progress: Progress | None = None, now: Callable[[], str] | None = None) -> IngestReport:
    """Bring the index in line with the corpus folder. Raises IngestionLocked if another run holds the lock."""
    started = time.perf_counter()
    progress = progress or SilentProgress()
    stamp = (now or (lambda: time.strftime("%Y-%m-%dT%H:%M:%S")))()
    with ingestion_lock(settings.index_dir):
        remove_abandoned_builds(settings.index_dir)
        files = corpus_files(settings.corpus_dir, settings.index_dir)
        sites = load_sites(settings.corpus_dir)
        previous = _open_previous(settings, embedder.name, full)
        try:
            return _ingest(settings, embedder, files, sites, previous, progress, stamp, started)
        finally:
            if previous is not None:
                previous.close()


def _sites_digest(sites: tuple[Site, ...]) -> str:
    return hashlib.sha256(repr(sites).encode()).hexdigest()


def _nothing_written(previous: IndexSnapshot, unchanged: list[str], failed: Sequence[tuple[str, str]],
                     started: float) -> IngestReport:
    """The report of a run that leaves the current version as it is (nothing changed, or only failures)."""
    return IngestReport(unchanged=tuple(unchanged), failed=tuple(failed), documents=previous.manifest.documents,
                        passages=previous.manifest.passages, version=previous.version_dir.name,
                        seconds=time.perf_counter() - started)


def _ingest(settings: IndexSettings, embedder: Embedder, files: dict[str, Path], sites: tuple[Site, ...],
            previous: IndexSnapshot | None, progress: Progress, stamp: str, started: float) -> IngestReport:
    known = {document.source: document for document in previous.documents()} if previous else {}
    hashes = {source: file_sha256(path) for source, path in files.items()}
    unchanged = [source for source in files if source in known and known[source].sha256 == hashes[source]]
    to_load = [source for source in files if source not in unchanged]
    removed = sorted(set(known) - set(files))
    sites_changed = previous is not None and previous.manifest.sites_sha256 != _sites_digest(sites)
    if previous is not None and not to_load and not removed and not sites_changed:
        return _nothing_written(previous, unchanged, (), started)

    # From here on a new version is being made; it stays invisible until swap_in renames it.
    build_dir = new_build_dir(settings.index_dir)
    try:
        return _build(settings, embedder, files, sites, previous, known, unchanged, to_load, removed, sites_changed,
                      progress, stamp, started, build_dir)
    finally:
        if build_dir.exists():  # a handled failure or nothing to swap in: leave no half-built folder behind
            shutil.rmtree(build_dir, ignore_errors=True)


def _build(settings: IndexSettings, embedder: Embedder, files: dict[str, Path], sites: tuple[Site, ...],
           previous: IndexSnapshot | None, known: dict[str, DocumentInfo], unchanged: list[str], to_load: list[str],
           removed: list[str], sites_changed: bool, progress: Progress, stamp: str, started: float,
           build_dir: Path) -> IngestReport:
    loaded: list[LoadedDocument] = []
    failed: list[tuple[str, str]] = []
    for done, source in enumerate(to_load, 1):
        try:
            loaded.append(load_document(files[source], source, settings.max_file_mb * 1_048_576))
        except UnreadableDocument as error:
            log.warning("%s: %s", source, error)
            failed.append((source, str(error)))
        progress.file_done(source, done, len(to_load))
    # A changed document that no longer reads keeps its previous passages: nothing is lost.
    kept = unchanged + [source for source, _ in failed if source in known]
    if previous is not None and not loaded and not removed and not sites_changed:
        return _nothing_written(previous, unchanged, failed, started)

    timings: dict[str, float] = {}
    chunks: dict[str, list[Chunk]] = {}
    new_vectors = np.zeros((0, previous.manifest.dimension if previous else 0), dtype=np.float32)
    if loaded:  # only now is the model needed (its tokenizer measures passages)
        step = time.perf_counter()
        budget = passage_token_budget(embedder, settings.chunk_tokens)
        chunks = {document.source: chunk_document(document, embedder.count_tokens, budget) for document in loaded}
        timings["chunk"] = time.perf_counter() - step
        step = time.perf_counter()
        new_chunks = [chunk for document in loaded for chunk in chunks[document.source]]
        new_vectors = embedder.embed_passages([chunk.embed_text for chunk in new_chunks], progress.embedded)
        timings["embed"] = time.perf_counter() - step

    step = time.perf_counter()
    documents: list[DocumentInfo] = []
    groups: list[list[StoredPassage]] = []
    vector_parts: list[np.ndarray] = []
    offsets, position = {}, 0
    for document in loaded:
        offsets[document.source] = position
        position += len(chunks[document.source])
    entries: list[tuple[str, object]] = [(source, "kept") for source in kept]
    entries += [(document.source, document) for document in loaded]
    for source, entry in sorted(entries, key=lambda item: item[0]):
        if isinstance(entry, LoadedDocument):
            group = [analysed(chunk, entry.title) for chunk in chunks[source]]
            start = offsets[source]
            vector_parts.append(new_vectors[start:start + len(group)])
            documents.append(DocumentInfo(source, entry.title, entry.sha256, entry.kind, entry.page_count,
                                          len(group), stamp, site_of(entry.title, source, sites)))
        else:
            assert previous is not None
            group = previous.chunks_and_terms(source)
            vector_parts.append(previous.reconstruct(previous.document_rows(source)))
            documents.append(replace(known[source], site=site_of(known[source].title, source, sites)))
        groups.append(group)
    dimension = embedder.dimension if loaded or previous is None else previous.manifest.dimension
    vectors = np.vstack(vector_parts) if vector_parts else np.zeros((0, dimension), dtype=np.float32)
    total = sum(len(group) for group in groups)
    manifest = Manifest(FORMAT_VERSION, embedder.name, dimension, settings.chunk_tokens, stamp,
                        len(documents), total, _sites_digest(sites))
    write_version(build_dir, manifest, documents, groups, vectors, sites)
    version = swap_in(settings.index_dir, build_dir)
    timings["write"] = time.perf_counter() - step

    loaded_sources = {document.source for document in loaded}
    return IngestReport(
        added=tuple(sorted(source for source in loaded_sources if source not in known)),
        updated=tuple(sorted(source for source in loaded_sources if source in known)),
        removed=tuple(removed), unchanged=tuple(unchanged), failed=tuple(failed),
        documents=len(documents), passages=total, version=version.name,
        seconds=time.perf_counter() - started, model_loaded=bool(loaded), timings=timings,
    )
