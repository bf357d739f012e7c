"""The study's sites, read from `sites.toml` in the corpus folder, and which document belongs to which site.

The file is the corpus's own description of its sites (name, other names such as the inhabitants', axis,
subject); it is configuration, not a document, so ingestion does not index it as text.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from index.errors import ConfigError
from index.retriever import sites_named
from index.types import Site

SITES_FILE = "sites.toml"


def load_sites(corpus_dir: Path) -> tuple[Site, ...]:
    path = corpus_dir / SITES_FILE
    if not path.exists():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} est illisible : {error}") from None
    sites = []
    for entry in data.get("site", []):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(f"{path} : chaque [[site]] doit avoir un « name ».")
        sites.append(Site(name=str(entry["name"]), aliases=tuple(str(alias) for alias in entry.get("aliases", ())),
                          axis=str(entry.get("axis", "")), subject=str(entry.get("subject", ""))))
    return tuple(sites)


def site_of(title: str, source: str, sites: tuple[Site, ...]) -> str:
    """The site a document is about, from its title or else its file name; '' for documents about the whole study.

    >>> sites = (Site("Le Havre", ("Havrais",)), Site("Angers"))
    >>> site_of("Étude de cas — Le Havre", "cas/x.pdf", sites), site_of("Synthèse", "r.pdf", sites)
    ('Le Havre', '')
    """
    for text in (title, Path(source).stem):
        named = sites_named(text, sites)
        if len(named) == 1:
            return named[0]
    return ""
