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
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from index.errors import ConfigError

DOCUMENTS_FILE = "documents.toml"


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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} est illisible : {error}") from None
    descriptions = {}
    for source, entry in data.items():
        year = entry.get("year") if isinstance(entry, dict) else None
        year_ok = year is None or (isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 2999)
        if not isinstance(entry, dict) or not year_ok \
                or not all(isinstance(entry.get(key, ""), str) for key in ("title", "author")):
            raise ConfigError(f"{path} : l’entrée [\"{source}\"] attend title et author en texte, year en nombre "
                              "(par exemple year = 2017).")
        descriptions[source.replace("\\", "/")] = Description(entry.get("title", "").strip(),
                                                              entry.get("author", "").strip(), year)
    return descriptions
