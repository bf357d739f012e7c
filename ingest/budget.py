"""Each document is read in a worker process, under a wall-clock and a memory budget.

pypdf can spend hours on a small PDF built to be slow (one shared stream of 100,000 text operators drawn on 200 pages,
nested form XObjects), and a reader can swallow memory; neither may hold an ingestion or the bot. A worker process
from a pebble pool reads the file: over `READ_SECONDS` it is killed, over `READ_MEMORY_MB` (`RLIMIT_AS`, set in the
worker) its allocations fail, and either way the file is named and skipped. The pool uses the forkserver start
method: the bot has 32 threads, and forking a threaded process is unsafe.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import threading
import time
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.types import LoadedDocument
from ingest.errors import IngestionStopped, UnreadableDocument
from ingest.load import load_document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadBudget:
    seconds: float = 180
    memory_mb: int = 2048


def _limit_memory(memory_mb: int) -> None:
    """In the worker: its address space is capped at what it maps now plus the budget, so that an allocation over
    budget fails there (MemoryError). What it maps at start depends on the parent: a worker re-imports the main
    module of the process that started it (`vve`'s pulls numpy and faiss in: ~500 MB of address space before any
    document), which is not the document's to pay."""
    limit = (_virtual_kb("VmSize") or 0) * 1024 + memory_mb * 1_048_576
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _read(path: str, source: str, max_bytes: int) -> LoadedDocument:
    """In the worker. Out of memory shows in many ways (MemoryError, which the reader turns into its own message,
    SystemError from a C extension, a crash): any error near the address-space limit is reported as what it is."""
    peak_before = _virtual_kb("VmPeak") or 0  # a worker reads file after file: only this file's growth counts
    try:
        return load_document(Path(path), source, max_bytes)
    except Exception:
        if _near_memory_limit(peak_before):
            raise MemoryError from None
        raise


def _virtual_kb(field: str) -> int | None:
    """A `/proc/self/status` figure in kB (VmSize: address space now, VmPeak: its peak), None where there is none."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:")))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _near_memory_limit(peak_before_kb: int) -> bool:
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit == resource.RLIM_INFINITY:
        return False
    peak_kb = _virtual_kb("VmPeak") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak_kb > peak_before_kb and peak_kb * 1024 >= 0.9 * limit


class BudgetedReader:
    """Reads documents one at a time in a worker process (started on first use, restarted after a kill).

    Thread-safe; `stop()` (SIGTERM) kills a reading in progress and makes every later `read` raise IngestionStopped.
    """

    def __init__(self, budget: ReadBudget) -> None:
        self.budget = budget
        self._pool: Any = None
        self._lock = threading.Lock()  # one reading at a time: the budget is the machine's, not one per caller
        self._stopped = threading.Event()

    def __repr__(self) -> str:
        return f"BudgetedReader({self.budget}, started={self._pool is not None})"

    def _started_pool(self) -> Any:
        if self._pool is None:
            from pebble import ProcessPool

            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ingest.load"])
            self._pool = ProcessPool(max_workers=1, initializer=_limit_memory, initargs=(self.budget.memory_mb,),
                                     context=context)
        return self._pool

    def read(self, path: Path, source: str, max_bytes: int) -> LoadedDocument:
        """The document, or UnreadableDocument (in French) when it cannot be read within the budget."""
        with self._lock:
            if self._stopped.is_set():
                raise IngestionStopped()
            future = self._started_pool().schedule(_read, args=(str(path), source, max_bytes),
                                                   timeout=self.budget.seconds)
            try:
                return self._result(future)
            except FutureTimeout:
                raise UnreadableDocument(
                    f"lecture trop longue (plus de {self.budget.seconds:g} s, READ_SECONDS) : document ignoré, "
                    "il est peut-être construit pour ralentir les lecteurs") from None
            except (CancelledError, RuntimeError) as error:  # the pool was stopped under us
                if self._stopped.is_set():
                    raise IngestionStopped() from None
                raise UnreadableDocument(f"lecture interrompue ({type(error).__name__})") from None
            except UnreadableDocument:
                raise
            except MemoryError:
                raise UnreadableDocument(self._memory_reason()) from None
            except Exception as error:
                if self._stopped.is_set():
                    raise IngestionStopped() from None
                from pebble import ProcessExpired

                if isinstance(error, ProcessExpired):
                    log.warning("the reader of %s died (exit code %s)", source, error.exitcode)
                    raise UnreadableDocument(f"le lecteur s’est arrêté sur ce document (code {error.exitcode}), "
                                             f"sans doute {self._memory_reason()}") from None
                log.exception("unexpected error while reading %s", source)
                raise UnreadableDocument(f"document illisible ({type(error).__name__})") from None

    def _result(self, future: Any) -> LoadedDocument:
        """The worker's answer, waited for in short steps: a stop (SIGTERM) is heard within half a second even when
        the pool fails to settle the future it killed, and a pool that never answers costs the budget and a
        margin, not forever."""
        deadline = time.monotonic() + self.budget.seconds + 30
        while True:
            try:
                return future.result(timeout=0.5)
            except FutureTimeout:
                if future.done():
                    raise  # the budget ran out: pebble killed the worker
                if self._stopped.is_set():
                    future.cancel()
                    raise IngestionStopped() from None
                if time.monotonic() > deadline:
                    log.warning("the reading worker did not answer within its budget: restarted")
                    self.close()
                    raise

    def _memory_reason(self) -> str:
        return f"lecture au-delà de la mémoire permise ({self.budget.memory_mb} Mo, READ_MEMORY_MB)"

    def stop(self) -> None:
        """Kill any reading in progress and refuse later ones (the process is stopping)."""
        self._stopped.set()
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=10)
