"""What the admins say of each document, read from `documents.toml` in the corpus folder: its title, author and
year, for citations and references. Optional; where it is silent, the document's own metadata, then its first
heading, are used (`ingest.load`).

    ["rapport-synthese.pdf"]
    title = "Cohésion sociale et territoires : comment mieux agir ?"
    author = "Odas"
    year = 2017
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from index.errors import ConfigError

DOCUMENTS_FILE = "documents.toml"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Description:
    title: str = ""
    author: str = ""
    year: int | None = None

    @property
    def digest(self) -> str:
        """Recorded with the document: when its description changes, the document is read again."""
        return hashlib.sha256(json.dumps(asdict(self), ensure_ascii=False).encode()).hexdigest()[:16]


def load_descriptions(corpus_dir: Path) -> dict[str, Description]:
    """The descriptions by file (its path in the corpus folder, with forward slashes); {} without the file."""
    path = corpus_dir / DOCUMENTS_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} : erreur de syntaxe TOML ({error}) ; chaque document s’écrit [\"nom.pdf\"] puis "
                          "title = \"…\", author = \"…\", year = 2017.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} n’est pas en UTF-8 : enregistrez-le en UTF-8.") from None
    descriptions = {}
    for source, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{path} : « {source} » doit être une table [\"{source}\"] avec title, author, year.")
        year = entry.get("year")
        if year is not None and not (isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 2999):
            raise ConfigError(f"{path} : dans [\"{source}\"], year doit être une année en chiffres, de 1000 à 2999 "
                              f"(par exemple year = 2017), pas {str(year)[:40]}.")
        for key in ("title", "author"):
            if not isinstance(entry.get(key, ""), str):
                raise ConfigError(f"{path} : dans [\"{source}\"], {key} doit être un texte entre guillemets.")
        unknown = sorted(set(entry) - {"title", "author", "year"})
        if unknown:
            log.warning("%s : dans [\"%s\"], clé(s) inconnue(s) ignorée(s) : %s (attendu : title, author, year)",
                        path, source, ", ".join(unknown)[:200])
        descriptions[source.replace("\\", "/")] = Description(entry.get("title", "").strip()[:300],
                                                              entry.get("author", "").strip()[:200], year)
    return descriptions


def warn_undescribed(descriptions: dict[str, Description], files: Iterable[str]) -> None:
    """An entry for a file the corpus does not hold (a typo, a file since renamed) is said, not silently kept."""
    missing = sorted(set(descriptions) - set(files))
    if missing:
        log.warning("%s décrit des fichiers absents du corpus (nom mal écrit ?) : %s", DOCUMENTS_FILE,
                    ", ".join(missing)[:300])
