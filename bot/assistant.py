"""The assistant's blocking operations, shared by the bot, `vve chat`/`vve ask` and the HTTP API.

question → retrieve (index.retriever) → answer (bot.answer) → render (bot.render) → reply (bot.handlers / bot.web)
Everything here blocks (model, FAISS, SQLite, files): async callers run it in a worker thread. The one coroutine,
`follow_index`, is the reload loop the bot and the HTTP service both run.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from bot import render
from bot.answer import Answer, answer_kind, compose, enumerations_first
from bot.metrics import Metrics
from bot.settings import BotSettings
from bot.state import BotState
from bot.understand import Understood, french_words, understand
from index.embedder import Embedder
from index.errors import IndexFailure
from index.normalize import clean_input
from index.retriever import Retriever, parse_site_filter, resolve_site
from index.store import ingestion_lock
from index.types import SearchResult, Site
from ingest.budget import BudgetedReader
from ingest.build import IngestReport, Progress, ingest, read_budget
from ingest.errors import UnreadableDocument
from ingest.load import sniff

log = logging.getLogger(__name__)
T = TypeVar("T")

# Questions asked together are embedded in one batch (index.embedder), and a batch holds the questions that are in
# worker threads at once: asyncio's default pool (cpu_count + 4 = 6 threads on 2 cores) capped it at 6.
WORKER_THREADS = 32
MEMORY_RETRY_SECONDS = 30  # after bot.sqlite fails (locked, read-only), it is left alone this long
ANSWER_DEPTH = 10  # passages fetched per question: quoted ones, then « Plus de résultats »
SUFFIX_BY_KIND = {"pdf": ".pdf", "docx": ".docx", "markdown": ".md", "text": ".txt", "html": ".html"}
MAX_QUESTION_CHARS = 500


def use_worker_threads(loop: asyncio.AbstractEventLoop) -> None:
    """Give the running loop the pool that `asyncio.to_thread` uses: WORKER_THREADS threads (see there)."""
    loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="vve-worker"))


class QuestionEmpty(IndexFailure):
    def __init__(self) -> None:
        super().__init__("La question est vide : posez-la en une phrase, par exemple « Qu’est-ce que la Pactotec ? ».")


class QuestionTooLong(IndexFailure):
    def __init__(self) -> None:
        super().__init__(f"Votre question est trop longue (plus de {MAX_QUESTION_CHARS} caractères) : "
                         "posez-la en une ou deux phrases.")


@dataclass(frozen=True)
class Reading:
    """A question as understood in its conversation, what the index returned for it, and the corpus it was read in."""

    understood: Understood
    result: SearchResult
    sites: tuple[Site, ...]
    known: Callable[[str], bool]


@dataclass(frozen=True)
class AddedDocument:
    name: str
    replaced: bool  # a file of that name existed with other content (kept aside in corpus/.remplaces/)
    identical: bool  # the same file was already in the corpus: nothing to do
    report: IngestReport | None


@dataclass
class Assistant:
    """Built once in `__main__` and passed in; holds the live retriever and the bot's memory."""

    settings: BotSettings
    embedder: Embedder
    retriever: Retriever
    state: BotState
    metrics: Metrics = field(default_factory=Metrics, repr=False)
    failure: str = ""  # why the served index cannot answer (a damaged version), until a version works; for /healthz
    reader: BudgetedReader | None = field(default=None, repr=False)  # documents read under the budget (ingest.budget)
    _ingest_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _memory_down_until: float = field(default=0.0, repr=False)  # bot.sqlite failed: skipped until then

    @classmethod
    def build(cls, settings: BotSettings, embedder: Embedder) -> Assistant:
        state = BotState(settings.state_db, settings.button_ttl_hours * 3600, settings.conversation_minutes * 60)
        return cls(settings, embedder, Retriever(settings.index.index_dir, embedder), state,
                   reader=BudgetedReader(read_budget(settings.index)))

    # question → retrieve → answer

    def search(self, raw_query: str, k: int = 5, site: str = "") -> SearchResult:
        """A search, filtered by a `ville:` in the text or by `site`; UnknownSite for a site not in the corpus."""
        if len(raw_query) > MAX_QUESTION_CHARS:
            raise QuestionTooLong()
        raw_query = clean_input(raw_query)
        sites = self.retriever.snapshot.sites()
        query, named = parse_site_filter(raw_query, sites)
        return self.retriever.search(query, k=k, site=named or (resolve_site(site, sites) if site else ""))

    def ask(self, question: str, user_id: int = 0, record: bool = True, conversation: str = "") -> tuple[Answer, int]:
        """The answer to a question, and the id under which it was recorded (for feedback); 0 when not recorded.

        `conversation` names the conversation (a Telegram chat, a user in a group, a `vve chat` session): a question
        that does not stand alone is read with the subject of its previous turn (bot.understand)."""
        if len(question) > MAX_QUESTION_CHARS:
            raise QuestionTooLong()
        if not question.strip():
            raise QuestionEmpty()
        question, conversation = clean_input(question), clean_input(conversation)
        reading = self.read(question, conversation)
        understood = reading.understood
        answer = replace(compose(reading.result, reading.sites, reading.known),
                         question=understood.asked or question.strip(),
                         corrections=tuple((c.typed, c.corrected) for c in understood.corrections),
                         context=understood.context, english=understood.english)
        previous = self.memory("lire la question précédente", lambda: self.state.last_question(conversation), "") \
            if conversation and understood.context else ""
        turn = understood.turn
        if conversation and turn is not None:
            self.memory("retenir la conversation", lambda: self.state.remember_turn(
                conversation, turn, question=question.strip()), None)
        question_id = self.memory("enregistrer la question", lambda: self.state.record_question(
            user_id, question.strip(), answer.found, answer=render.answer_plain(answer),
            sources=render.sources_json(answer), previous=previous), 0) if record else 0
        self.metrics.questions.labels("answered" if answer.found else "unanswered").inc()
        return answer, question_id

    def read(self, question: str, conversation: str = "") -> Reading:
        """How a (cleaned) question is understood in its conversation, and what the index returns for it."""
        snapshot = self.retriever.snapshot
        sites = snapshot.sites()
        previous = self.memory("lire la conversation", lambda: self.state.last_turn(conversation), None) \
            if conversation else None
        understood = understand(question, sites, previous, snapshot.vocabulary, snapshot.words)
        lexical = french_words(understood.query, snapshot.vocabulary) if understood.english else None
        query, named = parse_site_filter(understood.query, sites)
        listing = answer_kind(query) == "sites" and bool(sites)
        result = self.retriever.search(query, k=ANSWER_DEPTH * (3 if listing else 1), site=named,
                                       lexical_query=lexical)
        if listing:  # « quels sites… ? »: the documents' own enumerations of the sites come first
            result = replace(result, hits=enumerations_first(result.hits, sites)[:ANSWER_DEPTH])
        # the words the documents use somewhere
        return Reading(understood, result, sites, snapshot.vocabulary.__contains__)

    def memory(self, what: str, action: Callable[[], T], fallback: T) -> T:
        """A read or write of the bot's memory (`bot.sqlite`) that must not cost the user the answer already
        computed: locked, damaged or read-only, it is logged and skipped (`fallback`)."""
        if time.monotonic() < self._memory_down_until:
            return fallback  # it failed a moment ago: no question waits 2 s more for it
        try:
            return action()
        except sqlite3.Error as error:
            self._memory_down_until = time.monotonic() + MEMORY_RETRY_SECONDS
            log.warning("mémoire du bot indisponible (%s) : impossible de %s, la réponse part sans ; nouvel essai "
                        "dans %d s", error, what, MEMORY_RETRY_SECONDS)
            return fallback

    def forget_conversation(self, conversation: str) -> bool:
        return self.state.forget_conversation(conversation)

    def record_feedback(self, question_id: int, user_id: int, positive: bool, passages: list[str]) -> None:
        self.state.record_feedback(question_id, user_id, positive, passages)
        self.metrics.feedback.labels("up" if positive else "down").inc()

    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for: the model (one query encoded), the index, its
        vocabulary and words, and one search through FAISS and SQLite. IndexFailure when the index is missing or
        damaged; the reason stays in `failure` (for /healthz) until a version passes."""
        started = time.perf_counter()
        self.embedder.embed_query("échauffement du modèle")  # the model loads even while there is no index
        try:
            snapshot = self.retriever.snapshot
            self.retriever.warm(snapshot)
        except IndexFailure as error:
            self.failure = str(error)
            raise
        self.failure = ""
        self._gauges()
        log.info("ready in %.1f s: model %s, index %s (%d passages, %d terms)", time.perf_counter() - started,
                 self.embedder.name, snapshot.version_dir.name, snapshot.manifest.passages, len(snapshot.vocabulary))

    def refresh(self) -> bool:
        """Serve a version swapped in by another process, warmed before it is served; keeps the index gauges
        current. A version that fails leaves the previous one served (IndexFailure)."""
        changed = self.retriever.refresh()
        if changed:
            self.failure = ""
        self._gauges()
        return changed

    def _gauges(self) -> None:
        manifest = self.retriever.snapshot.manifest
        self.metrics.index_documents.set(manifest.documents)
        self.metrics.index_passages.set(manifest.passages)

    # administration

    @property
    def ingesting(self) -> bool:
        return self._ingest_lock.locked()

    def reingest(self, progress: Progress | None = None, full: bool = False) -> IngestReport:
        """Run ingestion (IngestionLocked if another run holds the index), then serve the new version."""
        with self._ingest_lock:
            report = self._ingest_locked(progress, full)
        self.refresh()
        return report

    def _ingest_locked(self, progress: Progress | None, full: bool = False, lock_held: bool = False) -> IngestReport:
        """One run, the caller holding `_ingest_lock` (and `ingest.lock` when `lock_held`); the reading worker is
        let go at the end, so that an idle bot keeps no process of it."""
        reader = self._reader()
        try:
            report = ingest(self.settings.index, self.embedder, full=full, progress=progress, reader=reader,
                            stop=self._stopping, lock_held=lock_held)
        except IndexFailure:
            self.metrics.ingestions.labels("failed").inc()
            raise
        finally:
            reader.close()
        self.metrics.ingestions.labels("failed" if report.failed else "ok").inc()
        return report

    def _reader(self) -> BudgetedReader:
        if self.reader is None:
            self.reader = BudgetedReader(read_budget(self.settings.index))
        return self.reader

    def stop_ingestion(self) -> None:
        """The process is stopping (SIGTERM): a run in progress ends between two files or two batches, the reading
        worker is killed, and the previous index stays served. Later runs are refused."""
        self._stopping.set()
        self._reader().stop()

    def add_document(self, file_name: str, data: bytes, progress: Progress | None = None) -> AddedDocument:
        """Check a sent file by content, read it, put it in the corpus under a safe name and ingest it.

        A file that cannot be read raises UnreadableDocument and the corpus and index stay as they were.
        """
        limit = self.settings.max_upload_mb * 1_048_576
        if len(data) > limit:
            raise UnreadableDocument(f"fichier trop volumineux ({len(data) / 1_048_576:.1f} Mo, limite "
                                     f"{self.settings.max_upload_mb} Mo)")
        if not data:
            raise UnreadableDocument("fichier vide (0 octet)")
        kind = sniff(data)
        name = safe_file_name(file_name, SUFFIX_BY_KIND[kind])
        corpus = self.settings.index.corpus_dir
        corpus.mkdir(parents=True, exist_ok=True)
        # Checked, placed and ingested under both locks: no other run (ours or `vve ingest`) sees the corpus between
        # the check and the ingestion; the check reads the file in the worker, under the same budget as ingestion.
        with self._ingest_lock, ingestion_lock(self.settings.index.index_dir), \
                tempfile.TemporaryDirectory(dir=corpus, prefix=".upload-") as scratch:
            trial = Path(scratch) / name
            trial.write_bytes(data)
            if progress is not None:
                progress.file_done(name, 0, 1)
            reader = self._reader()
            try:
                reader.read(trial, name, limit)  # raises UnreadableDocument before anything changes
            finally:
                reader.close()
            target = corpus / name
            replaced = identical = False
            if target.exists():
                if target.read_bytes() == data:
                    identical = True
                else:
                    aside = corpus / ".remplaces" / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
                    aside.parent.mkdir(exist_ok=True)
                    shutil.copy2(target, aside)
                    replaced = True
            if not identical:
                trial.replace(target)
            report = None if identical else self._ingest_locked(progress, lock_held=True)
        if report is not None:
            self.refresh()
        return AddedDocument(name, replaced, identical, report)


NAME_BYTES = 200  # of a file's stem: below 255, the file system's limit, with room for a prefix


def safe_file_name(name: str, suffix: str) -> str:
    """A plain file name inside the corpus folder: no directory, no hidden file, the suffix of its real type.

    >>> safe_file_name("../../etc/passwd", ".txt"), safe_file_name("Étude Angers.PDF", ".pdf")
    ('passwd.txt', 'Étude Angers.pdf')
    >>> safe_file_name(".bashrc", ".md"), safe_file_name("a/b\\\\c:d?.html", ".html")
    ('bashrc.md', 'c_d.html')

    Cut in bytes, at a character's edge: file systems count 255 bytes, and the corpus may add a prefix (the date of a
    replaced file, 16 bytes) — 100 CJK characters are 300 bytes.
    >>> len(safe_file_name("報告" * 100, ".pdf").encode())
    202
    """
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    # letters with their combining marks (Devanagari vowel signs, Hebrew points) are kept: « _ » would merge names
    stem = "".join(char if char.isalnum() or char in "-_ ()'’," or unicodedata.category(char).startswith("M")
                   else "_" for char in stem).strip(" ._")
    stem = stem.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").strip(" ._") or "document"
    return stem + suffix


async def follow_index(assistant: Assistant) -> None:
    """Serve an index swapped in by another process (`vve ingest`) within RELOAD_SECONDS; runs until cancelled."""
    while True:
        await asyncio.sleep(assistant.settings.reload_seconds)
        try:
            await asyncio.to_thread(assistant.refresh)
        except IndexFailure as error:
            log.warning("index not reloaded: %s", error)
        except Exception:  # anything else too: a loop that dies would leave a stale index served silently
            log.exception("index reload failed; next try in %s s", assistant.settings.reload_seconds)
