"""Generate the sample corpus's PDFs and DOCX from scripts/corpus_src/ (development only: the output is committed).

    .venv/bin/python scripts/make_corpus.py

Needs fpdf2 (a dev dependency) and the DejaVu fonts (Debian's fonts-dejavu-core).
"""

from __future__ import annotations

import sys
from pathlib import Path

import docx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pdfwriter import parse, render  # noqa: E402

SOURCES = ROOT / "scripts" / "corpus_src"
CORPUS = ROOT / "corpus"
BANNER = ("Corpus d’exemple : document reconstitué par l’équipe du projet à partir de sources publiques, pour "
          "faire fonctionner l’assistant. Ce n’est pas la publication de l’Odas ; il ne contient que des faits "
          "sourcés, et les incertitudes des sources y sont signalées. Sources : {sources}")


def write_docx(text: str, path: Path) -> None:
    source = parse(text)
    document = docx.Document()
    document.core_properties.title = source.meta["title"]
    document.core_properties.author = "Équipe du projet (corpus d’exemple)"
    document.add_heading(source.meta["title"], level=0)
    document.add_paragraph(BANNER.format(sources=source.meta["sources"]))
    for block in source.blocks:
        if block.kind in ("chapter", "section"):
            document.add_heading(block.text, level=1 if block.kind == "chapter" else 2)
        else:
            document.add_paragraph(block.text)
    document.save(str(path))


def main() -> int:
    for path in sorted(SOURCES.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if path.stem.startswith("etude-"):
            target = CORPUS / f"{path.stem}.docx"
            write_docx(text, target)
        else:
            source = parse(text)
            target = CORPUS / f"{path.stem}.pdf"
            render(source, target, with_toc=path.stem.startswith("rapport"),
                   banner=BANNER.format(sources=source.meta["sources"]))
        print(f"{target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
