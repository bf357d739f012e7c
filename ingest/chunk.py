"""Paragraphs -> passages that fit what the embedding model reads, cut on paragraph and sentence boundaries."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from index.types import Chunk, LoadedDocument

TokenCounter = Callable[[Sequence[str]], list[int]]

_MEASURED_CHARS = 20_000  # longer texts are cut without asking the tokenizer (a word piece is at least a character)
_WORD_CHARS = 100

# A sentence ends with . ! ? or … (maybe closed by » or a quote) before a capital, a digit or an opening «.
# A single capital before the full stop is an initial (« J. Dupont »), not an end.
_SENTENCE_BREAK = re.compile(r"(?<!\b[A-ZÀ-Þ]\.)(?<=[.!?…])(?:\s*[»”\"’)])?\s+(?=[«\"“(]?\s*[A-ZÀ-Þ0-9])")

# Abbreviations whose full stop does not end a sentence, compared in lower case without the final period: a quote
# must keep « p. 12 », « art. 4 », « env. 60 ». French typography (Lexique de l'Imprimerie nationale) plus the
# forms seen in reports: references, civilities, units, months, Latin phrases. « etc. » is here too: when it does
# end a sentence, keeping two sentences together loses nothing, while a cut after it orphans what follows.
_ABBREVIATION_LIST = """
    p pp art arts al alin chap ch fig tab tabl vol t éd ed coll sect ann doc réf ref n no nº n° num
    cf env ex etc ibid id op cit loc sq suiv sqq vs i.e e.g c.-à-d c-à-d cad
    m mm mme mmes mlle mlles dr pr prof me mgr st ste sté cie
    av apr j.-c bd boul tél tel hab approx min max mn
    janv févr fév avr juil sept oct nov déc
"""
ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
_LIST_MARKER = re.compile(r"(?<!\S)\d{1,2}\.$")


def _keeps_going(before: str) -> bool:
    """Whether the full stop that ends `before` belongs to an abbreviation or a list number, not a sentence end."""
    if not before.endswith("."):
        return False
    tail = before[-40:]  # only the last word counts: a huge paragraph must not make this quadratic
    marker = _LIST_MARKER.search(tail)
    if marker:
        preceding = before[:len(before) - len(marker.group())].rstrip()
        if not preceding or preceding.endswith((":", ";")):
            return True  # « objectifs : 1. Favoriser … ; 2. Renforcer »
    word = re.split(r"[\s(«\"“'’]", tail[:-1])[-1].lower()
    return word in ABBREVIATIONS


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a paragraph.

    >>> text = "Le CCAS a ouvert le Comptoir en 2018. J. Dupont l’a dit : « c’est utile ». Ensuite ?"
    >>> [text[a:b] for a, b in split_sentences(text)]
    ['Le CCAS a ouvert le Comptoir en 2018.', 'J. Dupont l’a dit : « c’est utile ».', 'Ensuite ?']
    >>> text = "Selon le rapport p. 12 et l’art. 4, env. 60 personnes (cf. M. Roux). Fin."
    >>> [text[a:b] for a, b in split_sentences(text)]
    ['Selon le rapport p. 12 et l’art. 4, env. 60 personnes (cf. M. Roux).', 'Fin.']
    """
    spans = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        if _keeps_going(text[start:match.start()]):
            continue
        end = match.start() + len(match.group().rstrip())
        spans.append((start, end))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of a passage as stored with it (spaces around them left out): split once, at ingestion, so
    that their vectors and the text they quote never drift apart.

    >>> text = " Le CCAS a ouvert.  Puis la suite. "
    >>> [text[a:b] for a, b in sentence_spans(text)]
    ['Le CCAS a ouvert.', 'Puis la suite.']
    """
    spans = []
    for start, end in split_sentences(text):
        piece = text[start:end]
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        if end > start:
            spans.append((start, end))
    return spans


@dataclass(frozen=True)
class _Unit:
    """A piece that is never cut further: a paragraph, a sentence, or a window of words of a huge sentence."""

    start: int
    end: int
    page: int | None
    paragraph: int
    tokens: int


def document_text(document: LoadedDocument) -> tuple[str, list[int]]:
    """The text that character offsets refer to (paragraphs joined by a blank line) and each paragraph's offset."""
    offsets, position = [], 0
    for paragraph in document.paragraphs:
        offsets.append(position)
        position += len(paragraph.text) + 2
    return "\n\n".join(paragraph.text for paragraph in document.paragraphs), offsets


def chunk_document(document: LoadedDocument, count_tokens: TokenCounter, max_tokens: int) -> list[Chunk]:
    """Cut a document into passages of at most `max_tokens` word pieces, section heading included.

    Whole paragraphs are kept together when they fit; a longer paragraph is cut between sentences, and the next
    passage repeats the last sentence so that no statement loses its context; a passage never spans two sections.
    """
    text, offsets = document_text(document)
    sections: list[list[int]] = []
    for index, paragraph in enumerate(document.paragraphs):
        if sections and document.paragraphs[sections[-1][0]].section == paragraph.section:
            sections[-1].append(index)
        else:
            sections.append([index])
    heading_tokens = dict(zip({p.section for p in document.paragraphs},
                              count_tokens(list({p.section for p in document.paragraphs})), strict=True))
    chunks: list[Chunk] = []
    for indices in sections:
        section = document.paragraphs[indices[0]].section
        # a heading that costs more than a quarter of a passage (300 characters can make 1,200 word pieces) is not
        # read with each of its passages: repeated, it would leave them 16 word pieces each and multiply them
        heading_cost = heading_tokens.get(section, 0)
        embed_section = heading_cost <= max_tokens // 4
        budget = max(16, max_tokens - (heading_cost + 1 if embed_section else 0))
        units = _units(document, indices, offsets, count_tokens, budget)
        for group in _pack(units, budget):
            first, last = group[0], group[-1]
            chunks.append(Chunk(
                source=document.source, section=section, page_start=first.page, page_end=last.page,
                char_start=first.start, char_end=last.end, text=text[first.start:last.end],
                embed_section=embed_section,
            ))
    return mark_front_matter(chunks)


def mark_front_matter(chunks: list[Chunk]) -> list[Chunk]:
    """Passages before a document's first heading, on its first page, are its front matter (title page, banner,
    sources, table of contents), when the document has headings at all: kept searchable, never quoted as an answer.

    >>> c = lambda section, page: Chunk("a.pdf", section, page, page, 0, 1, "x")
    >>> [chunk.front_matter for chunk in mark_front_matter([c("", 1), c("1. Contexte", 1), c("", 2)])]
    [True, False, False]
    >>> [chunk.front_matter for chunk in mark_front_matter([c("", 1), c("", 2)])]
    [False, False]
    """
    first_heading = next((index for index, chunk in enumerate(chunks) if chunk.section), None)
    if first_heading is None:
        return chunks
    return [replace(chunk, front_matter=True) if index < first_heading and not chunk.section
            and (chunk.page_start or 1) <= 1 else chunk for index, chunk in enumerate(chunks)]


def _units(document: LoadedDocument, indices: list[int], offsets: list[int], count_tokens: TokenCounter,
           budget: int) -> list[_Unit]:
    paragraphs = [document.paragraphs[index] for index in indices]
    # A text this long is over any budget: measuring it would only cost time and memory (a 5 MB « word »).
    whole = [count if len(paragraph.text) <= _MEASURED_CHARS else budget + 1 for paragraph, count in zip(
        paragraphs, count_tokens([p.text if len(p.text) <= _MEASURED_CHARS else "" for p in paragraphs]), strict=True)]
    units: list[_Unit] = []
    for index, paragraph, tokens in zip(indices, paragraphs, whole, strict=True):
        base = offsets[index]
        if tokens <= budget:
            units.append(_Unit(base, base + len(paragraph.text), paragraph.page, index, tokens))
            continue
        spans = split_sentences(paragraph.text)
        counts = [count if b - a <= _MEASURED_CHARS else budget + 1 for (a, b), count in zip(
            spans, count_tokens([paragraph.text[a:b] if b - a <= _MEASURED_CHARS else "" for a, b in spans]),
            strict=True)]
        for (start, end), count in zip(spans, counts, strict=True):
            if count <= budget:
                units.append(_Unit(base + start, base + end, paragraph.page, index, count))
            else:
                units.extend(_word_windows(paragraph.text, start, end, base, paragraph.page, index,
                                           count_tokens, budget))
    return units


def _word_windows(text: str, start: int, end: int, base: int, page: int | None, paragraph: int,
                  count_tokens: TokenCounter, budget: int) -> list[_Unit]:
    # a « word » longer than _WORD_CHARS (a hash, a base64 blob, text without spaces) is cut into pieces
    words = [(match.start() + start, match.end() + start)
             for match in re.finditer(rf"\S{{1,{_WORD_CHARS}}}", text[start:end])]
    counts = count_tokens([text[a:b] for a, b in words])
    windows: list[_Unit] = []
    window_start, window_tokens, previous_end = words[0][0], 0, words[0][0]
    for (word_start, word_end), count in zip(words, counts, strict=True):
        if window_tokens and window_tokens + count > budget:
            windows.append(_Unit(base + window_start, base + previous_end, page, paragraph, window_tokens))
            window_start, window_tokens = word_start, 0
        window_tokens += count
        previous_end = word_end
    windows.append(_Unit(base + window_start, base + previous_end, page, paragraph, window_tokens))
    return windows


def _pack(units: list[_Unit], budget: int) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    total = 0
    for unit in units:
        if current and total + unit.tokens > budget:
            groups.append(current)
            last = current[-1]
            # Within a cut paragraph, repeat its last sentence if it leaves room: the overlap keeps context.
            carry = last.paragraph == unit.paragraph and last.tokens + unit.tokens <= budget // 2
            current, total = ([last], last.tokens) if carry else ([], 0)
        current.append(unit)
        total += unit.tokens
    if current:
        groups.append(current)
    return groups
