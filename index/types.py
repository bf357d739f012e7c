"""Data that flows through the pipeline: documents cut into paragraphs, passages, hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a loaded document, with the section it sits in and its page (None if unpaginated)."""

    text: str
    section: str
    page: int | None


@dataclass(frozen=True)
class LoadedDocument:
    """A document as read from the corpus folder, before chunking."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    sha256: str
    kind: str  # pdf, docx, html, markdown, text
    paragraphs: tuple[Paragraph, ...]
    page_count: int | None = None
    author: str = ""  # from the file's own metadata, when it has some
    year: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage cut from a document: what gets embedded and searched."""

    source: str
    section: str
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    text: str
    front_matter: bool = False  # title page, banner, source list before the first heading: searchable, not quoted
    embed_section: bool = True  # False for a heading too costly to repeat in each passage (ingest.chunk)

    @property
    def embed_text(self) -> str:
        """The section heading is evidence too: the dense side reads it with the passage."""
        return f"{self.section}\n{self.text}" if self.section and self.embed_section else self.text


@dataclass(frozen=True)
class DocumentInfo:
    """A document as recorded in the index."""

    source: str
    title: str
    sha256: str
    kind: str
    page_count: int | None
    passages: int
    ingested_at: str
    site: str = ""
    author: str = ""  # corpus/documents.toml, else the file's own metadata
    year: int | None = None
    described: str = ""  # digest of the file's entry in corpus/documents.toml ("" without one): a change re-reads it


@dataclass(frozen=True)
class Passage:
    """A passage as stored in the index, with everything a citation needs."""

    row: int
    source: str
    title: str
    section: str
    page_start: int | None
    page_end: int | None
    text: str
    site: str = ""
    front_matter: bool = False  # see Chunk.front_matter
    also_in: tuple[str, ...] = ()  # titles of other documents holding this very text (byte-identical copies)
    author: str = ""  # of its document (DocumentInfo)
    year: int | None = None

    @property
    def page_label(self) -> str:
        """« p. 3 », « p. 3-4 » or an empty string for unpaginated documents."""
        if self.page_start is None:
            return ""
        if self.page_end is not None and self.page_end != self.page_start:
            return f"p. {self.page_start}-{self.page_end}"
        return f"p. {self.page_start}"


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a passage, as split at ingestion: where it stands in the passage's text, and its cosine to the
    query that fetched the passage (from the sentence's stored vector)."""

    start: int
    end: int
    cosine: float
    notice: bool = False  # a disclaimer repeated across documents (ingest.boilerplate): searchable, never quoted


@dataclass(frozen=True)
class Hit:
    """A passage returned by a search, with its fused score and the ranks that produced it."""

    passage: Passage
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    sentences: tuple[SentenceSpan, ...] = ()  # empty when the index holds no sentence vectors


@dataclass(frozen=True)
class Evidence:
    """What the best passages say of whether the corpus answers a query: size-free signals the answer stage's fitted
    decision reads (shares, rescaled scores), measured by the retriever where the index's statistics are at hand."""

    coverage: float = 0.0  # the query's IDF weight held by the best of the top passages (synonyms count)
    dense: float = 0.0  # the best top passage's cosine, rescaled from the model's floor to 1
    cosine: float = 0.0  # the same cosine, raw
    standout: float = 0.0  # how far it stands above the query's other dense candidates (standard deviations)
    rare_held: float = 0.0  # share of the query's two rarest terms the top passages hold


@dataclass(frozen=True)
class SearchResult:
    """The answer of the retriever: ranked hits and whether the corpus answers the query at all."""

    query: str
    hits: tuple[Hit, ...]
    found: bool
    site: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    confidence: float = 0.0  # the signal `found` was decided from
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True)
class Site:
    """A site of the study, as the corpus describes it (sites.toml)."""

    name: str
    aliases: tuple[str, ...] = ()
    axis: str = ""
    subject: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)
