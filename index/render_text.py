"""Plain-text and JSON views of search results, shared by the command line and the HTTP API."""

from __future__ import annotations

import re
from typing import Any

from index.lexical import analyze, fold
from index.types import Hit, Passage, SearchResult


def citation(passage: Passage) -> str:
    """« Titre, Section, p. 3 » — what a reader needs to find the passage again."""
    section = passage.section if passage.section != passage.title else ""
    cited = ", ".join(part for part in (passage.title, section, passage.page_label) if part)
    return cited + "".join(f" ; aussi dans « {title} »" for title in passage.also_in)


def reference(passage: Passage) -> str:
    """The citation as a practitioner pastes it into a report: author, « title », year (« s. d. » when unknown), page,
    section. The title and author come from corpus/documents.toml, else the file's own metadata, else its first
    heading (ingest).

    >>> reference(Passage(0, "r.pdf", "Cohésion sociale et territoires", "Synthèse", 12, 13, "", author="Odas",
    ...                   year=2017))
    'Odas, « Cohésion sociale et territoires », 2017, p. 12-13, section « Synthèse ».'
    >>> reference(Passage(0, "note.md", "Note", "Note", None, None, ""))
    '« Note », s. d.'
    """
    section = passage.section if passage.section and passage.section != passage.title else ""
    parts = [passage.author, f"« {passage.title} »", str(passage.year) if passage.year else "s. d.",
             passage.page_label, f"section « {section} »" if section else ""]
    text = ", ".join(part for part in parts if part)
    return text if text.endswith(".") else text + "."


def snippet(text: str, query: str, width: int = 260) -> str:
    """The window of the passage that holds the most of the query's words (the first such window, a little before
    its first match), cut on word boundaries (inside a word when there is none to cut at: a text without spaces still
    gets a window of `width`).

    >>> len(snippet("x" * 10_000, "Angers", 100)), snippet("un deux trois quatre", "trois", 12)
    (101, '…trois quatre')
    >>> snippet("Le comité se réunit. " * 8 + "Le comité de pilotage de Creil se réunit en mars.", "comité Creil", 60)
    '…se réunit. Le comité de pilotage de Creil se réunit en mars.'
    """
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= width:
        return flat
    wanted = set(analyze(query))
    matches = [(match.start(), match.end(), terms) for match in re.finditer(r"[^\W_]+", flat)
               if (terms := wanted.intersection(analyze(match.group())))]
    start, best = 0, 0
    for position, _, _ in matches:
        window = position - width // 4, position - width // 4 + width - 2  # room for the cut's « … »
        held = len(set().union(*(terms for at, until, terms in matches if window[0] <= at and until <= window[1])))
        if held > best:
            start, best = max(0, window[0]), held
    if start:
        space = flat.find(" ", start, start + width // 4)
        start = space + 1 if space >= 0 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def hit_json(hit: Hit) -> dict[str, Any]:
    passage = hit.passage
    return {"source": passage.source, "title": passage.title, "also_in": list(passage.also_in),
            "section": passage.section,
            "page": passage.page_start, "score": round(hit.score, 4), "text": passage.text,
            "site": passage.site}


def result_json(result: SearchResult) -> dict[str, Any]:
    """The stable shape other tools read: {"query", "hits": [{"source", "title", "section", "page", "score",
    "text"}]}; fields may be added, never renamed."""
    return {"query": result.query, "found": result.found, "confidence": result.confidence, "site": result.site,
            "hits": [hit_json(hit) for hit in result.hits]}


def result_text(result: SearchResult) -> str:
    if not result.hits:
        return f"Aucun passage trouvé pour « {result.query} »."
    lines = []
    if not result.found:
        lines.append("(aucun passage ne semble répondre vraiment ; les plus proches :)")
    for rank, hit in enumerate(result.hits, 1):
        lines.append(f"{rank}. {citation(hit.passage)}  [{hit.score:.2f}]")
        lines.append(f"   {snippet(hit.passage.text, result.query)}")
        lines.append(f"   ({hit.passage.source})")
    return "\n".join(lines)


def matches_expected(text: str, needle: str) -> bool:
    """Comparison used by the evaluation files: without case and accents."""
    return fold(needle) in fold(text)
