"""Settings of the index floor (corpus, index folder, model, chunking), read from the environment in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from index.errors import ConfigError

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class IndexSettings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("var/index")
    embedding_model: str = PACKAGED_MODEL
    query_prefix: str | None = None  # None: chosen from the model's family (E5 needs "query: ")
    passage_prefix: str | None = None
    chunk_tokens: int = 256  # word pieces per passage; capped by what the model reads (254 for MiniLM)
    max_file_mb: int = 100
    embed_batch_size: int = 32


def env_int(env: Mapping[str, str], key: str, default: int, minimum: int, maximum: int) -> int:
    """An integer setting; a bad value raises ConfigError naming the key."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} doit être un nombre entier (valeur reçue : « {raw} »).") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{key} doit être compris entre {minimum} et {maximum} (valeur reçue : {value}).")
    return value


def _optional(env: Mapping[str, str], key: str) -> str | None:
    return env.get(key)


def index_settings_from_env(env: Mapping[str, str] | None = None) -> IndexSettings:
    """Build the settings from the environment (already merged with `.env` by the entry point)."""
    env = os.environ if env is None else env
    return IndexSettings(
        corpus_dir=Path(env.get("CORPUS_DIR", "").strip() or "corpus"),
        index_dir=Path(env.get("INDEX_DIR", "").strip() or "var/index"),
        embedding_model=env.get("EMBEDDING_MODEL", "").strip() or PACKAGED_MODEL,
        query_prefix=_optional(env, "EMBEDDING_QUERY_PREFIX"),
        passage_prefix=_optional(env, "EMBEDDING_PASSAGE_PREFIX"),
        chunk_tokens=env_int(env, "CHUNK_TOKENS", 256, 32, 8192),
        max_file_mb=env_int(env, "MAX_FILE_MB", 100, 1, 10_000),
        embed_batch_size=env_int(env, "EMBED_BATCH_SIZE", 32, 1, 4096),
    )
