"""Files -> paragraphs with their section and page. The format is decided by the content, not the extension."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import statistics
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from index.normalize import normalize_text
from index.types import LoadedDocument, Paragraph
from ingest.errors import UnreadableDocument

log = logging.getLogger(__name__)

_BINARY_SIGNATURES = {
    b"\x89PNG": "une image PNG",
    b"\xff\xd8\xff": "une image JPEG",
    b"GIF8": "une image GIF",
    b"\xd0\xcf\x11\xe0": "un document Office ancien (.doc/.xls) : enregistrez-le en .docx ou en PDF",
    b"\x1f\x8b": "une archive gzip",
    b"Rar!": "une archive RAR",
    b"7z\xbc\xaf": "une archive 7z",
}
_EXPECTED_BY_SUFFIX = {".pdf": "pdf", ".docx": "docx"}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str:
    """The document kind from its first bytes: pdf, docx, html, markdown or text.

    >>> sniff(b"%PDF-1.7 ..."), sniff(b"<!DOCTYPE html><p>x</p>"), sniff("# Titre\\n".encode()), sniff(b"Bonjour")
    ('pdf', 'html', 'markdown', 'text')
    """
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            raise UnreadableDocument("archive ZIP endommagée") from None
        raise UnreadableDocument("format non pris en charge (une archive ZIP qui n'est pas un document Word)")
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise UnreadableDocument(f"format non pris en charge ({what})")
    if b"\x00" in head:
        raise UnreadableDocument("format non pris en charge (fichier binaire)")
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if re.match(r"<(!doctype html|html|head|body)\b", text) or re.search(r"<(p|h1|h2|div|article)\b[^>]*>", text):
        return "html"
    if re.search(r"^#{1,6} \S", text, re.MULTILINE):
        return "markdown"
    return "text"


def load_document(path: Path, source: str, max_bytes: int) -> LoadedDocument:
    """Read one file of the corpus; raises UnreadableDocument with the reason in French."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableDocument("fichier vide (0 octet)")
    if size > max_bytes:
        raise UnreadableDocument(
            f"fichier trop volumineux ({size / 1_048_576:.0f} Mo, limite {max_bytes / 1_048_576:.0f} Mo, MAX_FILE_MB)"
        )
    data = path.read_bytes()
    kind = sniff(data)
    expected = _EXPECTED_BY_SUFFIX.get(path.suffix.lower())
    if expected and expected != kind:
        raise UnreadableDocument(
            f"le nom finit par {path.suffix.lower()} mais le contenu n'est pas un {expected.upper()} "
            f"(contenu reconnu : {kind})"
        )
    if kind == "pdf":
        title, paragraphs, pages = read_pdf(data)
    elif kind == "docx":
        title, paragraphs, pages = (*read_docx(data), None)
    else:
        text = decode_text(data)
        if kind == "html":
            title, paragraphs = read_html(text)
        elif kind == "markdown":
            title, paragraphs = read_markdown(text)
        else:
            title, paragraphs = read_text(text)
        pages = None
    # Every reader's output goes through the one normalisation queries get too (index.normalize).
    paragraphs = [Paragraph(normalize_text(paragraph.text), normalize_text(paragraph.section), paragraph.page)
                  for paragraph in paragraphs]
    paragraphs = [paragraph for paragraph in paragraphs if paragraph.text.strip()]
    title = normalize_text(title)
    if not paragraphs:
        raise UnreadableDocument("aucun texte à indexer dans ce document")
    return LoadedDocument(source=source, title=title or _title_from_name(path), sha256=sha256_of(data),
                          kind=kind, paragraphs=tuple(paragraphs), page_count=pages)


def decode_text(data: bytes) -> str:
    try:
        return normalize_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UnreadableDocument(
            f"texte qui n'est pas en UTF-8 (octet invalide en position {error.start}) : "
            "enregistrez le fichier en UTF-8"
        ) from None


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", normalize_text(text)).strip()


# --- PDF -----------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^[\W_]*(?:page\s*)?\d{1,4}(?:\s*(?:/|sur)\s*\d{1,4})?[\W_]*$", re.IGNORECASE)
_TOC_LINE = re.compile(r"(?:\.{3,}|…{2,}|(?:\. ){3,})\s*\d{1,4}\s*$")
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,5}\.)\s+[A-ZÀ-ÖØ-Þ«].{0,100}$")
_SENTENCE_END = re.compile(r"[.!?:;»)\]…]$")
_BULLET = re.compile(r"^(?:[•▪◦·\-–—]|\d{1,2}[.)])\s+")


def read_pdf(data: bytes) -> tuple[str, list[Paragraph], int]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("PDF protégé par un mot de passe : fournissez une version non chiffrée")
        page_texts = [page.extract_text() or "" for page in reader.pages]
        outline = _outline_by_page(reader)
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
            zlib.error, struct.error) as error:
        raise UnreadableDocument(f"PDF illisible ou endommagé ({type(error).__name__})") from None
    if not page_texts:
        raise UnreadableDocument("PDF sans aucune page")
    if not any(text.strip() for text in page_texts):
        raise UnreadableDocument(
            "aucun texte extractible : PDF numérisé (image seule) ? Passez-le d'abord dans un logiciel d'OCR"
        )
    pages = strip_running_lines([text.splitlines() for text in page_texts], _clean(metadata_title))
    paragraphs = pdf_paragraphs(pages, outline)
    title = _clean(metadata_title)
    if not title or title.lower().startswith(("microsoft word", "untitled", "sans titre")):
        first_headings = [title for titles in outline.values() for title in titles]
        title = first_headings[0] if first_headings else next(
            (_clean(line) for line in pages[0] if 3 < len(_clean(line)) <= 120), "")
    return title, paragraphs, len(page_texts)


def _outline_by_page(reader: object) -> dict[int, list[str]]:
    """Bookmark titles by page number (1-based), in reading order: they name the sections."""
    by_page: dict[int, list[str]] = {}

    def walk(items: Iterable[object]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            try:
                page = reader.get_destination_page_number(item) + 1  # type: ignore[attr-defined]
            except (KeyError, ValueError, TypeError, AttributeError):
                continue
            title = _clean(str(getattr(item, "title", "") or ""))
            if title:
                by_page.setdefault(page, []).append(title)

    try:
        walk(reader.outline)  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError):
        return {}
    return by_page


def _line_shape(line: str) -> str:
    return re.sub(r"\d+", "#", _clean(line)).lower()


def strip_running_lines(pages: list[list[str]], title: str = "") -> list[list[str]]:
    """Remove running headers and footers (the same line at the top or bottom of many pages) and page numbers.

    >>> pages = [["Rapport — synthèse", text, f"Page {n} / 3"] for n, text in enumerate(["Un.", "Deux.", "Trois."], 1)]
    >>> strip_running_lines(pages)
    [['Un.'], ['Deux.'], ['Trois.']]
    """
    edges: Counter[str] = Counter()
    for lines in pages:
        kept = [line for line in lines if line.strip()]
        for line in set(kept[:2] + kept[-2:]):
            edges[_line_shape(line)] += 1
    threshold = max(2, (len(pages) + 1) // 2)
    running = {shape for shape, count in edges.items() if count >= threshold and shape}
    # A short document repeats its title at the top of its pages, too few pages to count on; page 1 keeps it.
    title_shape = _line_shape(title) if title else None
    cleaned = []
    for number, lines in enumerate(pages, 1):
        kept = [line for line in lines if line.strip()]
        edge_lines = set(kept[:2] + kept[-2:])
        cleaned.append([
            line for line in kept
            if not _PAGE_NUMBER.match(line.strip())
            and not (line in edge_lines and _line_shape(line) in running)
            and not (number > 1 and line in edge_lines and _line_shape(line) == title_shape)
        ])
    return cleaned


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def pdf_paragraphs(pages: list[list[str]], outline: dict[int, list[str]]) -> list[Paragraph]:
    """Join lines into paragraphs, mend words hyphenated at line ends, and follow the sections.

    Bookmarks name the sections; they are matched in reading order, a few ahead, because a writer may record a
    heading on the page before the one where it lands, and a heading may wrap over two lines.
    """
    long_lines = [len(line) for lines in pages for line in lines if len(line) > 40]
    full_width = statistics.median(long_lines) if long_lines else 80
    pending = [title for number in sorted(outline) for title in outline[number]]
    paragraphs: list[Paragraph] = []
    section = ""
    for number, lines in enumerate(pages, 1):
        buffer = ""
        heading_buffer = ""
        for raw in lines:
            line = raw.strip()
            if not line or _TOC_LINE.search(line):
                continue
            squashed = _squash(heading_buffer + line)
            ahead = [_squash(title) for title in pending[:3]]
            if squashed in ahead:
                buffer = _flush(paragraphs, buffer, section, number)
                position = ahead.index(squashed)
                section = pending[position]
                del pending[:position + 1]
                heading_buffer = ""
                continue
            if squashed and len(line) < 120 and any(title.startswith(squashed) for title in ahead):
                heading_buffer += line + " "  # a bookmark title wrapped over two lines
                continue
            if heading_buffer:
                buffer = _join(buffer, heading_buffer.strip())
                heading_buffer = ""
            if not outline and _NUMBERED_HEADING.match(line) and not _SENTENCE_END.search(line):
                buffer = _flush(paragraphs, buffer, section, number)
                section = _clean(line)
                continue
            if _BULLET.match(line):
                buffer = _flush(paragraphs, buffer, section, number)
            buffer = _join(buffer, line)
            if _SENTENCE_END.search(line) and len(line) < 0.8 * full_width:
                buffer = _flush(paragraphs, buffer, section, number)
        if heading_buffer:
            buffer = _join(buffer, heading_buffer.strip())
        _flush(paragraphs, buffer, section, number)
    return _merge_across_pages(paragraphs)


def _flush(paragraphs: list[Paragraph], buffer: str, section: str, page: int) -> str:
    """End the paragraph being built (if any); returns the new, empty buffer."""
    if buffer.strip():
        paragraphs.append(Paragraph(_clean(buffer), section, page))
    return ""


def _join(buffer: str, line: str) -> str:
    """Append a line; a word cut by a hyphen at the line end is mended (« cohé- / sion » -> « cohésion »)."""
    if not buffer:
        return line
    if re.search(r"[^\W\d_]-$", buffer):
        if line[:1].islower():
            return buffer[:-1] + line
        return buffer + line  # Clichy-sous- / Bois keeps its hyphen
    return buffer + " " + line


def _merge_across_pages(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """A paragraph cut by a page break continues on the next page: keep it whole, starting on its first page."""
    merged: list[Paragraph] = []
    for paragraph in paragraphs:
        previous = merged[-1] if merged else None
        if (previous is not None and previous.section == paragraph.section and previous.page != paragraph.page
                and not _SENTENCE_END.search(previous.text) and paragraph.text[:1].islower()):
            merged[-1] = Paragraph(_join(previous.text, paragraph.text), previous.section, previous.page)
        else:
            merged.append(paragraph)
    return merged


# --- DOCX, HTML, Markdown, text ------------------------------------------------------------------------------


def read_docx(data: bytes) -> tuple[str, list[Paragraph]]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UnreadableDocument(f"document Word illisible ({type(error).__name__})") from None
    title = _clean(document.core_properties.title or "")
    section = ""
    paragraphs: list[Paragraph] = []
    for block in document.paragraphs:
        text = _clean(block.text)
        if not text:
            continue
        style = (block.style.name if block.style is not None else "").lower()
        if style.startswith(("heading", "titre", "title")):
            if not title:
                title = text
            if style != "title":
                section = text
            continue
        paragraphs.append(Paragraph(text, section, None))
    for table in document.tables:
        for row in table.rows:
            cells = dict.fromkeys(_clean(cell.text) for cell in row.cells if _clean(cell.text))
            if cells:
                paragraphs.append(Paragraph(" ; ".join(cells), section, None))
    return title, paragraphs


_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "td", "th", "dt", "dd",
           "figcaption", "caption")


def read_html(text: str) -> tuple[str, list[Paragraph]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "svg", "form"]):
        hidden.decompose()
    title = _clean(soup.title.get_text()) if soup.title else ""
    section = ""
    paragraphs: list[Paragraph] = []
    for element in soup.find_all(_BLOCKS):
        if element.find_parent(_BLOCKS[6:]):  # text already taken with its enclosing block
            continue
        content = _clean(element.get_text(" "))
        if not content:
            continue
        if element.name in _BLOCKS[:6]:
            if element.name == "h1" and not title:
                title = content
            section = content
            continue
        paragraphs.append(Paragraph(content, section, None))
    if not paragraphs:
        body = soup.body or soup
        paragraphs = [Paragraph(_clean(chunk), "", None) for chunk in body.get_text("\n").split("\n\n")]
    return title, paragraphs


def read_markdown(text: str) -> tuple[str, list[Paragraph]]:
    from markdown_it import MarkdownIt

    return read_html(MarkdownIt("commonmark").enable("table").render(text))


def read_text(text: str) -> tuple[str, list[Paragraph]]:
    blocks = [_clean(block) for block in re.split(r"\n\s*\n", text)]
    blocks = [block for block in blocks if block]
    title = blocks[0] if blocks and len(blocks[0]) <= 120 else ""
    return title, [Paragraph(block, "", None) for block in blocks]
