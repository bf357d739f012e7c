from index.types import LoadedDocument, Paragraph
from ingest.chunk import chunk_document, document_text, split_sentences


def _document(paragraphs: list[Paragraph]) -> LoadedDocument:
    return LoadedDocument("d.pdf", "Titre", "0" * 64, "pdf", tuple(paragraphs), 3)


def test_passages_fit_the_model_measured_with_its_tokenizer(embedder):
    sentence = ("L’Odas a accompagné les collectivités volontaires dans la mise en cohérence de leurs politiques "
                "locales de cohésion sociale, avec le soutien du CGET. ")
    paragraphs = [Paragraph(sentence * 12, "1. Contexte", 1), Paragraph(sentence * 3, "1. Contexte", 2)]
    chunks = chunk_document(_document(paragraphs), embedder.count_tokens, 120)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert embedder.count_tokens([chunk.embed_text])[0] <= 120 + 4  # + a few pieces at sentence joins
    assert chunks[-1].page_end == 2


def test_offsets_point_at_the_passage_text_and_nothing_is_lost(embedder):
    paragraphs = [Paragraph(f"Phrase numéro {n} sur l’« engagement solidaire ». " * 5, "S", n) for n in range(1, 6)]
    document = _document(paragraphs)
    text, _ = document_text(document)
    chunks = chunk_document(document, embedder.count_tokens, 60)
    for chunk in chunks:
        assert text[chunk.char_start:chunk.char_end] == chunk.text
    covered = " ".join(chunk.text for chunk in chunks)
    for paragraph in paragraphs:
        for start, end in split_sentences(paragraph.text):
            assert paragraph.text[start:end] in covered


def test_a_passage_never_spans_two_sections(embedder):
    paragraphs = [Paragraph("Court.", "A", 1), Paragraph("Aussi court.", "B", 1)]
    chunks = chunk_document(_document(paragraphs), embedder.count_tokens, 200)
    assert [(chunk.section, chunk.text) for chunk in chunks] == [("A", "Court."), ("B", "Aussi court.")]


def test_small_paragraphs_of_a_section_are_kept_together(embedder):
    paragraphs = [Paragraph("Premier.", "A", 1), Paragraph("Second.", "A", 2)]
    (chunk,) = chunk_document(_document(paragraphs), embedder.count_tokens, 200)
    assert chunk.text == "Premier.\n\nSecond." and (chunk.page_start, chunk.page_end) == (1, 2)


def test_a_huge_sentence_is_cut_into_word_windows(embedder):
    paragraphs = [Paragraph("mot " * 500, "", None)]
    chunks = chunk_document(_document(paragraphs), embedder.count_tokens, 100)
    assert len(chunks) >= 5
    assert all(embedder.count_tokens([chunk.text])[0] <= 100 for chunk in chunks)


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_french_abbreviations_do_not_end_a_sentence():
    text = ("Comme l’indique le rapport p. 12, le Comptoir a mobilisé 350 bénévoles. Selon l’art. 4 de la convention, "
            "le CCAS finance la coordination. Les ateliers accueillent env. 60 personnes, cf. Annexe 2. "
            "M. Dupont et Mme Roux, n° 12 de la revue, pp. 4-5, chap. 3, etc. Fin du texte.")
    assert _sentences(text) == [
        "Comme l’indique le rapport p. 12, le Comptoir a mobilisé 350 bénévoles.",
        "Selon l’art. 4 de la convention, le CCAS finance la coordination.",
        "Les ateliers accueillent env. 60 personnes, cf. Annexe 2.",
        "M. Dupont et Mme Roux, n° 12 de la revue, pp. 4-5, chap. 3, etc. Fin du texte.",
    ]


def test_every_listed_abbreviation_keeps_the_sentence_whole():
    from ingest.chunk import ABBREVIATIONS

    for abbreviation in ABBREVIATIONS:
        text = f"Voir le {abbreviation}. 12 du rapport."
        assert _sentences(text) == [text], abbreviation


def test_real_sentence_ends_still_cut():
    assert _sentences("Il a ouvert en 2018. Le comité se réunit. 45 personnes sont venues. Ensuite ?") == [
        "Il a ouvert en 2018.", "Le comité se réunit.", "45 personnes sont venues.", "Ensuite ?"]


def test_numbered_list_markers_do_not_end_a_sentence():
    text = "Trois objectifs : 1. Favoriser la participation ; 2. Renforcer les liens. Le comité suit."
    assert _sentences(text) == ["Trois objectifs : 1. Favoriser la participation ; 2. Renforcer les liens.",
                                "Le comité suit."]


def _rough_tokens(texts):
    return [len(text) // 3 + 1 for text in texts]


def test_a_huge_word_without_spaces_is_cut_into_bounded_passages():
    word = "x" * 5_000_000
    chunks = chunk_document(_document([Paragraph(word, "", None), Paragraph("Fin.", "", None)]), _rough_tokens, 200)
    assert max(len(chunk.text) for chunk in chunks) <= 200 * 3  # 5 MB in one passage was the fault
    assert len(chunks) >= len(word) // (200 * 3)  # nothing dropped
    assert chunks[0].text == word[:len(chunks[0].text)]
    assert chunks[-1].text.endswith("Fin.")


def test_a_huge_paragraph_is_not_measured_whole():
    measured: list[int] = []

    def counter(texts):
        measured.extend(len(text) for text in texts)
        return _rough_tokens(texts)

    chunk_document(_document([Paragraph("Une phrase courte. " * 50_000, "", None)]), counter, 200)
    assert max(measured) <= 20_000
