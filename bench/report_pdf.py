"""A generated long French report as a PDF: the shape ingestion meets in the field, at the size asked for.

    .venv/bin/python -m bench.report_pdf OUT.pdf [--pages 200] [--seed 13]

Title page, a contents page, numbered chapters and sections (with bookmarks), justified paragraphs, bulleted and
numbered lists, tables, footnotes at the page bottom, a running header and a « Page n / N » footer. The prose is a
word-level Markov chain (order 2) over the sample corpus's sentences, drawn with a fixed seed: French that reads
like the study's and tokenises like it, the same bytes on every run. Needs fpdf2 (dev extras) and the DejaVu fonts.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from ingest.build import corpus_files
from ingest.chunk import split_sentences
from ingest.load import load_document

ROOT = Path(__file__).resolve().parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TITLE = "Villes et vivre ensemble — rapport d’évaluation de la recherche-action"
HEADER = "Odas — Villes et vivre ensemble — rapport d’évaluation (document de travail)"
SITES = ("Angers", "Arras", "Bordeaux", "Clichy-sous-Bois", "Creil", "Garges-lès-Gonesse", "Le Havre",
         "Moulins Communauté", "Strasbourg", "Valenciennes Métropole", "Villeurbanne")
CHAPTERS = ("Contexte et enjeux de la recherche-action", "Méthode et calendrier", "La gouvernance locale",
            "L’observation partagée des territoires", "La participation des habitants",
            "La coopération entre services et partenaires", "Les moyens mobilisés", "Synthèse transversale",
            "Recommandations")
SECTIONS = ("Les acteurs en présence", "Le diagnostic de départ", "Les objectifs poursuivis", "Les actions engagées",
            "Le rôle des élus", "La place des habitants", "Les partenariats", "Les outils de suivi",
            "Les résultats observés", "Les difficultés rencontrées", "Les enseignements", "Les perspectives")
REFERENCES = ("Odas, « Villes et vivre ensemble », rapport intermédiaire, 2016, p. {page}.",
              "Compte rendu du comité de pilotage du {day} {month} {year}.",
              "Entretien avec un agent du CCAS, {month} {year}.",
              "Voir l’annexe {page} pour le détail des chiffres.",
              "Source : observatoire local, données {year}.")
MONTHS = ("janvier", "mars", "mai", "juin", "septembre", "octobre", "novembre", "décembre")
MAX_NOTES_PER_PAGE = 2


class Prose:
    """Sentences drawn from a word-level Markov chain of order 2 over real sentences."""

    def __init__(self, sentences: list[str], seed: int) -> None:
        self.random = random.Random(seed)
        self.follows: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sentence in sentences:
            words = ["", "", *sentence.split(), "\n"]
            for first, second, third in zip(words, words[1:], words[2:], strict=False):
                self.follows[first, second].append(third)

    def sentence(self, shortest: int = 6, longest: int = 40) -> str:
        for _ in range(50):
            words: list[str] = []
            state = ("", "")
            while len(words) < longest:
                word = self.random.choice(self.follows[state])
                if word == "\n":
                    break
                words.append(word)
                state = (state[1], word)
            if len(words) >= shortest:
                text = " ".join(words)
                return text if re.search(r"[.!?…»]$", text) else text.rstrip(",;:") + "."
        return "La démarche se poursuit."

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def item(self) -> str:
        """A list item: a clause without its final full stop, starting in lower case."""
        text = self.sentence(4, 18).rstrip(".!?…")
        return text[:1].lower() + text[1:]


def corpus_sentences(corpus_dir: Path = ROOT / "corpus") -> list[str]:
    """Every sentence of the sample corpus, as the loaders read it."""
    sentences = []
    for source, path in corpus_files(corpus_dir, corpus_dir / ".index").items():
        for paragraph in load_document(path, source, 10**9).paragraphs:
            text = paragraph.text
            sentences += [text[a:b] for a, b in split_sentences(text) if len(text[a:b].split()) >= 4]
    return sentences


class _Report(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.add_font("DejaVu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
        self.set_margins(22, 22, 22)
        self.set_auto_page_break(True, margin=32)  # room for two footnotes above the page number
        self.notes: dict[int, list[tuple[int, str]]] = defaultdict(list)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("DejaVu", "I", 8)
        self.set_y(10)
        self.cell(0, 5, HEADER, align="C")
        self.ln(10)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        notes = self.notes.get(self.page_no(), [])
        if notes:
            self.set_y(-16 - 4 * len(notes))
            self.line(self.l_margin, self.get_y() - 1, self.l_margin + 50, self.get_y() - 1)
            self.set_font("DejaVu", "", 7.5)
            for number, text in notes:
                self.cell(0, 4, f"{number} {text}", new_x="LMARGIN", new_y="NEXT")
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 5, f"Page {self.page_no()} / {{nb}}", align="C")

    def body(self, text: str) -> None:
        self.set_font("DejaVu", "", 10.5)
        self.multi_cell(0, 5.0, text, align="J")
        self.ln(2.2)


def _contents(pdf: FPDF, outline: list) -> None:
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 10, "Sommaire", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9.5)
    for entry in (entry for entry in outline if entry.level == 0):
        label = entry.name
        while pdf.get_string_width(label + " ....") < pdf.epw - 12:
            label += " ."
        pdf.cell(pdf.epw - 12, 5.5, label)
        pdf.cell(12, 5.5, str(entry.page_number), align="R", new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Report, prose: Prose, number: int) -> None:
    rows = [("Site", "Habitants associés", "Réunions", "Partenaires", "Année")]
    for site in SITES:
        rows.append((site, str(prose.random.randint(20, 900)), str(prose.random.randint(3, 40)),
                     str(prose.random.randint(2, 25)), str(prose.random.choice((2015, 2016, 2017)))))
    pdf.body(f"Le tableau {number} rassemble les chiffres déclarés par les sites au terme de la période étudiée.")
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(col_widths=(40, 30, 22, 26, 18), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
                   line_height=5.5) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.set_font("DejaVu", "I", 9)
    pdf.multi_cell(0, 5, f"Tableau {number} : participation et partenariats par site (déclaratif).", align="C")
    pdf.ln(3)


def _note(prose: Prose) -> str:
    template = prose.random.choice(REFERENCES)
    return template.format(page=prose.random.randint(3, 180), day=prose.random.randint(1, 28),
                           month=prose.random.choice(MONTHS), year=prose.random.choice((2015, 2016, 2017)))


def _section(pdf: _Report, prose: Prose, counters: dict[str, int]) -> None:
    for _ in range(prose.random.randint(3, 6)):
        kind = prose.random.random()
        if kind < 0.12:
            pdf.body(prose.sentence(6, 20).rstrip(".") + " :")
            pdf.set_font("DejaVu", "", 10.5)
            for _ in range(prose.random.randint(3, 5)):
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 5.4, "• " + prose.item() + " ;")
                pdf.ln(1)
            pdf.ln(1.5)
        elif kind < 0.2:
            pdf.body("Les objectifs retenus par le comité de pilotage sont les suivants :")
            pdf.set_font("DejaVu", "", 10.5)
            items = prose.random.randint(3, 5)
            for number in range(1, items + 1):
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 5.4, f"{number}. {prose.item()}{'.' if number == items else ' ;'}")
            pdf.ln(2.5)
        else:
            text = prose.paragraph(prose.random.randint(3, 8))
            page = pdf.page_no()
            if prose.random.random() < 0.25 and len(pdf.notes[page]) < MAX_NOTES_PER_PAGE and counters["note"] < 99:
                counters["note"] += 1  # the call glued to the last word, as word processors' PDFs give it
                text = re.sub(r"([^\W\d_])([.!?…»]*)$", rf"\g<1>{counters['note']}\g<2>", text)
                pdf.body(text)
                if len(pdf.notes[pdf.page_no()]) < MAX_NOTES_PER_PAGE:
                    pdf.notes[pdf.page_no()].append((counters["note"], _note(prose)))
            else:
                pdf.body(text)


def write_report(path: Path, pages: int = 200, seed: int = 13, corpus_dir: Path = ROOT / "corpus") -> int:
    """Write the report at `path`; returns its page count (`pages`, or one or two more to end a section)."""
    prose = Prose(corpus_sentences(corpus_dir), seed)
    pdf = _Report()
    pdf.set_title(TITLE)
    pdf.set_author("Odas")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # the same bytes on every run
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 20)
    pdf.ln(40)
    pdf.multi_cell(0, 10, TITLE, align="C")
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 13)
    pdf.multi_cell(0, 7, "La gouvernance locale de la cohésion sociale — onze sites, 2015-2017", align="C")
    pdf.add_page()
    pdf.insert_toc_placeholder(_contents, pages=1)
    counters = {"note": 0, "table": 0}
    topics = [*CHAPTERS[:-2], *(f"Étude de cas : {site}" for site in SITES), *CHAPTERS[-2:]]
    chapter = 0
    while pdf.page_no() < pages:
        topic = topics[chapter % len(topics)]
        chapter += 1
        if pdf.get_y() > pdf.t_margin + 20:
            pdf.add_page()
        pdf.set_font("DejaVu", "B", 14)
        pdf.start_section(f"{chapter}. {topic}", level=0)
        pdf.multi_cell(0, 8, f"{chapter}. {topic}")
        pdf.ln(2)
        pdf.body(prose.paragraph(4))
        for number, section in enumerate(prose.random.sample(SECTIONS, prose.random.randint(6, 10)), 1):
            pdf.ln(2)
            pdf.set_font("DejaVu", "B", 11.5)
            pdf.start_section(f"{chapter}.{number} {section}", level=1)
            pdf.multi_cell(0, 7, f"{chapter}.{number} {section}")
            pdf.ln(1)
            _section(pdf, prose, counters)
            if number == 2 and chapter % 4 == 1:
                counters["table"] += 1
                _table(pdf, prose, counters["table"])
            if pdf.page_no() >= pages:
                break
    pdf.output(str(path))
    return pdf.pages_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    print(f"{args.out}: {write_report(args.out, args.pages, args.seed)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
