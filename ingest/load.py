"""Files -> paragraphs with their section and page. The format is decided by the content, not the extension."""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
import statistics
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from html import unescape
from itertools import zip_longest
from pathlib import Path
from typing import Any

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


# byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark declares (Notepad's « Unicode » is UTF-16 with one), or None."""
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


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
    bom = bom_encoding(data)
    if b"\x00" in head and bom not in ("utf-16", "utf-32"):
        raise UnreadableDocument("format non pris en charge (fichier binaire)")
    # comments first (« <!-- saved from url=… --> », a CMS's banner) and a long <head> push the tags past 2 KB
    text = re.sub(r"<!--.*?-->", "", data[:65_536].decode(bom or "utf-8", errors="ignore"), flags=re.DOTALL)
    text = text.lstrip("\ufeff \t\r\n").lower()
    if re.match(r"<(!doctype html|html|head|body)\b", text) or re.search(r"<(p|h1|h2|div|article)\b[^>]*>", text):
        return "html"
    if re.search(r"^#{1,6} \S", text, re.MULTILINE) or re.search(r"^\S[^\n]*\n(?:={3,}|-{3,})[ \t]*$", text,
                                                                  re.MULTILINE):
        return "markdown"  # ATX (« # Titre ») or setext (« Titre » over « ===== ») headings
    return "text"


def load_document(path: Path, source: str, max_bytes: int) -> LoadedDocument:
    """Read one file of the corpus; raises UnreadableDocument with the reason in French."""
    try:
        return _load_document(path, source, max_bytes)
    except OSError as error:  # gone, locked or unreadable between the listing and the reading
        raise UnreadableDocument(os_reason(error)) from None
    except RecursionError:
        raise UnreadableDocument("structure du document trop profonde pour être lue") from None
    except MemoryError:
        raise UnreadableDocument("document trop gros pour la mémoire disponible") from None


def os_reason(error: OSError) -> str:
    """A file system error, in French, for the admin."""
    if isinstance(error, PermissionError):
        return "lecture refusée (droits du fichier) : donnez le droit de lecture ou retirez-le du corpus"
    if isinstance(error, FileNotFoundError):
        return "fichier disparu pendant l'ingestion"
    if isinstance(error, IsADirectoryError):
        return "c'est un dossier, pas un fichier"
    return f"fichier illisible ({error.strerror or type(error).__name__})"


MAX_TEXT_CHARS = 10_000_000  # about 4 000 pages of text: beyond, one file would hold the ingestion for hours
# A title or a section name is copied into every passage, citation and message: the longest real French report
# titles and headings run to about 200 characters; beyond this, a « heading » is really a paragraph.
MAX_HEADING_CHARS = 300
# The readers' own version, recorded in the index: when it changes, unchanged files are read again, so that an index
# built by older readers (giant titles, say) heals without « --full ». 1: titles and headings bounded. 2: encodings
# declared and detected, DOCX notes and text boxes, HTML chrome, note calls and <pre>, PDF symbol bullets and tables
# read with their layout. 3: drop caps, unmarked titles, running headers by chapter; authors and years.
READER_VERSION = 3


def bounded_heading(text: str, limit: int = MAX_HEADING_CHARS) -> str:
    """A title or section name of at most `limit` characters, cut between words with « … » when longer.

    >>> bounded_heading("Cohésion sociale et territoires : comment mieux agir ?")
    'Cohésion sociale et territoires : comment mieux agir ?'
    >>> bounded_heading("mot " * 100, 20)
    'mot mot mot mot …'
    """
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[:cut if cut > limit // 2 else limit - 2].rstrip() + " …"


def _heading_and_overflow(text: str) -> tuple[str, list[Paragraph]]:
    """A heading as a section name; when it is too long to be one, it is really a paragraph: its whole text becomes
    body text (nothing is lost) and the section is named by its first words."""
    if len(text) <= MAX_HEADING_CHARS:
        return text, []
    heading = bounded_heading(text)
    return heading, [Paragraph(text, heading, None)]


def _load_document(path: Path, source: str, max_bytes: int) -> LoadedDocument:
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
    text = ""
    if kind == "pdf":
        title, paragraphs, pages = read_pdf(data)
    elif kind == "docx":
        title, paragraphs, pages = (*read_docx(data), None)
    else:
        text = normalize_text(decode_text(data, kind))
        if len(text) > MAX_TEXT_CHARS:
            raise UnreadableDocument(f"texte trop long ({len(text) / 1_000_000:.0f} millions de caractères, limite "
                                     f"{MAX_TEXT_CHARS // 1_000_000} millions) : découpez le fichier")
        if kind == "html":
            title, paragraphs = read_html(text)
        elif kind == "markdown":
            title, paragraphs = read_markdown(text)
        else:
            title, paragraphs = read_text(text)
        pages = None
    # Every reader's output goes through the one normalisation queries get too (index.normalize); a section is
    # normalised once for all its paragraphs, and bounded here too whatever the reader did.
    sections: dict[str, str] = {}

    def section_of(raw: str) -> str:
        if raw not in sections:
            sections[raw] = bounded_heading(normalize_text(raw))
        return sections[raw]

    paragraphs = [Paragraph(normalize_text(paragraph.text), section_of(paragraph.section), paragraph.page)
                  for paragraph in paragraphs]
    paragraphs = [paragraph for paragraph in paragraphs if paragraph.text.strip()]
    if len(paragraphs) > _MAX_PARAGRAPHS:  # each costs objects at every stage: millions of tiny ones, gigabytes
        raise UnreadableDocument(f"document trop morcelé (plus de {_MAX_PARAGRAPHS} paragraphes) : découpez-le")
    title = bounded_heading(normalize_text(title))
    if sum(len(paragraph.text) for paragraph in paragraphs) > MAX_TEXT_CHARS:
        raise UnreadableDocument(f"texte trop long (plus de {MAX_TEXT_CHARS // 1_000_000} millions de caractères) : "
                                 "découpez le document")
    if not paragraphs:
        raise UnreadableDocument("aucun texte à indexer dans ce document")
    author, year = document_metadata(kind, data, text)
    return LoadedDocument(source=source, title=title or _title_from_name(path), sha256=sha256_of(data),
                          kind=kind, paragraphs=tuple(paragraphs), page_count=pages, author=author, year=year)


def document_metadata(kind: str, data: bytes, text: str = "") -> tuple[str, int | None]:
    """The author and year a file declares of itself (PDF information, DOCX core properties, HTML `<meta>`), for
    references; ("", None) when it declares none or only what is no name (a tool, « Utilisateur »).

    >>> document_metadata("html", b"", '<meta name="author" content="Odas"><meta name="date" content="2017-06-01">')
    ('Odas', 2017)
    """
    author, date = "", ""
    try:
        if kind == "pdf":
            from pypdf import PdfReader

            info = PdfReader(io.BytesIO(data)).metadata
            if info is not None:
                author = str(info.author or "")
                date = str(info.get("/CreationDate") or "")
        elif kind == "docx":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                core = _docx_part(archive, "docProps/core.xml")
            if core is not None:
                creator = core.find("{http://purl.org/dc/elements/1.1/}creator")
                created = core.find("{http://purl.org/dc/terms/}created")
                author = creator.text or "" if creator is not None else ""
                date = created.text or "" if created is not None else ""
        elif kind == "html":
            head = text[:200_000]
            author = _meta_content(head, ("author", "dc.creator", "dcterms.creator"))
            date = _meta_content(head, ("date", "dc.date", "dcterms.date", "dcterms.created",
                                        "article:published_time"))
    except Exception:
        return "", None
    # what the file says is untrusted: controls, direction marks and line breaks out, bounded, letters required
    author = bounded_heading(_clean(re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", " ",
                                           normalize_text(author))), 120)
    letters = len(re.findall(r"[A-Za-zÀ-ÖØ-öø-ÿ]", author))
    if author.casefold() in _NO_AUTHOR or letters < max(2, len(author.replace(" ", "")) // 2):
        author = ""  # a placeholder, or bytes that are no name (mostly not Latin letters)
    # « D:20170601… » (PDF), « 2017-06-01T… » (DOCX, HTML): the first four figures that make a year
    year = next((int(found) for found in re.findall(r"(?<!\d)(\d{4})", date) if int(found) in _YEAR), None)
    return author, year


_NO_AUTHOR = frozenset({"utilisateur", "user", "admin", "administrateur", "auteur", "author", "unknown", "inconnu",
                        "microsoft office user", "utilisateur windows", "windows user",
                        "utilisateur de microsoft office", "propriétaire", "proprietaire", "owner", "auteur inconnu",
                        "anonyme", "anonymous"})
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)


def _meta_content(head: str, names: tuple[str, ...]) -> str:
    for tag in _META.findall(head):
        name = re.search(r"\b(?:name|property)\s*=\s*[\"']?([^\"'\s>]+)", tag, re.IGNORECASE)
        content = re.search(r"\bcontent\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", tag, re.IGNORECASE)
        if name and content and name.group(1).lower() in names:
            return unescape(next(group for group in content.groups() if group is not None))
    return ""


# what browsers read when a page declares these: windows-1252 (the WHATWG encoding standard)
_AS_WINDOWS_1252 = frozenset({"latin-1", "iso8859-1", "ascii", "cp1252"})


def decode_text(data: bytes, kind: str = "text") -> str:
    """The text of a file, as the tools people open it with would read it: a byte-order mark first (UTF-8, UTF-16,
    UTF-32); then UTF-8 when the bytes are valid UTF-8; then, for a web page, the encoding its `<meta>` or XML
    declaration gives (ISO-8859-1 read as windows-1252, as browsers do); then charset-normalizer's guess; then
    windows-1252. Bytes invalid in the chosen encoding become U+FFFD, as in a browser."""
    bom = bom_encoding(data)
    if bom:
        return data.decode(bom, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    if sum(1 for char in lenient if ord(char) > 127) - bad >= 10 * bad:
        return lenient  # UTF-8 with a stray byte or two (a pasted « Café » in latin-1): only those are replaced
        from bs4.dammit import EncodingDetector

        declared = EncodingDetector.find_declared_encoding(data[:65_536], is_html=True)
        encoding = _known_encoding(declared) if declared else None
        if encoding:
            return data.decode("cp1252" if encoding in _AS_WINDOWS_1252 else encoding, errors="replace")
        if declared:
            log.info("encodage déclaré inconnu « %s » : encodage deviné", declared[:40])
    from charset_normalizer import from_bytes

    guess = from_bytes(data[:1_048_576]).best()  # a sample: the guess does not need the whole of a large file
    encoding = _known_encoding(guess.encoding) if guess is not None else None
    if encoding in (None, "ascii") or encoding in _AS_WINDOWS_1252:
        encoding = "cp1252"
    return data.decode(encoding, errors="replace")


def _known_encoding(name: str) -> str | None:
    """Python's name for a text encoding, or None when Python does not know it or it is not one (« base64 »,
    « rot13 », « zip » are codecs, not charsets: a browser ignores such a label)."""
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) and info.name not in ("idna", "punycode") else None


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", normalize_text(text)).strip()


# --- PDF -----------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^[\W_]*(?:page\s*)?(\d{1,4})(?:\s*(?:/|sur)\s*\d{1,4})?[\W_]*$", re.IGNORECASE)
_PAGE_WORD = re.compile(r"page|/|\bsur\b", re.IGNORECASE)
_LEADER = re.compile(r"\s*(?:\.{3,}|…{2,}|(?:\. ){3,}\.?|_{3,})\s*(?=\d{1,6}\s*$)")
_TOC_LINE = re.compile(r"(?:\.{3,}|…{2,}|(?:\. ){3,}\.?)\s*(\d{1,4})\s*$")
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,5}\.)\s+[A-ZÀ-ÖØ-Þ«].{0,100}$")
_LIST_NUMBER = re.compile(r"^(\d{1,2})[.)]\s+\S")
_SENTENCE_END = re.compile(r"[.!?:;»)\]…]$")
# a bullet at a line's start: symbol fonts' private code points (U+F0B7 is Symbol's •), and bullet signs
_BULLET_GLYPH = re.compile(r"^[\uf020-\uf0ff\u2022\u2023\u2043\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u25ba\u25e6\u27a2"
                           r"\u2713\u2714\u2756\u00b7\u25c6\u25c7]\s*(?=\S)")
_BULLET = re.compile(r"^(?:[•▪◦·\-–—]|\d{1,2}[.)])\s+")
_FOOTNOTE = re.compile(r"^(\d{1,2})\s+(\S.*)$")
_YEAR = range(1900, 2100)


def read_pdf(data: bytes) -> tuple[str, list[Paragraph], int]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("PDF protégé par un mot de passe : fournissez une version non chiffrée")
        page_texts = [page.extract_text() or "" for page in reader.pages]
        # the columns of a table are lost in the plain extraction (« Reims Maison des familles 49 »): pages that look
        # tabular are read again with their layout, where columns stay apart
        layouts = [page.extract_text(extraction_mode="layout") if _looks_tabular(text) else ""
                   for page, text in zip(reader.pages, page_texts, strict=True)]
        outline = _outline_by_page(reader)
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
        form = _form_values(reader)
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
            zlib.error, struct.error) as error:
        raise UnreadableDocument(f"PDF illisible ou endommagé ({type(error).__name__})") from None
    if not page_texts:
        raise UnreadableDocument("PDF sans aucune page")
    if not any(text.strip() for text in page_texts) and not form:
        raise UnreadableDocument(
            "aucun texte extractible : PDF numérisé (image seule) ? Passez-le d'abord dans un logiciel d'OCR"
        )
    metadata_title = bounded_heading(str(metadata_title))  # a title over the bound is no running header anyway
    pages = _with_table_rows([page_lines(text) for text in page_texts], layouts)
    pages = strip_running_lines(pages, _clean(metadata_title))
    pages = strip_contents(pages)
    split = [split_footnotes(lines) for lines in pages]
    paragraphs = pdf_paragraphs([body for body, _ in split], outline, [notes for _, notes in split]) + form
    title = bounded_heading(_clean(metadata_title))
    if not title or title.lower().startswith(("microsoft word", "untitled", "sans titre")):
        first_headings = [title for titles in outline.values() for title in titles]
        first_section = paragraphs[0].section if paragraphs else ""  # a heading that opens the document
        # else the first line, if it is short enough to be a title: a line of body text is not (the file's name is)
        title = first_headings[0] if first_headings else first_section or next(
            (_clean(line) for line in pages[0] if 3 < len(_clean(line)) <= 120), "")
        if not first_headings and not first_section and len(title) > 80 and not title.isupper():
            title = ""
    return title, paragraphs, len(page_texts)


# marks a line that is a table row, already labelled: a paragraph of its own (a private code point: never
# whitespace, which strip() would take, and never left in text read)
TABLE_ROW = "\ue000"
_ENDS_WITH_FIGURE = re.compile(r"\S\s+\d[\d\s.,%€]*$")


def _looks_tabular(text: str) -> bool:
    """Five lines or more ending with a figure: a table may be there."""
    return sum(1 for line in text.splitlines() if _ENDS_WITH_FIGURE.search(line)) >= 5


def layout_table_rows(layout: str, header: list[str] | None = None) -> tuple[dict[str, str], list[str] | None]:
    """The rows of the tables of a page read with its layout (columns set apart by two spaces or more): each row's
    plain text (as the plain extraction gives it) mapped to the row labelled by its header (« Ville : Reims ;
    Action : Maison des familles ; Participants : 49 »), a repeated header row mapped to "" (dropped); and the
    header, carried to the next page (a table over pages keeps its header).

    >>> layout = "Ville     Action        Nombre\\n\\nReims     Maison        49\\nRennes    Conseil   43\\n"
    >>> rows, _ = layout_table_rows(layout)
    >>> rows["Reims Maison 49"], rows["Ville Action Nombre"]
    ('Ville : Reims ; Action : Maison ; Nombre : 49', '')
    """
    found: dict[str, str] = {}
    run: list[list[str]] = []

    def close() -> None:
        nonlocal header
        if len(run) >= 3:
            first = run[0]
            if all(not re.fullmatch(r"[\d\s.,%€-]+", cell) for cell in first):
                header = first
            for row in run:
                key = " ".join(row)
                if header is not None and row == header:
                    found[key] = ""
                elif header is not None and len(header) == len(row):
                    found[key] = " ; ".join(f"{name} : {value}" for name, value in zip(header, row, strict=True))
                else:
                    found[key] = " ; ".join(row)
        run.clear()

    for line in layout.splitlines():
        if not line.strip():
            continue
        cells = [_clean(cell) for cell in re.split(r"\s{2,}", line.strip())]
        if _LEADER.search(line) or _TOC_LINE.search(line):
            cells = []  # a table of contents' line (« 3.1 Les villes . . . . 6 »): strip_contents drops it
        if len(cells) >= 2 and (not run or len(cells) == len(run[0])):
            run.append(cells)
        else:
            close()
            if len(cells) >= 2:
                run.append(cells)
    close()
    return found, header


def _with_table_rows(pages: list[list[str]], layouts: list[str]) -> list[list[str]]:
    """Each page's lines with its table rows labelled and marked (TABLE_ROW), repeated header rows dropped."""
    header: list[str] | None = None
    mended = []
    for lines, layout in zip(pages, layouts, strict=True):
        if not layout:
            mended.append(lines)
            continue
        rows, header = layout_table_rows(layout, header)
        page = []
        for line in lines:
            row = rows.get(_clean(line))
            if row is None:
                page.append(line)
            elif row:
                page.append(TABLE_ROW + row)
        mended.append(page)
    return mended


MAX_FORM_FIELDS = 5_000


def _form_values(reader: Any) -> list[Paragraph]:
    """The values typed into a form that was not flattened (they live in the fields, not in the text layer): one
    paragraph per filled field, « its label : its value », in a « Formulaire » section."""
    fields = reader.get_fields() or {}
    found = []
    for name, field in list(fields.items())[:MAX_FORM_FIELDS]:
        value = field.get("/V")
        if not isinstance(value, str) or not value.strip() or value.startswith("/"):
            continue  # empty, or a check box's state name (/Off, /Yes)
        label = field.get("/TU") or name
        found.append(Paragraph(f"{_clean(str(label))[:200]} : {_clean(value)}", "Formulaire", None))
    return found


def page_lines(text: str) -> list[str]:
    """The non-empty lines of a page as pypdf gives them, mended: a soft hyphen at a line end joins the word
    (« cohé\\u00ad / sion » -> « cohésion »), and text drawn twice for a bold effect is kept once.

    >>> page_lines("la cohé\\u00ad\\nsion sociale\\nBilan 2017Bilan 2017\\nSSyynntthhèèssee")
    ['la cohésion sociale', 'Bilan 2017', 'Synthèse']

    A list bullet drawn from a symbol font (Symbol, Wingdings: Private Use Area code points) or any bullet sign
    becomes « • »:

    >>> page_lines("\\uf0b7 un repair café\\n\\uf0a7\\tune permanence")
    ['• un repair café', '• une permanence']

    A drop cap (the first letter drawn large, apart) joins its word: ``page_lines("L\\ne conseil se réunit.")`` gives
    ``['Le conseil se réunit.']``.
    """
    text = re.sub(r"\u00ad[ \t]*\r?\n[ \t]*", "", text)
    # a drop cap is drawn apart, in a large size: its letter comes out alone on a line before the rest of the word
    text = _join_drop_caps(text)
    lines = (_BULLET_GLYPH.sub("• ", _undouble(normalize_text(line).strip())) for line in text.splitlines())
    return [line for line in lines if line]


# « L\ne conseil » -> « Le conseil »: a capital alone on its line, the next line starting in lower case
_DROP_CAP = re.compile(r"(?m)^[ \t]*([A-ZÀ-ÖØ-Þ])[ \t]*\r?\n[ \t]*([a-zà-öø-ÿ][^\W\d_]*)")


def _join_drop_caps(text: str) -> str:
    """Join a drop cap to the rest of its word, unless that rest is a word of its own on the page (« A / les
    habitants » is a lettered list, « L / e conseil » a drop cap) and the joined form is not.

    >>> _join_drop_caps("L\\ne conseil se réunit.\\nA\\nles habitants\\nB\\nles associations")
    'Le conseil se réunit.\\nA\\nles habitants\\nB\\nles associations'
    """
    if not _DROP_CAP.search(text):
        return text
    words = Counter(word.lower() for word in re.findall(r"[^\W\d_]+", text))

    def join(match: re.Match[str]) -> str:
        rest = match.group(2)
        joined = (match.group(1) + rest).lower()
        if words[rest.lower()] >= 2 and not words[joined]:  # the rest stands elsewhere as a word, the whole never
            return match.group()
        return match.group(1) + rest

    return _DROP_CAP.sub(join, text)


def _undouble(line: str) -> str:
    """A line drawn two or three times over itself, as a whole or letter by letter, kept once."""
    for times in (2, 3):
        words = line.split(" ")
        if len(line) >= 3 * times and all(
                len(word) % times == 0 and word == "".join(char * times for char in word[::times]) for word in words):
            return " ".join(word[::times] for word in words)
        for separator in ("", " "):
            part, rest = divmod(len(line) - len(separator) * (times - 1), times)
            if not rest and part >= 4 and separator.join([line[:part]] * times) == line:
                return line[:part]
    return line


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
            title = str(getattr(item, "title", "") or "")
            if len(title) > 2 * MAX_HEADING_CHARS:
                continue  # not a heading: its text is on the page anyway, and it would be matched with every line
            title = _clean(title)
            if title and len(title) <= MAX_HEADING_CHARS:
                by_page.setdefault(page, []).append(title)

    try:
        walk(reader.outline)  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError):
        return {}
    return by_page


def _is_sentence(line: str) -> bool:
    # running headers and footers are labels; a sentence repeated at a page edge is still content
    return bool(re.search(r"[.!?…]$", line)) and len(line.split()) >= 5


def _page_number(line: str, page: int, offset: int | None) -> bool:
    """A page number: « Page 3 / 12 », « - 3 - », or a bare figure that follows the page count."""
    match = _PAGE_NUMBER.match(line)
    if not match:
        return False
    if _PAGE_WORD.search(line):
        return True
    number = int(match.group(1))
    return number - page == (offset if offset is not None else 0) and number not in _YEAR


def _running_keys(pages: list[list[str]]) -> tuple[set[str], int | None]:
    """The lines repeated at the edges of many pages, and the offset between printed and real page numbers.

    Lines that differ only by a number are one running line only when that number follows the page
    (« Rapport — page 3 »); « Bilan 2016 », « Bilan 2017 » are headings.
    """
    exact: Counter[str] = Counter()
    shapes: dict[str, list[tuple[int, list[int]]]] = {}
    offsets: Counter[int] = Counter()
    outermost: dict[str, list[int]] = {}  # a line standing first or last on its page: the pages it stands on
    for number, lines in enumerate(pages, 1):
        for line in dict.fromkeys(lines[:1] + lines[-1:]):
            if not _is_sentence(line) and re.search(r"[^\W\d_]", line):
                outermost.setdefault(line.lower(), []).append(number)
        for line in dict.fromkeys(lines[:2] + lines[-2:]):
            match = _PAGE_NUMBER.match(line)
            if match and int(match.group(1)) not in _YEAR:
                offsets[int(match.group(1)) - number] += 1
            if _is_sentence(line) or not re.search(r"[^\W\d_]", line):
                continue  # a sentence or a lone figure is content; page numbers are recognised on their own
            exact[line.lower()] += 1
            figures = [int(figure) for figure in re.findall(r"\d+", line)]
            if figures:
                shapes.setdefault(_line_shape(line), []).append((number, figures))
    threshold = max(2, (len(pages) + 1) // 2)
    running = {line for line, count in exact.items() if count >= threshold}
    # a header that changes with each chapter runs over a few pages in a row, at the very edge; three at least:
    # a line of content may well stand at the top of two pages in a row (a table's last row, a repeated label)
    running |= {line for line, numbers in outermost.items()
                if len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))}
    for shape, seen in shapes.items():
        if len(seen) < threshold:
            continue
        for position in range(len(seen[0][1])):
            values = {figures[position] - page for page, figures in seen if len(figures) > position}
            if len(values) == 1 and all(len(figures) > position and figures[position] not in _YEAR
                                        for _, figures in seen):
                running.add(shape)
    offset, count = offsets.most_common(1)[0] if offsets else (0, 0)
    return running, offset if count >= 2 else None


def _line_shape(line: str) -> str:
    return "#shape:" + re.sub(r"\d+", "#", _clean(line)).lower()


def strip_running_lines(pages: list[list[str]], title: str = "") -> list[list[str]]:
    """Remove running headers and footers and page numbers: only at the edges of a page, where they stand.

    >>> pages = [["Rapport — synthèse", text, f"Page {n} / 3"] for n, text in enumerate(["Un.", "Deux.", "Trois."], 1)]
    >>> strip_running_lines(pages)
    [['Un.'], ['Deux.'], ['Trois.']]
    >>> strip_running_lines([["Bilan 2016", "120"], ["Bilan 2017", "185"], ["Bilan 2018", "240"]])
    [['Bilan 2016', '120'], ['Bilan 2017', '185'], ['Bilan 2018', '240']]
    """
    pages = [[line.strip() for line in lines if line.strip()] for lines in pages]
    running, offset = _running_keys(pages)
    # A short document repeats its title at the top of its pages, too few pages to count on; page 1 keeps it.
    title_key = title.lower() if title else None

    def edge(line: str, number: int) -> bool:
        return (line.lower() in running or _line_shape(line) in running or _page_number(line, number, offset)
                or (number > 1 and line.lower() == title_key))

    cleaned = []
    for number, lines in enumerate(pages, 1):
        start, end = 0, len(lines)
        while start < min(end, 3) and edge(lines[start], number):
            start += 1
        while end > max(start, len(lines) - 3) and edge(lines[end - 1], number):
            end -= 1
        cleaned.append(lines[start:end])
    return cleaned


def strip_contents(pages: list[list[str]]) -> list[list[str]]:
    """Drop the table of contents: a block of dot-leader lines, near the start, whose page numbers go up and stay
    within the document. Other leader lines are figures (« Ménages suivis ........ 1250 »): the leader goes.

    >>> strip_contents([["Sommaire", "Contexte ....... 2", "Méthode ....... 3", "Résultats ..... 5"], ["Texte."]])
    [['Sommaire'], ['Texte.']]
    >>> strip_contents([["Ménages suivis ........ 1250"], ["Texte."]])
    [['Ménages suivis : 1250'], ['Texte.']]
    """
    front = max(3, len(pages) // 5)
    cleaned = []
    for number, lines in enumerate(pages, 1):
        entries = [int(match.group(1)) for line in lines if (match := _TOC_LINE.search(line))]
        contents = (number <= front and len(entries) >= 3 and entries == sorted(entries)
                    and entries[-1] <= len(pages) + 20)
        if contents:
            lines = [line for line in lines if not _TOC_LINE.search(line)]
        cleaned.append([_LEADER.sub(" : ", line) for line in lines])
    return cleaned


def split_footnotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """Footnotes at the bottom of a page, taken out of the body, their calls unglued from the words.

    Numbered lines at the page bottom are footnotes only if their numbers follow each other and a word of the
    body carries one of them as a call (« sociale1 »): a numbered list is left alone.

    >>> split_footnotes(["La cohésion sociale1 des", "territoires.", "1 Voir la définition."])
    (['La cohésion sociale des', 'territoires.'], ['Note 1 : Voir la définition.'])
    """
    start, numbers = len(lines), []
    for index in range(len(lines) - 1, 0, -1):
        match = _FOOTNOTE.match(lines[index])
        if not match:
            continue
        below = [int(m.group(1)) for line in lines[index + 1:] if (m := _FOOTNOTE.match(line))]
        candidate = [int(match.group(1)), *below]
        if candidate != list(range(candidate[0], candidate[0] + len(candidate))):
            break
        start, numbers = index, candidate
    if not numbers:
        return lines, []
    body = "\n".join(lines[:start])
    calls = {n: re.compile(rf"(?<=[^\W\d_]|[»”)]){n}(?!\d)") for n in numbers}
    if not any(call.search(body) for call in calls.values()):
        return lines, []
    for call in calls.values():
        body = call.sub("", body)
    notes: list[str] = []
    for line in lines[start:]:
        match = _FOOTNOTE.match(line)
        if match and int(match.group(1)) in calls:
            notes.append(f"Note {match.group(1)} : {match.group(2)}")
            del calls[int(match.group(1))]
        else:
            notes[-1] = _join(notes[-1], line)
    return body.split("\n"), notes


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _list_items(lines: list[str]) -> set[int]:
    """Indices of list items: numbered after a line ending with a colon, or in sequence with a neighbour; bulleted
    after a colon or beside another bullet. A numbered heading stands alone, with body text between it and the next
    one."""
    numbers = {index: int(match.group(1)) for index, line in enumerate(lines) if (match := _LIST_NUMBER.match(line))}
    bullets = {index for index, line in enumerate(lines) if line.startswith("• ")}
    items = {index for index in bullets
             if (index > 0 and lines[index - 1].endswith(":")) or index - 1 in bullets or index + 1 in bullets}
    for index, number in numbers.items():
        after_colon = index > 0 and lines[index - 1].endswith(":")
        in_sequence = numbers.get(index - 1) == number - 1 or numbers.get(index + 1) == number + 1
        if after_colon or in_sequence:
            items.add(index)
    return items


def pdf_paragraphs(pages: list[list[str]], outline: dict[int, list[str]],
                   notes: list[list[str]] | None = None) -> list[Paragraph]:
    """Join lines into paragraphs, mend words hyphenated at line ends, and follow the sections.

    Bookmarks name the sections; they are matched in reading order, a few ahead, because a writer may record a
    heading on the page before the one where it lands, and a heading may wrap over two lines. Footnotes
    (`notes`, by page) become paragraphs of their own after the text of their page.
    """
    long_lines = [len(line) for lines in pages for line in lines if len(line) > 40]
    full_width = statistics.median(long_lines) if long_lines else 80
    pending = [title for number in sorted(outline) for title in outline[number]]
    paragraphs: list[Paragraph] = []
    section = ""
    for number, lines in enumerate(pages, 1):
        buffer = ""
        heading_buffer = ""
        items = _list_items(lines)
        in_list = False
        for index, raw in enumerate(lines):
            line = raw.strip()
            if not line:
                continue
            if line.startswith(TABLE_ROW):  # a table row: a paragraph of its own, quotable alone
                buffer = _flush(paragraphs, buffer, section, number)
                paragraphs.append(Paragraph(line.removeprefix(TABLE_ROW), section, number))
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
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if (not outline and index not in items and not _SENTENCE_END.search(line)
                    and (_NUMBERED_HEADING.match(line) or _unmarked_heading(buffer, line, following, full_width))):
                buffer = _flush(paragraphs, buffer, section, number)
                section = _clean(line)
                continue
            if index in items and buffer and (buffer.endswith(":") or in_list):
                # a list stays with the sentence that announces it: one quote gives all its items
                buffer += (" " if buffer.endswith(":") else " ; ") + line.removeprefix("• ")
                in_list = True
            else:
                if _BULLET.match(line):
                    buffer = _flush(paragraphs, buffer, section, number)
                buffer = _join(buffer, line)
                in_list = index in items
            # a list without final periods ends before a line that starts a new sentence
            list_ends = in_list and index + 1 not in items and not following[:1].islower()
            announces = line.endswith(":") and index + 1 in items
            within = in_list and index + 1 in items
            if list_ends or (_SENTENCE_END.search(line) and len(line) < 0.8 * full_width and not announces
                             and not within):
                buffer = _flush(paragraphs, buffer, section, number)
                in_list = False
        if heading_buffer:
            buffer = _join(buffer, heading_buffer.strip())
        _flush(paragraphs, buffer, section, number)
    merged = _merge_across_pages(paragraphs)
    return _with_notes(merged, notes) if notes and any(notes) else merged


def _unmarked_heading(buffer: str, line: str, following: str, full_width: float) -> bool:
    """A title without number or final period (« Le conseil citoyen de Creil »): a short line in capitals' case
    between the end of a sentence (or the top of the page) and a line of body text, which starts a sentence and
    runs the full width. Short lines in a row (a list, an address) are not headings.

    >>> body = "Le conseil s’est réuni douze fois en 2016 pour préparer le contrat de ville avec les habitants."
    >>> _unmarked_heading("", "Le conseil citoyen de Creil", body, 90)
    True
    >>> _unmarked_heading("Il a proposé", "trois actions nouvelles", body, 90)
    False
    """
    if buffer and not _SENTENCE_END.search(buffer):
        return False
    words = line.split()
    return (1 <= len(words) <= 12 and line[:1].isupper() and len(line) < 0.6 * full_width
            and ":" not in line and following[:1].isupper() and len(following) >= 0.7 * full_width
            and not _BULLET.match(line) and not _BULLET.match(following))


def _with_notes(paragraphs: list[Paragraph], notes: list[list[str]]) -> list[Paragraph]:
    """Each page's footnotes after the paragraphs that start on or before that page, in that section."""
    pending = [(number, note) for number, page_notes in enumerate(notes, 1) for note in page_notes]
    result: list[Paragraph] = []
    for paragraph in paragraphs:
        while pending and paragraph.page is not None and pending[0][0] < paragraph.page:
            number, note = pending.pop(0)
            result.append(Paragraph(note, result[-1].section if result else "", number))
        result.append(paragraph)
    section = result[-1].section if result else ""
    result.extend(Paragraph(note, section, number) for number, note in pending)
    return result


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

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCX_PART_LIMIT = 64 * 1_048_576  # uncompressed bytes of one XML part
_DOCX_RATIO_LIMIT = 200  # a zip bomb expands thousands of times; real Word XML, a few dozen at most
_MAX_PARAGRAPHS = 200_000


# « Strict Open XML » (ISO 29500 strict) names the same elements in other namespaces: read as the usual ones
_STRICT_NAMESPACES = (
    (b"http://purl.oclc.org/ooxml/wordprocessingml/main", b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
)


def _docx_bytes(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """A part's bytes, its size checked first (zip bomb); None when the part is absent."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _DOCX_PART_LIMIT or info.file_size > _DOCX_RATIO_LIMIT * max(info.compress_size, 1024):
        raise UnreadableDocument(
            f"document Word suspect : « {name} » se décompresse en {info.file_size / 1_048_576:.0f} Mo "
            f"(limite {_DOCX_PART_LIMIT // 1_048_576} Mo, bombe de décompression ?)")
    return archive.read(name)


def _docx_part(archive: zipfile.ZipFile, name: str) -> Any:
    """One XML part of the package, parsed without entities or DTDs (billion laughs), its size checked first
    (zip bomb), Strict namespaces read as the usual ones; None when the part is absent."""
    import defusedxml.ElementTree as SafeTree
    from defusedxml import DefusedXmlException

    data = _docx_bytes(archive, name)
    if data is None:
        return None
    for strict, usual in _STRICT_NAMESPACES:
        data = data.replace(strict, usual)
    try:
        return SafeTree.fromstring(data)
    except DefusedXmlException:
        raise UnreadableDocument("document Word refusé : son XML déclare des entités (attaque « billion laughs » ?)"
                                 ) from None
    except SafeTree.ParseError as error:
        raise UnreadableDocument(f"document Word endommagé : XML invalide dans « {name} » ({error})") from None


def read_docx(data: bytes) -> tuple[str, list[Paragraph]]:
    """Paragraphs, headings and tables in document order, with tracked insertions and content controls read and
    tracked deletions dropped, as Word shows the document once changes are accepted; a text box's paragraphs after
    the paragraph that anchors it (read once, from the drawing Word shows, not its fallback); footnotes and endnotes
    at the end, in a « Notes » section, each starting with its number."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            document = _docx_part(archive, "word/document.xml")
            styles = _docx_part(archive, "word/styles.xml")
            core = _docx_part(archive, "docProps/core.xml")
            notes = [(kind, _docx_part(archive, f"word/{kind}s.xml")) for kind in ("footnote", "endnote")]
            chunks = _docx_chunks(archive, document)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, zlib.error) as error:
        raise UnreadableDocument(f"document Word illisible ({type(error).__name__})") from None
    body = document.find(f"{_W}body") if document is not None else None
    if body is None:
        raise UnreadableDocument("document Word illisible (pas de corps de document)")
    style_names = {}
    for style in styles.iter(f"{_W}style") if styles is not None else ():
        name = style.find(f"{_W}name")
        style_names[style.get(f"{_W}styleId", "")] = (name.get(f"{_W}val", "") if name is not None else "").lower()
    title = ""
    if core is not None:
        title_element = core.find("{http://purl.org/dc/elements/1.1/}title")
        title = bounded_heading(_clean(title_element.text or "")) if title_element is not None else ""
    section = ""
    paragraphs: list[Paragraph] = []
    # blocks still to read, nearest first: a text box's blocks are read right after the paragraph that anchors it
    pending: list[Iterator[tuple[str, Any]]] = [iter(_docx_blocks(body))]
    while pending:
        block = next(pending[-1], None)
        if block is None:
            pending.pop()
            continue
        kind, element = block
        if len(paragraphs) > _MAX_PARAGRAPHS:
            raise UnreadableDocument(f"document Word trop long (plus de {_MAX_PARAGRAPHS} paragraphes)")
        if kind == "table":
            paragraphs.extend(Paragraph(row, section, None) for row in table_lines(_docx_rows(element)))
            continue
        if kind == "chunk":  # a part imported whole (HTML, text): read with its own reader, in place
            paragraphs.extend(Paragraph(p.text, p.section or section, None)
                              for p in chunks.get(element.get(f"{_R}id", ""), []))
            continue
        boxes: list[Any] = []
        text = _clean(_docx_text(element, boxes))
        if len(pending) < 32:  # boxes inside boxes: a few levels deep at most in real documents
            pending.extend(iter(_docx_blocks(box)) for box in reversed(boxes))
        if not text:
            continue
        style_id = element.find(f"{_W}pPr/{_W}pStyle")
        style = style_names.get(style_id.get(f"{_W}val", "") if style_id is not None else "", "")
        if not style and style_id is not None:
            style = style_id.get(f"{_W}val", "").lower()
        if style.startswith(("heading", "titre", "title")):
            heading, overflow = _heading_and_overflow(text)
            if not title:
                title = heading
            if style != "title":
                section = heading
            paragraphs.extend(overflow)
            continue
        paragraphs.append(Paragraph(text, section, None))
    for kind, part in notes:
        paragraphs.extend(_docx_notes(document, kind, part))
    return title, paragraphs


_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _docx_chunks(archive: zipfile.ZipFile, document: Any) -> dict[str, list[Paragraph]]:
    """The parts `w:altChunk` imports (html-docx-js, docx4j and mail merges write them), by relationship id, read
    with the reader of their kind: HTML, text. Another Word document or an unknown kind is named in the log and
    skipped; each part is size-checked like any other."""
    ids = {element.get(f"{_R}id", "") for element in document.iter(f"{_W}altChunk")} if document is not None else set()
    if not ids:
        return {}
    relationships = _docx_part(archive, "word/_rels/document.xml.rels")
    targets = {rel.get("Id", ""): rel.get("Target", "") for rel in
               (relationships.iter(f"{_RELATIONSHIPS}Relationship") if relationships is not None else ())}
    found: dict[str, list[Paragraph]] = {}
    for chunk_id in ids:
        target = targets.get(chunk_id, "").lstrip("/")
        name = target if target.startswith("word/") else f"word/{target}"
        data = _docx_bytes(archive, name) if target else None
        if data is None:
            continue
        kind = sniff(data) if not data.startswith(b"PK") else "docx"
        if kind in ("html", "text", "markdown"):
            text = normalize_text(decode_text(data, "html" if kind == "html" else "text"))
            found[chunk_id] = (read_html(text) if kind == "html" else read_text(text))[1]
        else:
            log.info("partie importée non lue (%s) : %s", kind, name[:80])
    return found


def _docx_notes(document: Any, kind: str, part: Any) -> list[Paragraph]:
    """The footnotes or endnotes the document calls, numbered in the order of their calls (as Word numbers them),
    each a paragraph of the « Notes » section starting with its number."""
    if part is None:
        return []
    numbers: dict[str, int] = {}
    for reference in document.iter(f"{_W}{kind}Reference"):
        numbers.setdefault(reference.get(f"{_W}id", ""), len(numbers) + 1)
    found = []
    for note in part.iter(f"{_W}{kind}"):
        number = numbers.get(note.get(f"{_W}id", ""))
        if number is None or note.get(f"{_W}type", "normal") != "normal":
            continue  # separators, and notes no call points at
        text = _clean(" ".join(_block_texts(note)))
        if text:
            found.append((number, text))
    return [Paragraph(f"{number} {text}", "Notes", None) for number, text in sorted(found)]


def _docx_blocks(body: Any) -> Iterable[tuple[str, Any]]:
    """The body's paragraphs and tables in document order; block content controls (w:sdt) and tracked
    insertions of whole blocks are opened, deleted blocks skipped."""
    stack = list(reversed(list(body)))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == f"{_W}p":
            yield "paragraph", element
        elif tag == f"{_W}tbl":
            yield "table", element
        elif tag == f"{_W}altChunk":
            yield "chunk", element
        elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}ins", f"{_W}customXml", f"{_W}smartTag"):
            stack.extend(reversed(list(element)))


def _docx_text(paragraph: Any, boxes: list[Any] | None = None) -> str:
    """The visible text of a paragraph: runs anywhere inside it (insertions, hyperlinks, content controls), but not
    deleted or moved-away text (w:del, w:moveFrom) nor the instructions of fields. Of alternate content, what Word
    shows (the first choice), not its fallback as well; a text box's content is not glued in: it goes to `boxes`
    (dropped when `boxes` is None)."""
    parts: list[str] = []
    stack = list(reversed(list(paragraph)))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag in (f"{_W}del", f"{_W}moveFrom", f"{_W}instrText", f"{_W}pPr", f"{_W}rPr"):
            continue
        if tag == f"{_W}t":
            parts.append(element.text or "")
        elif tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
            parts.append(" ")
        elif tag == f"{_W}noBreakHyphen":
            parts.append("-")
        elif tag == f"{_W}txbxContent":
            if boxes is not None:
                boxes.append(element)
        elif tag == f"{_MC}AlternateContent":
            shown = element.find(f"{_MC}Choice")
            if shown is None:
                shown = element.find(f"{_MC}Fallback")
            if shown is not None:
                stack.extend(reversed(list(shown)))
        else:
            stack.extend(reversed(list(element)))
    return "".join(parts)


def _block_texts(container: Any, depth: int = 0) -> list[str]:
    """The texts of a cell's or a note's blocks, in order: each paragraph once (a text box's Choice, not its
    Fallback too), a box's paragraphs after it, a nested table's rows as its own lines."""
    texts: list[str] = []
    for kind, element in _docx_blocks(container):
        if kind == "table":
            texts.extend(table_lines(_docx_rows(element)) if depth < 8 else [])
            continue
        if kind != "paragraph":
            continue
        boxes: list[Any] = []
        texts.append(_clean(_docx_text(element, boxes)))
        for box in boxes:
            texts.extend(_block_texts(box, depth + 1) if depth < 8 else [])
    return [text for text in texts if text]


def _docx_rows(table: Any) -> list[list[str]]:
    rows = []
    # the table's own rows (some wrapped in a content control), not those of a table nested in a cell
    for row in table.findall(f"{_W}tr") + table.findall(f"{_W}sdt/{_W}sdtContent/{_W}tr"):
        cells = []
        for cell in row.findall(f"{_W}tc") + [cell for sdt in row.findall(f"{_W}sdt")
                                              for cell in sdt.iter(f"{_W}tc")]:
            texts = _block_texts(cell)
            span = cell.find(f"{_W}tcPr/{_W}gridSpan")
            width = int(span.get(f"{_W}val", "1")) if span is not None and span.get(f"{_W}val", "").isdigit() else 1
            cells.append(" ".join(text for text in texts if text))
            cells.extend([""] * (min(width, 50) - 1))
        rows.append(cells)
    return rows


def table_lines(rows: list[list[str]]) -> list[str]:
    """One line per row, each value named by its column's header (the first row, when it has no figure):
    every cell kept, equal ones too, so that no column is lost.

    >>> table_lines([["Ville", "Bénévoles"], ["Angers", "350"], ["Creil", "350"]])
    ['Ville : Angers ; Bénévoles : 350', 'Ville : Creil ; Bénévoles : 350']
    >>> table_lines([["Angers", "350"]])
    ['Angers ; 350']
    """
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = rows[0]
    named = len(rows) > 1 and all(cell and not re.fullmatch(r"[\d\s.,%€-]+", cell) for cell in header)
    lines = [] if named else [" ; ".join(cell for cell in header if cell)]
    for row in rows[1:] if named or len(rows) > 1 else []:
        parts = [f"{name} : {value}" if named and index < len(header) and header[index] else value
                 for index, (name, value) in enumerate(zip_longest(header, row, fillvalue="")) if value]
        lines.append(" ; ".join(parts))
    return [line for line in lines if line]


_INLINE = frozenset(["a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i", "ins",
                     "kbd", "label", "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
                     "sup", "time", "tt", "u", "var", "wbr"])
# never text a reader sees as the page's content (a <form> is not here: ASP.NET pages wrap the whole page in one;
# its controls are)
_HIDDEN = ["script", "style", "noscript", "template", "nav", "svg", "head", "button", "select", "iframe", "object",
           "del", "input", "dialog"]
# the site's chrome around the content: landmarks by role, cookie banners, breadcrumbs, skip links
_CHROME_ROLES = frozenset(["navigation", "banner", "contentinfo", "complementary", "search", "menubar", "dialog"])
_CHROME_NAMES = frozenset({"cookie", "cookies", "consent", "gdpr", "tarteaucitron", "axeptio", "didomi", "breadcrumb",
                           "breadcrumbs", "ariane", "skiplink", "skiplinks", "skip"})
_CHROME_TEXT = 1_500  # a banner or a breadcrumb is short: a long element named so is content
# a note call: « 1 », « [2] », « (3) », « * », set in <sup> or pointing at a note of the page
_NOTE_CALL = re.compile(r"^\s*[\[(]?(?:\d{1,3}|[ivx]{1,4}|[*†‡]{1,3})[\])]?\s*$", re.IGNORECASE)
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])


def read_html(text: str) -> tuple[str, list[Paragraph]]:
    """The page as a browser shows its content, in order: a block (any element that is not inline, `div`,
    `section`, `form` included) ends a paragraph, headings open sections, a table gives one line per row with its
    header, preformatted text keeps its rows (a typed table becomes a table). The site's chrome (navigation, page-level
    header and footer, asides, cookie banners) is dropped; note calls (« interventions<sup>1</sup> ») are taken out
    of the words, and the notes they point at become paragraphs of a « Notes » section, each starting with its
    number."""
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import PreformattedString

    soup = BeautifulSoup(text, "html.parser")
    title = bounded_heading(_clean(soup.title.get_text())) if soup.title else ""
    for hidden in soup(_HIDDEN):
        hidden.decompose()
    for chrome in soup.find_all(_not_content):
        if not chrome.decomposed:
            chrome.decompose()
    notes = _note_calls(soup)  # the ids of the notes called, with their numbers; the calls themselves removed
    section = ""
    paragraphs: list[Paragraph] = []
    buffer: list[str] = []

    def flush() -> None:
        content = _clean("".join(buffer))  # strings carry their own spaces: « <b>gras</b>, » stays « gras, »
        buffer.clear()
        if content:
            paragraphs.append(Paragraph(content, section, None))

    # an explicit stack, not recursion: a page of a hundred thousand nested divs must not crash the reader
    stack: list[object] = list(reversed(list(soup.contents)))
    while stack:
        node = stack.pop()
        if node is flush:
            flush()
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                buffer.append(str(node))
        elif isinstance(node, Tag):
            note = notes.get(str(node.get("id", "")))
            if note is not None:
                flush()
                content = _clean(node.get_text(" "))
                if content:
                    paragraphs.append(Paragraph(content if content.startswith(note) else f"{note} {content}",
                                                "Notes", None))
            elif node.name in _HEADINGS:
                flush()
                heading, overflow = _heading_and_overflow(_clean(node.get_text(" ")))
                if heading:
                    if node.name == "h1" and not title:
                        title = heading
                    section = heading
                    paragraphs.extend(overflow)
            elif node.name == "table":
                flush()
                paragraphs.extend(Paragraph(line, section, None) for line in table_lines(_html_rows(node)))
                caption = node.find("caption")
                if caption is not None and _clean(caption.get_text(" ")):
                    paragraphs.append(Paragraph(_clean(caption.get_text(" ")), section, None))
            elif node.name == "pre":
                flush()
                paragraphs.extend(Paragraph(line, section, None) for line in preformatted_lines(node.get_text()))
            elif node.name == "br":
                buffer.append(" ")
            elif node.name in _INLINE:
                stack.extend(reversed(list(node.contents)))
            else:
                flush()
                stack.append(flush)
                stack.extend(reversed(list(node.contents)))
    flush()
    return title, paragraphs


def _not_content(tag: Any) -> bool:
    """What a browser does not show (`hidden`, `aria-hidden`, `display: none`), or the site's chrome rather than the
    page's content: a landmark role, a cookie banner or breadcrumb by its id or class, a header or footer of the
    page (not of an article or section)."""
    style = str(tag.get("style", "")).replace(" ", "").lower()
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true" or "display:none" in style \
            or "visibility:hidden" in style:
        return True
    role = str(tag.get("role", "")).lower()
    if role in _CHROME_ROLES:
        return True
    # a cookie banner, a breadcrumb: its id or a class whose first word says so (« cookie-banner », not
    # « atelier-cookies » nor « consentement-eclaire »), and short
    names = [str(tag.get("id", "")), *tag.get("class", [])]
    if any(re.split(r"[-_\s]", name.lower())[0] in _CHROME_NAMES for name in names if name) \
            and len(tag.get_text()) < _CHROME_TEXT:
        return True
    # (the parents are looked at for these three only: a page of 20,000 nested divs stays linear)
    if tag.name == "aside":  # a box inside an article is the article's; beside it (« Lire aussi »), the site's
        return tag.find_parent("article") is None
    if tag.name not in ("header", "footer") or tag.find_parent(["article", "main", "section"]) is not None:
        return False
    if tag.find(list(_HEADINGS)):
        return False
    if tag.name == "header":  # a page's header is its links (menus), not a paragraph that happens to sit there
        text = len(_clean(tag.get_text(" ")))
        links = sum(len(_clean(link.get_text(" "))) for link in tag.find_all("a"))
        return text == 0 or links >= 0.5 * text
    return True


_BRACKETED_CALL = re.compile(r"^\s*(?:\[\d{1,3}\]|\(\d{1,3}\))\s*$")
_NOTE_NAME = re.compile(r"note|fn|foot|ref|renvoi", re.IGNORECASE)


def _note_calls(soup: Any) -> dict[str, str]:
    """Remove note calls from the text (« interventions<sup><a href="#n1">1</a></sup> » reads « interventions »);
    return the ids of the notes they point at, with their numbers. A call is a bracketed number (« [2] », « (3) »),
    or a number linked to an element that is a note (an item of a list, or named « note », « fn »…); an exponent
    (« m<sup>2</sup> », « 10<sup>3</sup> », « XIV<sup>e</sup> ») is no call and stays."""
    notes: dict[str, str] = {}
    for sup in soup.find_all("sup"):
        label = sup.get_text().strip()
        link = sup.find("a", href=True)
        target = None
        if link is not None and str(link["href"]).startswith("#") and len(label) <= 6:
            target = soup.find(id=str(link["href"])[1:])
        note_target = target is not None and (target.name == "li" or bool(_NOTE_NAME.search(
            " ".join([str(target.get("id", "")), *target.get("class", [])]))))
        if note_target and re.fullmatch(r"[\[(]?\d{1,3}[\])]?", label):
            notes[str(link["href"])[1:]] = label.strip("[]()")
            sup.decompose()
        elif _BRACKETED_CALL.match(label):
            sup.decompose()
    return notes


def preformatted_lines(text: str) -> list[str]:
    """Preformatted text keeps its rows: columns set apart by two spaces or a tab make a table (one line per row with
    its header, as other tables), other blocks stay paragraphs.

    >>> preformatted_lines("Quartier   Bénévoles  Familles\\nGerland    17         205\\nVaise      9          88")
    ['Quartier : Gerland ; Bénévoles : 17 ; Familles : 205', 'Quartier : Vaise ; Bénévoles : 9 ; Familles : 88']
    """
    lines = [line for line in text.splitlines() if line.strip()]
    rows = [re.split(r"\s{2,}|\t+", line.strip()) for line in lines]
    widths = Counter(len(row) for row in rows)
    width, count = widths.most_common(1)[0] if widths else (0, 0)
    prose = any(cell.rstrip().endswith((".", "!", "?")) and len(cell) > 40 for row in rows for cell in row)
    if width >= 2 and len(rows) >= 2 and count >= 0.6 * len(rows) and not prose:
        return table_lines(rows)
    return [_clean(block) for block in re.split(r"\n\s*\n", text) if _clean(block)]


def _html_rows(table: Any) -> list[list[str]]:
    rows = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue  # a row of a nested table: read with its cell's text
        cells: list[str] = []
        for cell in row.find_all(["td", "th"], recursive=False):
            span = str(cell.get("colspan", "1"))
            cells.append(_clean(cell.get_text(" ")))
            cells.extend([""] * (min(int(span) if span.isdigit() else 1, 50) - 1))
        rows.append(cells)
    return rows


def read_markdown(text: str) -> tuple[str, list[Paragraph]]:
    """Markdown through markdown-it, then as HTML. Past the parser's nesting limit (blockquotes or lists nested a
    hundred deep) markdown-it drops the text they hold: such a file, or one whose letters are mostly lost, is read as
    plain text without its markers, so that what it holds is still read.

    >>> [paragraph.text for paragraph in read_markdown("# Note\\n\\n" + ">" * 500 + " Le comité se réunit.")[1]]
    ['Note', 'Le comité se réunit.']
    """
    from markdown_it import MarkdownIt

    if _markdown_depth(text) < MARKDOWN_NESTING // 2:  # each list level opens two tokens
        title, paragraphs = read_html(MarkdownIt("commonmark", {"maxNesting": MARKDOWN_NESTING})
                                      .enable("table").render(text))
        written = _letters(_MARKDOWN_ADDRESSES.sub(" ", text))
        if not written or _letters(" ".join(paragraph.text for paragraph in paragraphs)) >= 0.3 * written:
            return title, paragraphs
    log.info("Markdown nested past %d levels: read as plain text", MARKDOWN_NESTING // 2)
    return read_text(_MARKDOWN_MARKERS.sub("", text))


MARKDOWN_NESTING = 180  # markdown-it's own limit is 20: real documents nest a few levels, a hostile one thousands
_MARKDOWN_ADDRESSES = re.compile(r"\]\([^)]*\)|<[a-z]+:[^>]*>|^\s*\[[^\]]+\]:.*$|<[^>]*>", re.MULTILINE)
_MARKDOWN_MARKERS = re.compile(r"^(?:[ \t]*(?:>|[*+-](?=\s)|\d{1,9}[.)](?=\s)|#{1,6}(?=\s)))+[ \t]*", re.MULTILINE)
_MARKDOWN_LEAD = re.compile(r"^(?:[ \t]*(?:>|[*+-](?=\s)|\d{1,9}[.)](?=\s)))*[ \t]*", re.MULTILINE)


def _markdown_depth(text: str) -> int:
    """How deep the deepest line nests: its quote and list markers, and its indent in steps of two columns.

    >>> _markdown_depth("> > - un\\n      - deux"), _markdown_depth("texte")
    (4, 0)
    """
    deepest = 0
    for match in _MARKDOWN_LEAD.finditer(text):
        lead = match.group()
        indent = len(lead.expandtabs(4)) - len(lead.expandtabs(4).lstrip(" "))
        deepest = max(deepest, lead.count(">") + len(_LIST_MARKER.findall(lead)) + indent // 2)
    return deepest


_LIST_MARKER = re.compile(r"[*+-](?=\s)|\d{1,9}[.)](?=\s)")


def _letters(text: str) -> int:
    return len(re.findall(r"[^\W\d_]", text))


def read_text(text: str) -> tuple[str, list[Paragraph]]:
    blocks = [_clean(block) for block in re.split(r"\n\s*\n", text)]
    blocks = [block for block in blocks if block]
    title = blocks[0] if blocks and len(blocks[0]) <= 120 else ""
    return title, [Paragraph(block, "", None) for block in blocks]
