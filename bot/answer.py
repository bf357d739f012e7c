"""Search result → answer: the few sentences of the best passages that answer the question, each with its marker.

The bot adds no claim of its own: an answer is only sentences quoted from passages, and the citations they point to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.lexical import analyze
from index.types import Passage, SearchResult
from ingest.chunk import split_sentences

MAX_QUOTES = 4
MAX_QUOTE_CHARS = 420  # a quote longer than this is cut on a word boundary
PASSAGES_CONSIDERED = 4
_NUMBER = re.compile(r"\b(?:1[89]\d\d|20\d\d|\d{1,3}(?:[ \u202f\u00a0]\d{3})+|\d+ ?%)")  # years, figures


@dataclass(frozen=True)
class Quote:
    text: str
    marker: int  # 1-based: the citation it comes from


@dataclass(frozen=True)
class Citation:
    marker: int
    passage: Passage


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    quotes: tuple[Quote, ...]
    citations: tuple[Citation, ...]
    more: tuple[Passage, ...]  # passages not quoted, for « Plus de résultats »
    near_sites: tuple[str, ...] = ()  # for a miss: sites whose passages came closest
    site: str = ""
    # how the question was read (bot.understand), said to the reader
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, corrected)
    context: str = ""  # taken from the conversation's previous turn: « Creil, sujet accompagnement »
    english: bool = False


@dataclass(frozen=True)
class _Sentence:
    text: str
    passage_index: int
    position: int
    terms: frozenset[str]
    numbers: frozenset[str]


def _sentences(passages: Sequence[Passage]) -> list[_Sentence]:
    found = []
    for index, passage in enumerate(passages):
        text = re.sub(r"\s+", " ", passage.text).strip()
        for position, (start, end) in enumerate(split_sentences(text)):
            sentence = text[start:end].strip()
            if len(sentence) >= 12:
                found.append(_Sentence(sentence, index, position, frozenset(analyze(sentence)),
                                       frozenset(_NUMBER.findall(sentence))))
    return found


def _trim(text: str) -> str:
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_QUOTE_CHARS)
    return text[: cut if cut > 0 else MAX_QUOTE_CHARS].rstrip(" ,;:") + " […]"


def select_sentences(question: str, passages: Sequence[Passage]) -> list[_Sentence]:
    """The sentences that answer best: the best one, then good ones from other passages (so that two sources
    that disagree on a date or a figure both appear), at most MAX_QUOTES, in the order of their passages."""
    wanted = set(analyze(question))
    sentences = _sentences(passages[:PASSAGES_CONSIDERED])
    if not sentences:
        return []

    # a question term found in few of these sentences says more than one found everywhere (« lancé » vs « Pactotec »)
    weight = {term: math.log(1 + len(sentences) / sum(1 for s in sentences if term in s.terms))
              for term in wanted if any(term in s.terms for s in sentences)}

    def listing(sentence: _Sentence) -> bool:
        # an enumeration (a list of sources, of partners) repeats the question's names without saying anything
        return sentence.text.count(";") >= 3 or sentence.text.count(",") >= 8

    def overlap(sentence: _Sentence) -> float:
        # the rank of the passage breaks ties: the retriever already weighed the evidence
        found = sum(weight[term] for term in wanted & sentence.terms)
        return found * (0.5 if listing(sentence) else 1.0) - 0.01 * sentence.passage_index

    scored = sorted(sentences, key=lambda s: (-overlap(s), s.passage_index, s.position))
    best = scored[0]
    if overlap(best) <= 0:  # the passages matched on meaning, not words: quote the top passage's opening
        return [s for s in sentences if s.passage_index == 0][:2]
    chosen = [best]
    # what the question is about, by name (« la Pactotec », « Angers »): another date or figure given for it by
    # another passage is a disagreement to show
    names = frozenset(term for word in re.findall(r"(?<=\s)[A-ZÀ-Ý][\w’'-]+", question) for term in analyze(word))
    for sentence in scored[1:]:
        if len(chosen) == MAX_QUOTES:
            break
        score = overlap(sentence)
        same_passage = sum(1 for c in chosen if c.passage_index == sentence.passage_index)
        other_figures = bool(names) and names <= sentence.terms and bool(sentence.numbers) and not listing(
            sentence) and any(c.numbers and c.numbers != sentence.numbers and c.passage_index != sentence.passage_index
                              for c in chosen)
        strong = score >= 0.6 * overlap(best)
        if (strong and same_passage < 2) or other_figures:
            chosen.append(sentence)
    return sorted(chosen, key=lambda s: (s.passage_index, s.position))


def compose(result: SearchResult) -> Answer:
    """Turn a search result into an answer; a result the retriever judged unanswered gives a miss."""
    passages = [hit.passage for hit in result.hits]
    if not result.found or not passages:
        near = tuple(dict.fromkeys(p.site for p in passages[:5] if p.site))[:3]
        return Answer(result.query, False, (), (), tuple(passages), near, result.site)
    chosen = select_sentences(result.query, passages)
    # passages with the same citation (same document, section and page) share one marker
    markers: dict[int, int] = {}
    by_citation: dict[tuple[str, str, str], int] = {}
    cited: dict[int, Passage] = {}
    for sentence in chosen:
        index = sentence.passage_index
        if index in markers:
            continue
        passage = passages[index]
        key = (passage.source, passage.section, passage.page_label)
        if key in by_citation:
            marker = by_citation[key]
            first = cited[marker]
            if passage.text not in first.text:
                cited[marker] = replace(first, text=f"{first.text}\n\n{passage.text}")
        else:
            marker = by_citation[key] = len(by_citation) + 1
            cited[marker] = passage
        markers[index] = marker
    quotes = tuple(Quote(_trim(s.text), markers[s.passage_index]) for s in chosen)
    citations = tuple(Citation(marker, passage) for marker, passage in sorted(cited.items()))
    more = tuple(p for index, p in enumerate(passages) if index not in markers)
    return Answer(result.query, True, quotes, citations, more, (), result.site)
