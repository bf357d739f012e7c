"""Corpus folder -> a new index version, touching only what changed, swapped in atomically."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from index.config import IndexSettings
from index.embedder import Embedder
from index.errors import DiskFull, IndexFailure, IndexNotFound, ModelMismatch, OtherFormatVersion
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
from ingest.boilerplate import repeated_notices
from ingest.budget import BudgetedReader, ReadBudget
from ingest.chunk import chunk_document, sentence_spans
from ingest.documents import DOCUMENTS_FILE, Description, load_descriptions, warn_undescribed
from ingest.errors import IngestionStopped, UnreadableDocument
from ingest.load import READER_VERSION, os_reason
from ingest.sites import SITES_FILE, load_sites, site_of

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What a run reports as it goes. Each stage is announced with `done` = 0 before its first file or batch, so
    that a bar or an estimate of the time left starts from the stage's real beginning."""

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


def display_name(source: str) -> str:
    """A file name as the report shows it: control characters escaped, so that a name with a newline cannot forge a
    line of the report, and bytes that are not UTF-8 shown as \\x escapes.

    >>> display_name("a\\nÉchec : b.pdf"), display_name("caf\\udce9.txt")
    ('a\\\\nÉchec : b.pdf', 'caf\\\\xe9.txt')
    """
    raw = source.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in raw)


def scan_corpus(corpus_dir: Path, index_dir: Path) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """Every visible regular file under the corpus folder by path relative to it (the index folder excluded), and
    the entries refused with their reason: links leading outside the folder or nowhere, special files (a FIFO
    would block the reading), names that are not UTF-8. Symbolic links to folders are not followed."""
    if not corpus_dir.is_dir():
        raise IndexNotFound(corpus_dir)
    root = corpus_dir.resolve()
    index_resolved = index_dir.resolve()
    files: dict[str, Path] = {}
    refused: list[tuple[str, str]] = []
    for folder, directories, names in os.walk(corpus_dir):
        directories[:] = sorted(d for d in directories if not d.startswith((".", "~$")))
        for name in sorted(names):
            path = Path(folder) / name
            relative = path.relative_to(corpus_dir).as_posix()
            if name.startswith((".", "~$")) or relative in (SITES_FILE, DOCUMENTS_FILE):
                continue
            reason = _refusal(path, relative, root, index_resolved)
            if reason == "":
                continue
            if reason is not None:
                refused.append((display_name(relative), reason))
                continue
            files[relative] = path
        for name in directories:  # a link to a folder is listed with the folders, not followed
            path = Path(folder) / name
            if path.is_symlink() and not _inside(path, root):
                refused.append((display_name(path.relative_to(corpus_dir).as_posix()),
                                "lien symbolique vers un dossier hors du corpus : refusé"))
        directories[:] = [d for d in directories if not (Path(folder) / d).is_symlink()]
    return dict(sorted(files.items())), refused


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):  # a dangling link or a loop of links
        return False


def _refusal(path: Path, relative: str, root: Path, index_dir: Path) -> str | None:
    """Why an entry of the corpus folder is not read; None to read it, "" to skip it silently (the index)."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return "nom de fichier qui n'est pas en UTF-8 : renommez le fichier"
    try:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            target = path.resolve(strict=True)
            if not target.is_relative_to(root):
                return "lien symbolique vers un fichier hors du dossier du corpus : refusé"
            status = target.stat()
            if index_dir in target.parents:
                return ""
    except FileNotFoundError:
        return "lien symbolique cassé (sa cible n'existe pas)"
    except RuntimeError:
        return "boucle de liens symboliques"
    except OSError as error:
        return os_reason(error)
    if index_dir in path.parents:
        return ""
    if not stat.S_ISREG(status.st_mode):
        kind = "tube nommé (FIFO)" if stat.S_ISFIFO(status.st_mode) else "fichier spécial (socket ou périphérique)"
        return f"{kind} : ce n'est pas un document, ignoré"
    return None


def corpus_files(corpus_dir: Path, index_dir: Path) -> dict[str, Path]:
    """Every readable file under the corpus folder, by path relative to it (see `scan_corpus`)."""
    return scan_corpus(corpus_dir, index_dir)[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_previous(settings: IndexSettings, model: str, full: bool) -> IndexSnapshot | None:
    if full:  # rebuilt from the corpus: the old version is not even opened, it may be damaged
        return None
    try:
        snapshot = IndexSnapshot.open(settings.index_dir)
    except IndexNotFound:
        return None
    except OtherFormatVersion as error:  # written by another version of the project: nothing to reuse, rebuild all
        log.info("%s Tout est reconstruit.", error)
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


def read_budget(settings: IndexSettings) -> ReadBudget:
    return ReadBudget(settings.read_seconds, settings.read_memory_mb)


@dataclass(frozen=True)
class _Run:
    """What one run works with besides the corpus: where to report, how to read, when to stop."""

    progress: Progress
    reader: BudgetedReader
    stop: threading.Event

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise IngestionStopped()


def ingest(settings: IndexSettings, embedder: Embedder, *, full: bool = False,
           progress: Progress | None = None, now: Callable[[], str] | None = None,
           reader: BudgetedReader | None = None, stop: threading.Event | None = None,
           lock_held: bool = False) -> IngestReport:
    """Bring the index in line with the corpus folder. Raises IngestionLocked if another run holds the lock,
    IngestionStopped when `stop` is set before the new version is swapped in (the previous one stays served).

    Files are read by `reader` (a worker process under the settings' budget, one made for this run when None);
    `lock_held`: the caller already holds `ingestion_lock` (an admin's upload, checked under it)."""
    started = time.perf_counter()
    own_reader = reader is None
    run = _Run(progress or SilentProgress(), reader or BudgetedReader(read_budget(settings)),
               stop or threading.Event())
    stamp = (now or (lambda: time.strftime("%Y-%m-%dT%H:%M:%S")))()
    try:
        with contextlib.nullcontext() if lock_held else ingestion_lock(settings.index_dir):
            remove_abandoned_builds(settings.index_dir)
            files, refused = scan_corpus(settings.corpus_dir, settings.index_dir)
            sites = load_sites(settings.corpus_dir)
            descriptions = load_descriptions(settings.corpus_dir)
            warn_undescribed(descriptions, files)
            previous = _open_previous(settings, embedder.name, full)
            try:
                report = _ingest(settings, embedder, files, sites, previous, run, stamp, started, descriptions)
            finally:
                if previous is not None:
                    previous.close()
    finally:
        if own_reader:
            run.reader.close()
    # names escaped here, once: the report is printed and sent to chats, where a newline could forge a line
    return replace(report, failed=tuple(refused) + tuple((display_name(source), reason)
                                                         for source, reason in report.failed))


def _described(descriptions: dict[str, Description], source: str) -> str:
    return descriptions[source].digest if source in descriptions else ""


def _sites_digest(sites: tuple[Site, ...]) -> str:
    return hashlib.sha256(repr(sites).encode()).hexdigest()


def _nothing_written(previous: IndexSnapshot, unchanged: list[str], failed: Sequence[tuple[str, str]],
                     started: float) -> IngestReport:
    """The report of a run that leaves the current version as it is (nothing changed, or only failures)."""
    return IngestReport(unchanged=tuple(unchanged), failed=tuple(failed), documents=previous.manifest.documents,
                        passages=previous.manifest.passages, version=previous.version_dir.name,
                        seconds=time.perf_counter() - started)


def _ingest(settings: IndexSettings, embedder: Embedder, files: dict[str, Path], sites: tuple[Site, ...],
            previous: IndexSnapshot | None, run: _Run, stamp: str, started: float,
            descriptions: dict[str, Description]) -> IngestReport:
    known = {document.source: document for document in previous.documents()} if previous else {}
    hashes: dict[str, str] = {}
    unreadable: list[tuple[str, str]] = []
    for source, path in files.items():
        try:
            hashes[source] = file_sha256(path)
        except OSError as error:  # no read permission, deleted since the listing
            unreadable.append((source, os_reason(error)))
    # files read by older readers are read again, as if they had changed: the index heals without « --full »
    readers_changed = previous is not None and previous.manifest.reader_version != READER_VERSION
    # a file whose entry in documents.toml changed is read again too (its title is in its passages' terms)
    unchanged = [source for source in hashes
                 if source in known and known[source].sha256 == hashes[source] and not readers_changed
                 and known[source].described == _described(descriptions, source)]
    to_load = [source for source in hashes if source not in unchanged]
    removed = sorted(set(known) - set(files))
    sites_changed = previous is not None and previous.manifest.sites_sha256 != _sites_digest(sites)
    # a file that cannot be read now keeps the passages it had (as a document that no longer parses does)
    unchanged += [source for source, _ in unreadable if source in known]
    if previous is not None and not to_load and not removed and not sites_changed:
        return _nothing_written(previous, unchanged, unreadable, started)

    # From here on a new version is being made; it stays invisible until swap_in renames it.
    build_dir = new_build_dir(settings.index_dir)
    try:
        report = _build(settings, embedder, files, sites, previous, known, unchanged, to_load, removed,
                        sites_changed, run, stamp, started, build_dir, descriptions)
        return replace(report, failed=tuple(unreadable) + report.failed) if unreadable else report
    except (OSError, sqlite3.Error, RuntimeError) as error:
        # SQLite says « database or disk is full », FAISS raises RuntimeError, numpy a short write: all one fault
        if not isinstance(error, OSError | sqlite3.OperationalError) and "faiss" not in str(error):
            raise
        if _disk_full(error, build_dir):
            raise DiskFull(settings.index_dir) from None
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).splitlines()[0]
        log.debug("index write failed", exc_info=error)
        raise IndexFailure(f"Écriture de l'index impossible dans « {settings.index_dir} » "
                           f"({reason[:200]}) : l'index précédent est conservé.") from None
    finally:
        if build_dir.exists():  # a handled failure or nothing to swap in: leave no half-built folder behind
            shutil.rmtree(build_dir, ignore_errors=True)


DISK_NEARLY_FULL = 4 * 1_048_576  # bytes left when a write failed: the disk is what stopped it


def _disk_full(error: BaseException, build_dir: Path) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
        return True
    try:
        return shutil.disk_usage(build_dir.parent).free < DISK_NEARLY_FULL
    except OSError:
        return False


def _build(settings: IndexSettings, embedder: Embedder, files: dict[str, Path], sites: tuple[Site, ...],
           previous: IndexSnapshot | None, known: dict[str, DocumentInfo], unchanged: list[str], to_load: list[str],
           removed: list[str], sites_changed: bool, run: _Run, stamp: str, started: float,
           build_dir: Path, descriptions: dict[str, Description]) -> IngestReport:
    progress = run.progress
    timings: dict[str, float] = {}
    step = time.perf_counter()
    loaded: list[LoadedDocument] = []
    failed: list[tuple[str, str]] = []
    if to_load:
        progress.file_done("", 0, len(to_load))
    for done, source in enumerate(to_load, 1):
        run.check_stop()
        try:
            loaded.append(run.reader.read(files[source], source, settings.max_file_mb * 1_048_576))
        except UnreadableDocument as error:
            log.warning("%s: %s", display_name(source), error)
            failed.append((source, str(error)))
        progress.file_done(source, done, len(to_load))
    timings["read"] = time.perf_counter() - step
    # A changed document that no longer reads keeps its previous passages: nothing is lost.
    kept = unchanged + [source for source, _ in failed if source in known]
    if previous is not None and not loaded and not removed and not sites_changed:
        return _nothing_written(previous, unchanged, failed, started)

    chunks: dict[str, list[Chunk]] = {}
    new_vectors = np.zeros((0, previous.manifest.dimension if previous else 0), dtype=np.float32)
    new_sentence_vectors = new_vectors.astype(np.float16)
    spans: dict[int, list[tuple[int, int]]] = {}
    if loaded:  # only now is the model needed (its tokenizer measures passages)
        step = time.perf_counter()
        budget = passage_token_budget(embedder, settings.chunk_tokens)
        for document in loaded:
            run.check_stop()
            chunks[document.source] = chunk_document(document, embedder.count_tokens, budget)
        timings["chunk"] = time.perf_counter() - step
        step = time.perf_counter()
        new_chunks = [chunk for document in loaded for chunk in chunks[document.source]]
        spans = {id(chunk): sentence_spans(chunk.text) for chunk in new_chunks}
        sentence_texts = [chunk.text[start:end] for chunk in new_chunks for start, end in spans[id(chunk)]]
        total = len(new_chunks) + len(sentence_texts)  # one bar: passages, then their sentences
        progress.embedded(0, total)

        def embedded(offset: int) -> Callable[[int, int], None]:
            def report(done: int, _: int) -> None:  # between two batches: where a stop is heard
                progress.embedded(offset + done, total)
                run.check_stop()
            return report

        new_vectors = embedder.embed_passages([chunk.embed_text for chunk in new_chunks], embedded(0))
        new_sentence_vectors = embedder.embed_passages(sentence_texts, embedded(len(new_chunks))).astype(np.float16)
        timings["embed"] = time.perf_counter() - step

    step = time.perf_counter()
    documents: list[DocumentInfo] = []
    groups: list[list[StoredPassage]] = []
    vector_parts: list[np.ndarray] = []
    sentence_parts: list[np.ndarray] = []
    offsets, position = {}, 0
    sentence_offsets, sentence_position = {}, 0
    for document in loaded:
        offsets[document.source] = position
        position += len(chunks[document.source])
        sentence_offsets[document.source] = sentence_position
        sentence_position += sum(len(spans[id(chunk)]) for chunk in chunks[document.source])
    entries: list[tuple[str, object]] = [(source, "kept") for source in kept]
    entries += [(document.source, document) for document in loaded]
    for source, entry in sorted(entries, key=lambda item: item[0]):
        if isinstance(entry, LoadedDocument):
            described = descriptions.get(source, Description())
            title = described.title or entry.title  # the admins' word first, then the document's own
            group = [analysed(chunk, title, spans[id(chunk)]) for chunk in chunks[source]]
            start = offsets[source]
            vector_parts.append(new_vectors[start:start + len(group)])
            first = sentence_offsets[source]
            sentence_parts.append(new_sentence_vectors[first:first + sum(len(p.sentences) for p in group)])
            documents.append(DocumentInfo(source, title, entry.sha256, entry.kind, entry.page_count,
                                          len(group), stamp, site_of(title, source, sites),
                                          described.author or entry.author, described.year or entry.year,
                                          _described(descriptions, source)))
        else:
            assert previous is not None
            group = previous.chunks_and_terms(source)
            vector_parts.append(previous.reconstruct(previous.document_rows(source)))
            sentence_parts.append(previous.document_sentence_vectors(source))
            documents.append(replace(known[source], site=site_of(known[source].title, source, sites)))
        groups.append(group)
    dimension = embedder.dimension if loaded or previous is None else previous.manifest.dimension
    vectors = np.vstack(vector_parts) if vector_parts else np.zeros((0, dimension), dtype=np.float32)
    sentence_vectors = np.vstack(sentence_parts) if sentence_parts else np.zeros((0, dimension), dtype=np.float16)
    total = sum(len(group) for group in groups)
    manifest = Manifest(FORMAT_VERSION, embedder.name, dimension, settings.chunk_tokens, stamp,
                        len(documents), total, _sites_digest(sites), reader_version=READER_VERSION)
    notices = repeated_notices([stored.chunk.text[start:end] for stored in group for start, end in stored.sentences]
                               for group in groups)
    write_version(build_dir, manifest, documents, groups, vectors, sites, sentence_vectors, notices)
    run.check_stop()
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
