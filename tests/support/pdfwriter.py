"""Write realistic PDFs (title page, table of contents, running header and footer, page numbers, bookmarks).

Used by the tests to make PDFs on the fly and by scripts/make_corpus.py for the shipped sample corpus.
Source format: "key: value" lines (title, subtitle, header), a blank line, then "# " chapters, "## " sections,
"- " bullets and paragraphs separated by blank lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass
class Block:
    kind: str  # chapter, section, bullet, paragraph
    text: str


@dataclass
class Source:
    meta: dict[str, str]
    blocks: list[Block] = field(default_factory=list)


def parse(text: str) -> Source:
    head, _, body = text.partition("\n\n")
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    blocks = []
    for raw in body.split("\n\n"):
        chunk = " ".join(line.strip() for line in raw.strip().splitlines())
        if not chunk:
            continue
        if chunk.startswith("## "):
            blocks.append(Block("section", chunk[3:]))
        elif chunk.startswith("# "):
            blocks.append(Block("chapter", chunk[2:]))
        elif raw.strip().startswith("- "):
            items: list[list[str]] = []
            for line in raw.strip().splitlines():
                if line.startswith("- "):
                    items.append([line[2:].strip()])
                else:
                    items[-1].append(line.strip())
            blocks.extend(Block("bullet", " ".join(item)) for item in items)
        else:
            blocks.append(Block("paragraph", chunk))
    return Source(meta, blocks)


class _Document(FPDF):
    def __init__(self, header_text: str) -> None:
        super().__init__(format="A4")
        self.header_text = header_text
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.add_font("DejaVu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
        self.set_auto_page_break(True, margin=22)
        self.set_margins(22, 22, 22)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("DejaVu", "I", 8)
        self.set_y(10)
        self.cell(0, 5, self.header_text, align="C")
        self.ln(10)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-14)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 5, f"Page {self.page_no()} / {{nb}}", align="C")


def render(source: Source, path: Path, with_toc: bool = True, banner: str = "") -> None:
    meta = source.meta
    pdf = _Document(meta.get("header", meta["title"]))
    pdf.set_title(meta["title"])
    pdf.set_author(meta.get("author", ""))
    pdf.set_subject(meta.get("subject", ""))
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # reproducible output
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 20)
    pdf.ln(30)
    pdf.multi_cell(0, 10, meta["title"], align="C")
    if meta.get("subtitle"):
        pdf.ln(4)
        pdf.set_font("DejaVu", "", 13)
        pdf.multi_cell(0, 7, meta["subtitle"], align="C")
    if banner:
        pdf.ln(12)
        pdf.set_font("DejaVu", "I", 9)
        pdf.multi_cell(0, 5, banner, border=1, padding=3)
    has_chapters = any(block.kind == "chapter" for block in source.blocks)
    if with_toc and has_chapters:
        pdf.add_page()
        pdf.insert_toc_placeholder(_toc, pages=1)  # fpdf2 starts a new page after it
    elif not with_toc:
        pdf.ln(8)
    for block in source.blocks:
        if block.kind == "chapter":
            if with_toc and pdf.get_y() > pdf.t_margin + 20:  # each chapter on a new page, no blank one
                pdf.add_page()
            else:
                pdf.ln(4)
            pdf.set_font("DejaVu", "B", 14)
            pdf.start_section(block.text, level=0)
            pdf.multi_cell(0, 8, block.text)
            pdf.ln(2)
        elif block.kind == "section":
            pdf.ln(2)
            pdf.set_font("DejaVu", "B", 11.5)
            pdf.start_section(block.text, level=1)
            pdf.multi_cell(0, 7, block.text)
            pdf.ln(1)
        elif block.kind == "bullet":
            pdf.set_font("DejaVu", "", 10.5)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5.6, "• " + block.text)
            pdf.ln(1)
        else:
            pdf.set_font("DejaVu", "", 10.5)
            pdf.multi_cell(0, 5.6, block.text, align="J")
            pdf.ln(2.5)
    pdf.output(str(path))


def _toc(pdf: FPDF, outline: list) -> None:
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 10, "Sommaire", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for entry in outline:
        pdf.set_font("DejaVu", "B" if entry.level == 0 else "", 10)
        indent = 6 * entry.level
        pdf.set_x(pdf.l_margin + indent)
        label = entry.name
        width = pdf.epw - indent - 12
        while pdf.get_string_width(label + " ....") < width:
            label += " ."
        pdf.cell(width, 6, label)
        pdf.cell(12, 6, str(entry.page_number), align="R", new_x="LMARGIN", new_y="NEXT")


def write_pdf(text: str, path: Path, with_toc: bool = True, banner: str = "") -> Path:
    render(parse(text), path, with_toc=with_toc, banner=banner)
    return path
