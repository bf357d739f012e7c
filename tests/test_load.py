import codecs
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from ingest.errors import UnreadableDocument
from ingest.load import load_document, sniff, strip_running_lines

MB = 1_048_576


def test_pdf_keeps_page_numbers_sections_and_title(report_pdf, tmp_path):
    pdf = report_pdf(tmp_path / "rapport.pdf")
    document = load_document(pdf, "rapport.pdf", 10 * MB)
    assert document.kind == "pdf"
    assert document.title == "Rapport d’essai sur la cohésion sociale"
    assert document.page_count == len(PdfReader(pdf).pages) == 4  # title, contents, chapter 1, chapter 2
    acteurs = next(p for p in document.paragraphs if p.text.startswith("Le CCAS"))
    assert acteurs.section == "1.1 Les acteurs"
    pactotec = next(p for p in document.paragraphs if "Pactotec" in p.text)
    assert pactotec.section == "2. Résultats"
    assert pactotec.page == len(PdfReader(pdf).pages)
    assert acteurs.page is not None and acteurs.page < pactotec.page


def test_pdf_running_header_footer_page_numbers_and_contents_are_removed(report_pdf, tmp_path):
    document = load_document(report_pdf(tmp_path / "r.pdf"), "r.pdf", 10 * MB)
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "en-tête courant" not in text
    assert "Page 3" not in text
    assert ". . . ." not in text  # table-of-contents leaders
    assert "« engagement solidaire »" in text  # typographic quotes survive


def test_pdf_paragraph_is_one_paragraph_across_its_lines(report_pdf, tmp_path):
    document = load_document(report_pdf(tmp_path / "r.pdf"), "r.pdf", 10 * MB)
    first = next(p for p in document.paragraphs if p.text.startswith("La démarche a commencé"))
    assert first.text.endswith("au cours de la période étudiée.")


def _pdf_with_lines(path: Path, lines: list[str]) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_words_hyphenated_at_line_end_are_joined_and_names_keep_their_hyphen(tmp_path):
    path = _pdf_with_lines(tmp_path / "h.pdf", [
        "La politique de la ville favorise la cohé-",
        "sion sociale dans les quartiers de Clichy-sous-",
        "Bois depuis longtemps.",
    ])
    document = load_document(path, "h.pdf", MB)
    assert document.paragraphs[0].text == (
        "La politique de la ville favorise la cohésion sociale dans les quartiers de Clichy-sous-Bois depuis longtemps."
    )


def test_running_lines_on_most_pages_are_removed():
    pages = [["Odas — rapport", f"Texte propre à la page {word}.", f"- {n} -"]
             for n, word in enumerate(["un", "deux", "trois", "quatre"], 1)]
    cleaned = strip_running_lines(pages)
    assert cleaned == [[f"Texte propre à la page {word}."] for word in ["un", "deux", "trois", "quatre"]]


def test_markdown_headings_become_sections(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Titre\n\nIntro.\n\n## Partie A\n\nTexte **gras** de A.\n\n- point un\n- point deux\n",
                    encoding="utf-8")
    document = load_document(path, "note.md", MB)
    assert document.kind == "markdown" and document.title == "Titre"
    assert [(p.section, p.text) for p in document.paragraphs] == [
        ("Titre", "Intro."), ("Partie A", "Texte gras de A."), ("Partie A", "point un"), ("Partie A", "point deux"),
    ]
    assert all(p.page is None for p in document.paragraphs)


def test_html_visible_text_and_headings(tmp_path):
    path = tmp_path / "page.txt"  # chosen by content, not by extension
    path.write_text("<html><head><title>Lettre</title><script>var x = 1;</script></head><body><nav>Menu</nav>"
                    "<h2>Bilan</h2><p>Deux ans de travail &amp; sept comités.</p></body></html>", encoding="utf-8")
    document = load_document(path, "page.txt", MB)
    assert document.kind == "html" and document.title == "Lettre"
    assert [(p.section, p.text) for p in document.paragraphs] == [("Bilan", "Deux ans de travail & sept comités.")]


def test_docx_headings_and_title(tmp_path):
    import docx

    word = docx.Document()
    word.core_properties.title = "Étude 2010"
    word.add_heading("Méthode", level=1)
    word.add_paragraph("Plus de 350 entretiens.")
    path = tmp_path / "etude.docx"
    word.save(str(path))
    document = load_document(path, "etude.docx", MB)
    assert document.kind == "docx" and document.title == "Étude 2010"
    assert [(p.section, p.text) for p in document.paragraphs] == [("Méthode", "Plus de 350 entretiens.")]


def test_plain_text_paragraphs(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Notes de terrain\n\nPremier paragraphe\nsur deux lignes.\n\nSecond.", encoding="utf-8")
    document = load_document(path, "notes.txt", MB)
    assert document.title == "Notes de terrain"
    assert [p.text for p in document.paragraphs][1:] == ["Premier paragraphe sur deux lignes.", "Second."]


def _encrypted(report_pdf, tmp_path):
    source = report_pdf(tmp_path / "clair.pdf")
    writer = PdfWriter(clone_from=str(source))
    writer.encrypt("secret")
    path = tmp_path / "chiffre.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def _image_only(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 100, style="F")
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("vide.pdf", lambda tmp, _: _write(tmp / "vide.pdf", b""), "fichier vide"),
    ("casse.pdf", lambda tmp, _: _write(tmp / "casse.pdf", b"%PDF-1.7\n1 0 obj <<>> garbage"), "PDF illisible"),
    ("chiffre.pdf", lambda tmp, make_pdf: _encrypted(make_pdf, tmp), "mot de passe"),
    ("scan.pdf", lambda tmp, _: _image_only(tmp), "OCR"),
    ("faux.pdf", lambda tmp, _: _write(tmp / "faux.pdf", b"juste du texte"), "n'est pas un PDF"),
    ("photo.txt", lambda tmp, _: _write(tmp / "photo.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20), "image PNG"),
])
def test_bad_files_are_refused_with_a_french_reason(tmp_path, report_pdf, name, make, reason):
    path = make(tmp_path, report_pdf)
    with pytest.raises(UnreadableDocument, match=reason):
        load_document(path, name, MB)


@pytest.mark.parametrize(("name", "data", "expected"), [
    # Notepad's « Unicode »: UTF-16 with a byte-order mark (it was refused as a binary file)
    ("notes.txt", codecs.BOM_UTF16_LE + "Le café des aidants a ouvert en janvier 2024.".encode("utf-16-le"),
     "Le café des aidants a ouvert en janvier 2024."),
    ("notes-be.txt", codecs.BOM_UTF16_BE + "Réunion à l’Hôtel de ville.".encode("utf-16-be"),
     "Réunion à l’Hôtel de ville."),
    # a text saved in windows-1252 by an old editor: curly apostrophe, œ and € are there, not in latin-1
    ("cp1252.txt", "Le cœur du quartier : l’épicerie solidaire coûte 2 € par panier et accueille les élèves.".encode(
        "cp1252"), "Le cœur du quartier : l’épicerie solidaire coûte 2 € par panier"),
    ("latin1.txt", "Cohésion sociale et prévention spécialisée à Saint-Étienne".encode("latin-1"),
     "Cohésion sociale et prévention spécialisée à Saint-Étienne"),
    # a page that declares ISO-8859-1 is read as browsers read it: windows-1252 (0x92 is their apostrophe)
    ("page.html", b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
     b"<body><p>Le centre social \xc9mile-Zola a ouvert le caf\xe9 des aidants en janvier 2024 \x96 c\x92est "
     b"une premi\xe8re.</p></body></html>", "Le centre social Émile-Zola a ouvert le café des aidants en janvier 2024 "
     "– c’est une première."),
    ("meta-charset.html", '<html><head><meta charset="windows-1252"><title>Écoles</title></head><body><p>Élèves '
     "accueillis : 48 — œuvre commune.</p></body></html>".encode("cp1252"), "Élèves accueillis : 48 — œuvre commune."),
])
def test_declared_and_detected_encodings_are_read_as_editors_and_browsers_read_them(tmp_path, name, data, expected):
    path = _write(tmp_path / name, data)
    document = load_document(path, name, MB)
    text = " ".join(paragraph.text for paragraph in document.paragraphs)
    assert expected in text and "\ufffd" not in text and "Ã" not in text


def test_huge_file_is_refused_before_being_read(tmp_path):
    path = tmp_path / "gros.txt"
    path.write_bytes(b"a" * (2 * MB))
    with pytest.raises(UnreadableDocument, match="trop volumineux"):
        load_document(path, "gros.txt", MB)


def test_sniff_by_content():
    assert sniff(b"%PDF-1.4") == "pdf"
    assert sniff(b"<!doctype html><html></html>") == "html"
    assert sniff(b"## Titre\ntexte") == "markdown"
    assert sniff("Texte accentué".encode()) == "text"


def test_decomposed_accents_and_invisible_characters_are_normalised_in_every_format(tmp_path):
    import unicodedata

    import docx

    text = "La réciprocité est au cœur du Comptoir citoyen."
    decomposed = unicodedata.normalize("NFD", text).replace("Comptoir", "Comp\u200btoir")
    (tmp_path / "a.md").write_text(f"# {unicodedata.normalize('NFD', 'Étude')}\n\n{decomposed}\n", encoding="utf-8")
    (tmp_path / "b.html").write_text(f"<html><body><p>{decomposed}</p></body></html>", encoding="utf-8")
    word = docx.Document()
    word.add_paragraph(decomposed)
    word.save(str(tmp_path / "c.docx"))
    for name in ("a.md", "b.html", "c.docx"):
        document = load_document(tmp_path / name, name, MB)
        assert [p.text for p in document.paragraphs] == [text], name
    assert load_document(tmp_path / "a.md", "a.md", MB).title == "Étude"


# --- PDF text as pypdf gives it: soft hyphens, footnotes, bold drawn twice, line filters ---------------------

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _pdf_pages(path: Path, pages: list[list[str]]) -> Path:
    """One PDF page per list of lines, in a Unicode font (soft hyphens, accents, ligatures)."""
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    for lines in pages:
        pdf.add_page()
        pdf.set_font("DejaVu", size=11)
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def _texts(path: Path) -> list[str]:
    return [paragraph.text for paragraph in load_document(path, path.name, 10 * MB).paragraphs]


def test_soft_hyphen_at_line_end_joins_the_word(tmp_path):
    path = _pdf_pages(tmp_path / "c.pdf", [[
        "La démarche engagée par la ville vise à renforcer la cohé\u00ad",
        "sion sociale, avec l’appui des associa\u00ad",
        "tions de locataires et des cen\u00adtres sociaux.",
    ]])
    assert _texts(path) == ["La démarche engagée par la ville vise à renforcer la cohésion sociale, avec l’appui "
                            "des associations de locataires et des centres sociaux."]


def test_superscript_footnote_calls_are_unglued_and_notes_kept_apart(tmp_path):
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    pdf.add_page()
    pdf.set_font("DejaVu", size=11)
    for text, call in [("Les sites partagent la cohésion sociale", "1"),
                       (" des territoires et l’observation partagée", "2"), (" des besoins.", "")]:
        pdf.write(6, text)
        if call:
            pdf.char_vpos = "SUP"
            pdf.write(6, call)
            pdf.char_vpos = "LINE"
    pdf.set_y(260)
    pdf.set_font("DejaVu", size=8)
    for note in ["1 Voir la définition retenue par le comité de pilotage.", "2 Démarche conduite avec les CCAS."]:
        pdf.cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "notes.pdf"
    pdf.output(str(path))
    assert _texts(path) == [
        "Les sites partagent la cohésion sociale des territoires et l’observation partagée des besoins.",
        "Note 1 : Voir la définition retenue par le comité de pilotage.",
        "Note 2 : Démarche conduite avec les CCAS.",
    ]


def test_numbered_lines_without_calls_in_the_text_are_not_footnotes(tmp_path):
    path = _pdf_pages(tmp_path / "l.pdf", [["Le comité a retenu deux dates de réunion pour cette année.",
                                            "12 avril à la mairie annexe", "13 mai au centre social"]])
    text = " ".join(_texts(path))
    assert "12 avril" in text and "13 mai" in text and "Note" not in text


def test_text_drawn_twice_for_a_bold_effect_is_kept_once(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.text(20, 30, "Bilan de la demarche")
    pdf.text(20.3, 30, "Bilan de la demarche")
    x = 20.0
    for char in "Synthese":
        pdf.text(x, 40, char)
        pdf.text(x + 0.2, 40, char)
        x += pdf.get_string_width(char)
    pdf.text(20, 50, "Le comite a valide le budget.")
    path = tmp_path / "gras.pdf"
    pdf.output(str(path))
    text = " ".join(_texts(path))
    assert "Bilan de la demarche Synthese Le comite a valide le budget." in text
    assert "demarcheBilan" not in text and "SSyy" not in text


def test_lines_that_are_figures_and_headings_differing_by_a_year_are_kept(tmp_path):
    pages = [[f"Bilan {year}", "Nombre de bénévoles actifs", figure, f"L’année {year} a été marquée par un atelier.",
              "Les usagers interrogés se disent satisfaits de l’accueil."]
             for year, figure in [("2016", "120"), ("2017", "185"), ("2018", "240")]]
    text = "\n".join(_texts(_pdf_pages(tmp_path / "b.pdf", pages)))
    for kept in ["Bilan 2016", "Bilan 2017", "Bilan 2018", "120", "185", "240"]:
        assert kept in text
    assert text.count("satisfaits de l’accueil") == 3  # a sentence repeated at the page bottom is content


def test_running_header_footer_and_page_numbers_go_only_at_page_edges(tmp_path):
    pages = [["Odas — Rapport annuel", f"Texte de la page {n} avec ses faits.", "42", f"Page {n} sur 3"]
             for n in (1, 2, 3)]
    pages[1].insert(2, "7")  # a figure in the body that happens to be the page number
    texts = _texts(_pdf_pages(tmp_path / "r.pdf", pages))
    text = "\n".join(texts)
    assert "Odas — Rapport annuel" not in text and "Page 2 sur 3" not in text
    assert text.count("42") == 3 and "7" in text


def test_bare_page_numbers_at_the_bottom_are_removed(tmp_path):
    pages = [[f"Texte de la page {word}.", str(n + 4)] for n, word in enumerate(["un", "deux", "trois"], 1)]
    assert _texts(_pdf_pages(tmp_path / "n.pdf", pages)) == ["Texte de la page un.", "Texte de la page deux.",
                                                             "Texte de la page trois."]


def test_contents_are_recognised_by_their_place_and_dot_leader_figures_kept(tmp_path):
    pages = [["Sommaire", "Contexte ........................ 2", "Méthode ......................... 2",
              "Résultats ....................... 3"],
             ["Contexte.", "Le Comptoir citoyen a ouvert en 2018."],
             ["Résultats.", "Ménages suivis ........................ 1250", "Familles ........................ 310",
              "Jeunes ........................ 95"]]
    text = "\n".join(_texts(_pdf_pages(tmp_path / "t.pdf", pages)))
    assert "Contexte ...." not in text and "Méthode" not in text
    assert "Ménages suivis : 1250" in text and "Familles : 310" in text


def test_numbered_list_items_without_a_period_stay_text(tmp_path):
    path = _pdf_pages(tmp_path / "o.pdf", [[
        "Le projet de territoire poursuit trois objectifs :",
        "1. Favoriser la participation des habitants",
        "2. Renforcer les liens entre voisins par des chantiers solidaires",
        "3. Évaluer chaque année les actions menées",
        "Le comité de suivi se réunit deux fois par an.",
    ]])
    # the list stays with the sentence that announces it, so that one quote gives every item
    assert _texts(path) == [
        "Le projet de territoire poursuit trois objectifs : 1. Favoriser la participation des habitants ; "
        "2. Renforcer les liens entre voisins par des chantiers solidaires ; 3. Évaluer chaque année les actions "
        "menées", "Le comité de suivi se réunit deux fois par an.",
    ]
    assert load_document(path, "o.pdf", MB).paragraphs[0].section == ""  # no item was taken for a heading


def test_numbered_headings_still_open_sections(tmp_path):
    path = _pdf_pages(tmp_path / "s.pdf", [["1. Contexte", "La démarche a commencé en 2015.",
                                            "2. Résultats", "Le comité s’est réuni sept fois."]])
    document = load_document(path, "s.pdf", MB)
    assert [(p.section, p.text) for p in document.paragraphs] == [
        ("1. Contexte", "La démarche a commencé en 2015."), ("2. Résultats", "Le comité s’est réuni sept fois.")]


# --- HTML and DOCX: every text, tables as rows under their heading --------------------------------------------


def _paragraphs(path: Path) -> list[tuple[str, str]]:
    return [(p.section, p.text) for p in load_document(path, path.name, 10 * MB).paragraphs]


def test_html_text_directly_in_div_header_section_and_span_is_kept(tmp_path):
    path = tmp_path / "lettre.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>Lettre</title></head><body><header><h1>Lettre</h1>"
        "<div>Le Comptoir fête ses deux ans : 350 bénévoles.</div></header><!-- un commentaire -->"
        "<section>Texte direct de la section.<span> Suite dans un span</span>, <b>en gras</b>.</section>"
        "<h2>Actualités</h2><div class='bloc'>La permanence a lieu le mardi.<div>Un bloc imbriqué.</div>Après.</div>"
        "<div>Le forum se tiendra le 14 septembre<br>sur la place de la mairie.</div></body></html>",
        encoding="utf-8")
    assert _paragraphs(path) == [
        ("Lettre", "Le Comptoir fête ses deux ans : 350 bénévoles."),
        ("Lettre", "Texte direct de la section. Suite dans un span, en gras."),
        ("Actualités", "La permanence a lieu le mardi."), ("Actualités", "Un bloc imbriqué."), ("Actualités", "Après."),
        ("Actualités", "Le forum se tiendra le 14 septembre sur la place de la mairie."),
    ]


def test_html_table_is_one_line_per_row_with_its_header_under_its_heading(tmp_path):
    path = tmp_path / "bilan.html"
    path.write_text(
        "<html><body><h2>Angers</h2><table><caption>Bénévoles par année</caption>"
        "<thead><tr><th>Année</th><th>Bénévoles</th><th>Ateliers</th></tr></thead>"
        "<tbody><tr><td>2016</td><td>120</td><td>120</td></tr><tr><td>2017</td><td>185</td><td>9</td></tr></tbody>"
        "</table><h2>Arras</h2><p>La Maison des projets.</p></body></html>", encoding="utf-8")
    assert _paragraphs(path) == [
        ("Angers", "Année : 2016 ; Bénévoles : 120 ; Ateliers : 120"),
        ("Angers", "Année : 2017 ; Bénévoles : 185 ; Ateliers : 9"),
        ("Angers", "Bénévoles par année"), ("Arras", "La Maison des projets."),
    ]


def test_deeply_nested_html_is_read_without_recursion_error(tmp_path):
    path = tmp_path / "profond.html"
    path.write_text("<html><body>" + "<div>" * 20_000 + "Le texte tout au fond." + "</div>" * 20_000
                    + "</body></html>", encoding="utf-8")
    assert _paragraphs(path) == [("", "Le texte tout au fond.")]


_CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                  'content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                  'officedocument.wordprocessingml.document.main+xml"/></Types>')
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _raw_docx(path: Path, body: str, document: str | None = None) -> Path:
    """A minimal .docx whose document.xml is written by hand (tracked changes, content controls, broken XML)."""
    import zipfile

    xml = document if document is not None else (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("word/document.xml", xml)
    return path


def _p(text: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>"


def test_docx_tracked_insertions_and_content_controls_are_read_and_deletions_dropped(tmp_path):
    body = (_p("Compte rendu", "Heading1")
            + '<w:p><w:r><w:t xml:space="preserve">Le comité a validé </w:t></w:r><w:ins w:id="1" w:author="R">'
            '<w:r><w:t xml:space="preserve">le budget de 45 000 euros et </w:t></w:r></w:ins><w:del w:id="2" '
            'w:author="R"><w:r><w:delText>l’ancien budget et </w:delText></w:r></w:del><w:r><w:t>le calendrier.</w:t>'
            '</w:r></w:p>'
            + '<w:ins w:id="3" w:author="R">' + _p("Une réunion ajoutée le 12 avril.") + "</w:ins>"
            + "<w:sdt><w:sdtPr/><w:sdtContent>" + _p("Texte d’un contrôle de contenu.") + "</w:sdtContent></w:sdt>"
            + '<w:p><w:sdt><w:sdtContent><w:r><w:t>Champ en ligne rempli.</w:t></w:r></w:sdtContent></w:sdt></w:p>')
    path = _raw_docx(tmp_path / "cr.docx", body)
    assert _paragraphs(path) == [
        ("Compte rendu", "Le comité a validé le budget de 45 000 euros et le calendrier."),
        ("Compte rendu", "Une réunion ajoutée le 12 avril."),
        ("Compte rendu", "Texte d’un contrôle de contenu."), ("Compte rendu", "Champ en ligne rempli."),
    ]


def test_docx_tables_stay_in_place_under_their_heading_with_every_column(tmp_path):
    import docx

    word = docx.Document()
    word.add_heading("1. Angers", level=1)
    word.add_paragraph("Le Comptoir citoyen a été présenté au CCAS.")
    table = word.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [["Indicateur", "2016", "2017"], ["Bénévoles", "350", "350"],
                                        ["Ateliers", "12", "15"]], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    word.add_heading("2. Arras", level=1)
    word.add_paragraph("La Maison des projets accueille les habitants.")
    path = tmp_path / "bilan.docx"
    word.save(str(path))
    assert _paragraphs(path) == [
        ("1. Angers", "Le Comptoir citoyen a été présenté au CCAS."),
        ("1. Angers", "Indicateur ; 2016 ; 2017"),  # a header of figures names no column
        ("1. Angers", "Bénévoles ; 350 ; 350"), ("1. Angers", "Ateliers ; 12 ; 15"),
        ("2. Arras", "La Maison des projets accueille les habitants."),
    ]


@pytest.mark.parametrize(("document", "reason"), [
    (f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>ouvert</w:r></w:p></w:body></w:document>',
     "XML invalide"),
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
     f'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r>'
     "<w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>", "entités"),
    (f'<w:document xmlns:w="{_W_NS}"><w:body>' + "<w:p><w:r><w:t>x</w:t></w:r></w:p>" * 10
     + " " * (70 * MB) + "</w:body></w:document>", "bombe de décompression"),
])
def test_hostile_or_broken_docx_is_refused_with_a_french_reason(tmp_path, document, reason):
    path = _raw_docx(tmp_path / "piege.docx", "", document)
    assert path.stat().st_size < MB  # the bomb is small on disk
    with pytest.raises(UnreadableDocument, match=reason):
        load_document(path, "piege.docx", 10 * MB)


def test_html_page_in_a_form_keeps_its_content_drops_its_chrome_and_takes_note_calls_out_of_words(tmp_path):
    """A town-hall page as CMSs write it (issue 22): the whole page in one ASP.NET form, menus, a cookie banner, a
    page footer, an aside; note calls in <sup>; notes at the end; a typed table in <pre>."""
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Mairie</title></head><body><form id='aspnetForm' method='post'>"
        "<input type='hidden' name='__VIEWSTATE' value='dDwtMTA4NzA'/>"
        "<header class='bandeau'><a href='/'>Accueil</a> · <a href='/contact'>Contact</a></header>"
        "<div id='cookie-consent'>Ce site utilise des cookies. Accepter</div>"
        "<ul role='navigation'><li>Démarches</li><li>Agenda</li></ul>"
        "<main><h1>Le conseil citoyen</h1>"
        "<p>Le conseil citoyen a tenu 12 séances<sup>[1]</sup> en 2023 et rendu 3 avis<sup><a href='#fn2'>2</a></sup> "
        "au maire.</p>"
        "<pre>Quartier      Bénévoles   Familles\nGerland       17          205\nVaise         9           88\n</pre>"
        "<aside>Lire aussi : le budget participatif</aside>"
        "<ol><li id='fn2'>Avis sur la propreté, l’éclairage et les mobilités.</li></ol></main>"
        "<div hidden>Brouillon caché</div><p style='display: none'>Texte masqué</p>"
        "<footer>Mentions légales · Plan du site</footer></form></body></html>", encoding="utf-8")
    paragraphs = _paragraphs(path)
    texts = [text for _, text in paragraphs]
    assert "Le conseil citoyen a tenu 12 séances en 2023 et rendu 3 avis au maire." in texts
    assert ("Notes", "2 Avis sur la propreté, l’éclairage et les mobilités.") in paragraphs
    assert "Quartier : Gerland ; Bénévoles : 17 ; Familles : 205" in texts
    assert "Quartier : Vaise ; Bénévoles : 9 ; Familles : 88" in texts
    joined = " ".join(texts)
    for chrome in ("cookies", "Mentions légales", "Démarches", "Accueil", "Lire aussi", "dDwtMTA4NzA", "caché",
                   "masqué"):
        assert chrome not in joined, chrome


_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _docx_parts(path: Path, parts: dict[str, str]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        for name, xml in parts.items():
            archive.writestr(name, xml)
    return path


def test_docx_text_boxes_are_read_once_apart_and_notes_become_a_notes_section(tmp_path):
    box = ("<w:txbxContent><w:p><w:r><w:t>Repères</w:t></w:r></w:p><w:p><w:r><w:t>640 colis distribués en 2022"
           "</w:t></w:r></w:p></w:txbxContent>")
    body = (
        # a box drawn for Word 2010 with its VML fallback for older readers: one box, read once
        f'<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>{box}</w:drawing></mc:Choice>'
        f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r>"
        "<w:r><w:t>L’épicerie solidaire ouvre le mercredi.</w:t></w:r>"
        '<w:r><w:endnoteReference w:id="7"/></w:r></w:p>'
        # an old VML-only box
        "<w:p><w:r><w:pict><w:txbxContent><w:p><w:r><w:t>Encadré : 35 bénévoles</w:t></w:r></w:p></w:txbxContent>"
        '</w:pict></w:r><w:r><w:t>Elle est tenue par des bénévoles.</w:t></w:r><w:r><w:endnoteReference w:id="3"/>'
        "</w:r></w:p>")
    endnotes = (f'<w:endnotes xmlns:w="{_W_NS}"><w:endnote w:type="separator" w:id="0"><w:p><w:r><w:separator/>'
                '</w:r></w:p></w:endnote><w:endnote w:id="3"><w:p><w:r><w:t>Chiffres de l’association.</w:t></w:r>'
                '</w:p></w:endnote><w:endnote w:id="7"><w:p><w:r><w:t>Sauf en août.</w:t></w:r></w:p></w:endnote>'
                '<w:endnote w:id="9"><w:p><w:r><w:t>Note orpheline.</w:t></w:r></w:p></w:endnote></w:endnotes>')
    path = _docx_parts(tmp_path / "epicerie.docx", {
        "word/document.xml": f'<w:document xmlns:w="{_W_NS}" xmlns:mc="{_MC_NS}"><w:body>{body}</w:body></w:document>',
        "word/endnotes.xml": endnotes})
    assert [text for _, text in _paragraphs(path)] == [
        "L’épicerie solidaire ouvre le mercredi.", "Repères", "640 colis distribués en 2022",
        "Elle est tenue par des bénévoles.", "Encadré : 35 bénévoles",
        "1 Sauf en août.", "2 Chiffres de l’association.",  # numbered in the order of their calls
    ]
    assert _paragraphs(path)[-1][0] == "Notes"


def test_a_strict_open_xml_docx_is_read_as_word_shows_it(tmp_path):
    strict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
    path = _docx_parts(tmp_path / "strict.docx", {
        "word/document.xml": f'<w:document xmlns:w="{strict}"><w:body><w:p><w:r><w:t>Le relais parents ouvre le '
                             "samedi.</w:t></w:r></w:p></w:body></w:document>"})
    assert _paragraphs(path) == [("", "Le relais parents ouvre le samedi.")]


def test_a_docx_altchunk_imported_html_is_read_in_place(tmp_path):
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rIdHtml" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'aFChunk" Target="afchunk.htm"/></Relationships>')
    body = (_p("Compte rendu du conseil citoyen.")
            + '<w:altChunk xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
              'r:id="rIdHtml"/>' + _p("Prochaine séance en juin."))
    path = _docx_parts(tmp_path / "fusion.docx", {
        "word/document.xml": f'<w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>',
        "word/_rels/document.xml.rels": rels,
        "word/afchunk.htm": "<html><body><p>Le conseil a réuni 34 habitants en mars.</p></body></html>"})
    assert [text for _, text in _paragraphs(path)] == [
        "Compte rendu du conseil citoyen.", "Le conseil a réuni 34 habitants en mars.", "Prochaine séance en juin."]


def test_a_pdf_table_over_two_pages_is_one_labelled_row_a_paragraph_header_not_repeated(tmp_path):
    """Held out from the case of issue 22: another table, four columns, its heading row drawn again on page 2."""
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    pdf.set_font("DejaVu", size=10)
    header = ("Commune", "Dispositif", "Bénéficiaires", "Budget")
    rows = [(f"Commune{n:02d}", f"Atelier {n}", str(10 + n), f"{1000 + 10 * n}") for n in range(1, 61)]
    pdf.add_page()
    pdf.cell(0, 8, "Bilan des dispositifs de proximité en 2023", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, "Le tableau suivant donne, par commune, le dispositif et ses bénéficiaires.", new_x="LMARGIN",
             new_y="NEXT")
    for number, row in enumerate([header, *rows[:30], None, header, *rows[30:]]):
        if row is None:
            pdf.add_page()
            continue
        for width, cell in zip((45, 60, 40, 30), row, strict=True):
            pdf.cell(width, 7, cell)
        pdf.ln(7)
        del number
    path = tmp_path / "bilan.pdf"
    pdf.output(str(path))
    texts = [text for _, text in _paragraphs(path)]
    assert "Commune : Commune01 ; Dispositif : Atelier 1 ; Bénéficiaires : 11 ; Budget : 1010" in texts
    assert "Commune : Commune60 ; Dispositif : Atelier 60 ; Bénéficiaires : 70 ; Budget : 1600" in texts
    assert sum(text.startswith("Commune : Commune") for text in texts) == 60  # no row cut, none glued
    assert not any("Commune Dispositif" in text or text.startswith("Commune : Commune ;") for text in texts)


def test_the_values_of_a_filled_pdf_form_are_read_with_their_labels(tmp_path):
    """A subsidy application filled in but not flattened: its values are in the form's fields, not in the text."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

    blank = _pdf_pages(tmp_path / "vierge.pdf", [["Demande de subvention — association Quartiers solidaires",
                                                  "Montant demandé :", "Public visé :"]])
    writer = PdfWriter(clone_from=str(blank))
    fields = []
    for name, label, value in (("montant", "Montant demandé", "12 500 €"), ("public", "Public visé",
                                                                            "familles du quartier des Coteaux"),
                               ("vide", "Observations", "")):
        field = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(name),
            NameObject("/TU"): TextStringObject(label), NameObject("/V"): TextStringObject(value),
            NameObject("/Rect"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(10), NumberObject(10)])})
        fields.append(writer._add_object(field))
    writer.pages[0][NameObject("/Annots")] = ArrayObject(fields)
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject(fields)})
    path = tmp_path / "demande.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    paragraphs = _paragraphs(path)
    assert ("Formulaire", "Montant demandé : 12 500 €") in paragraphs
    assert ("Formulaire", "Public visé : familles du quartier des Coteaux") in paragraphs
    assert not any("Observations" in text for _, text in paragraphs)


def test_what_only_looks_like_chrome_or_a_note_call_is_content(tmp_path):
    """Issue 22, from an attack: class names that contain « cookie » or « consent », an aside inside an article, a
    header paragraph, exponents, prose in <pre>, a page that opens with a comment and a long <head>."""
    path = tmp_path / "page.html"
    path.write_text(
        "<!-- Page générée par le CMS de la ville -->\n<!DOCTYPE html><html><head><title>Ateliers</title><style>"
        + "p { margin: 0 } " * 300 + "</style></head><body>"
        "<div class='atelier-cookies'>L’atelier cookies réunit 12 parents le mercredi.</div>"
        "<section id='consentement-eclaire'><p>Le consentement éclairé est recueilli à l’inscription.</p></section>"
        "<div><header><p>Le Comptoir fête ses deux ans : 350 bénévoles.</p></header></div>"
        "<article><p>Le jardin partagé couvre 150 m<sup>2</sup>.</p><aside>Il a ouvert en 2019.</aside></article>"
        "<pre>Le centre social a ouvert en 2016, rue des Lilas, après deux ans de travaux.  Les ateliers ont lieu "
        "le mardi et le jeudi, dans la grande salle du rez-de-chaussée.\nLes familles y viennent nombreuses.</pre>"
        "<div id='cookie-banner'>Ce site utilise des cookies.</div></body></html>", encoding="utf-8")
    texts = " ".join(text for _, text in _paragraphs(path))
    for kept in ("12 parents", "consentement éclairé", "350 bénévoles", "150 m2", "ouvert en 2019",
                 "rue des Lilas, après deux ans de travaux."):
        assert kept in texts, kept
    assert "utilise des cookies" not in texts and "margin" not in texts and " : Les ateliers" not in texts


def test_a_stray_byte_keeps_a_utf8_file_utf8_and_a_codec_that_is_no_charset_is_ignored(tmp_path):
    text = "La cohésion sociale et les bénévoles du quartier. " * 200
    path = _write(tmp_path / "notes.txt", text.encode("utf-8") + " Café".encode("latin-1"))
    body = " ".join(p.text for p in load_document(path, path.name, MB).paragraphs)
    assert "cohésion sociale et les bénévoles" in body and "Ã" not in body
    page = _write(tmp_path / "page.html", '<html><head><meta charset="base64"></head><body><p>Le café des aidants '
                  "réunit 22 aidants.</p></body></html>".encode("cp1252"))
    assert "Le café des aidants réunit 22 aidants." in [p.text for p in load_document(page, page.name, MB).paragraphs]


def test_a_docx_box_in_a_table_cell_is_read_once_and_a_nested_table_keeps_its_own_header(tmp_path):
    box = "<w:txbxContent><w:p><w:r><w:t>Boîte 88 jeunes.</w:t></w:r></w:p></w:txbxContent>"
    cell_box = (f'<w:tc><w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>{box}</w:drawing>'
                f"</mc:Choice><mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r>"
                "<w:r><w:t>Point jeunes</w:t></w:r></w:p></w:tc>")
    inner = ("<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Année</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Bénévoles</w:t>"
             "</w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>2017</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r>"
             "<w:t>350</w:t></w:r></w:p></w:tc></w:tr></w:tbl>")
    table = ("<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Lieu</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Détail</w:t></w:r>"
             f"</w:p></w:tc></w:tr><w:tr>{cell_box}<w:tc>{inner}<w:p/></w:tc></w:tr></w:tbl>")
    path = _docx_parts(tmp_path / "tableau.docx", {
        "word/document.xml": f'<w:document xmlns:w="{_W_NS}" xmlns:mc="{_MC_NS}"><w:body>{table}</w:body>'
                             "</w:document>"})
    [row] = [text for _, text in _paragraphs(path)]
    assert row.count("Boîte 88 jeunes.") == 1 and "Point jeunes" in row
    assert "Année : 2017 ; Bénévoles : 350" in row and "Lieu : 2017" not in row


# issue 22, second round: PDF shapes outside the line model (held-out kinds of cases-new)

_BODY = ("Le conseil citoyen de Creil s’est réuni douze fois en 2016 pour préparer le contrat de ville avec les "
         "habitants des quartiers prioritaires. Il a proposé trois actions nouvelles pour la jeunesse.")


def test_a_drop_cap_joins_its_word(tmp_path):
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    pdf.add_page()
    pdf.set_font("DejaVu", size=40)
    pdf.set_xy(10, 20)
    pdf.cell(14, 16, "L")
    pdf.set_font("DejaVu", size=11)
    pdf.set_xy(25, 20)
    pdf.multi_cell(170, 6, _BODY[1:])
    pdf.output(str(tmp_path / "lettrine.pdf"))
    assert _texts(tmp_path / "lettrine.pdf") == [_BODY]


def test_a_title_without_final_period_does_not_run_into_the_text(tmp_path):
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    pdf.add_page()
    for size, text in ((18, "Le conseil citoyen de Creil"), (11, _BODY), (14, "Les actions pour la jeunesse"),
                       (11, "Trois actions ont été retenues : un chantier d’été, un forum des métiers et une bourse "
                            "aux projets.")):
        pdf.set_font("DejaVu", size=size)
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "titre.pdf"))
    document = load_document(tmp_path / "titre.pdf", "titre.pdf", MB)
    assert document.title == "Le conseil citoyen de Creil"
    assert [(p.section, p.text[:30]) for p in document.paragraphs] == [
        ("Le conseil citoyen de Creil", _BODY[:30]), ("Les actions pour la jeunesse", "Trois actions ont été retenues")]


def test_a_running_header_that_changes_with_each_chapter_is_not_text(tmp_path):
    chapter = {"name": ""}

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", size=9)
            self.cell(0, 6, chapter["name"], new_x="LMARGIN", new_y="NEXT")

    pdf = Report()
    pdf.add_font("DejaVu", "", DEJAVU)
    for number, name in enumerate(["Le diagnostic partagé", "Les actions engagées", "L’évaluation"], 1):
        chapter["name"] = f"Chapitre {number} — {name}"
        pdf.add_page()
        pdf.set_font("DejaVu", size=11)
        for n in range(60):
            pdf.multi_cell(0, 6, f"Au chapitre {number}, les partenaires de la ville ont travaillé ensemble sur la "
                                 f"question {n} et en ont rendu compte au comité de pilotage local.",
                           new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "chapitres.pdf"))
    document = load_document(tmp_path / "chapitres.pdf", "chapitres.pdf", MB)
    assert document.page_count == 9  # three pages a chapter: the header stands on three pages in a row
    assert not [p.text for p in document.paragraphs if "Chapitre" in p.text]
    assert sum(p.text.count("comité de pilotage") for p in document.paragraphs) == 180  # no line lost either


def test_a_line_of_content_at_the_top_of_two_pages_in_a_row_is_kept(tmp_path):
    """A label or a table's last row may stand first on two pages in a row: content, not a running header."""
    path = _pdf_pages(tmp_path / "deux.pdf", [
        ["Le Comptoir citoyen a ouvert en octobre 2018 à Angers."],
        ["Fréquentation : 250 personnes par mois", "Il accueille des bénévoles venus des associations."],
        ["Fréquentation : 250 personnes par mois", "Il rapproche les usagers du CCAS et les associations."],
        ["La réciprocité est devenue l’engagement solidaire."], ["Le comité d’usagers date de 2000."],
        ["La Rentrée des solidarités a réuni 700 personnes."]])
    assert sum("Fréquentation : 250 personnes par mois" in text for text in _texts(path)) == 2


def test_a_lettered_list_is_no_drop_cap():
    from ingest.load import page_lines

    assert page_lines("Deux publics :\nA\nles habitants du quartier\nB\nles associations") == [
        "Deux publics :", "A", "les habitants du quartier", "B", "les associations"]


def test_markdown_nested_past_the_parser_s_limit_is_still_read(tmp_path):
    """Issue 23: markdown-it drops what lies past its nesting limit; such a file was « aucun texte à indexer »."""
    deep = ">" * 3000 + " Le comité Zéphyrin se réunit le mardi.\n\n" + "".join(
        "  " * level + f"- niveau {level}\n" for level in range(400)) + "\nLa suite du texte.\n"
    path = tmp_path / "profond.md"
    path.write_text("# Note\n\n" + deep, encoding="utf-8")
    text = " ".join(_texts(path))
    assert "Le comité Zéphyrin se réunit le mardi." in text and "niveau 399" in text and "La suite du texte." in text
    shallow = tmp_path / "normal.md"
    shallow.write_text("# Note\n\n> Une citation.\n\n- un\n  - deux\n\nFin.\n", encoding="utf-8")
    assert _texts(shallow) == ["Une citation.", "un", "deux", "Fin."]
