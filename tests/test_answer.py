"""bot/answer.py: quoted sentences, shared markers, disagreements shown, honest misses."""

from dataclasses import replace

from bot.answer import compose, select_sentences
from index.types import Evidence, Hit, Passage, SearchResult

# what the retriever measures when its top passage holds the question's words and stands out on meaning
STRONG = Evidence(coverage=1.0, dense=0.6, cosine=0.9, standout=4.0, rare_held=1.0)


def _passage(text, source="a.pdf", section="1. Contexte", page=1, site=""):
    return Passage(0, source, f"Titre {source}", section, page, page, text, site)


def _result(passages, found=True, query="Quand la Pactotec a-t-elle été créée ?"):
    """A search result; `found`: with the evidence of a good match, else with none (the fitted decision reads it)."""
    return SearchResult(query, tuple(Hit(p, 1.0 - n / 10, 1, 1) for n, p in enumerate(passages)), found,
                        evidence=STRONG if found else Evidence())


def test_the_answer_quotes_the_sentences_that_answer_not_the_whole_passage():
    passage = _passage("Bordeaux compte de nombreux quartiers. La Pactotec a été créée en décembre 2015 par la "
                       "ville. Le climat y est doux.")
    answer = compose(_result([passage]))
    assert [q.text for q in answer.quotes] == ["La Pactotec a été créée en décembre 2015 par la ville."]
    assert answer.quotes[0].marker == 1 and answer.citations[0].passage == passage


def test_two_sources_that_disagree_on_a_date_both_appear_each_cited():
    apriles = _passage("Selon la fiche Apriles, la Pactotec a été créée en décembre 2015.", "cas-bordeaux.pdf")
    letter = _passage("La lettre de l’Odas indique que la Pactotec a été lancée en 2016.", "lettre.html",
                      "Bordeaux")
    answer = compose(_result([apriles, letter]))
    assert {q.marker for q in answer.quotes} == {1, 2}
    assert [c.passage.source for c in answer.citations] == ["cas-bordeaux.pdf", "lettre.html"]
    assert any("2015" in q.text for q in answer.quotes) and any("2016" in q.text for q in answer.quotes)


def test_passages_with_the_same_citation_share_one_marker():
    first = _passage("La Pactotec a été créée en décembre 2015.", page=2)
    second = _passage("La Pactotec, créée par la ville, réunit des experts de l’observation.", page=2)
    answer = compose(_result([first, second], query="La Pactotec créée par la ville"))
    assert {q.marker for q in answer.quotes} == {1}
    assert len(answer.citations) == 1 and "réunit des experts" in answer.citations[0].passage.text


def test_a_list_of_sources_is_not_quoted_as_an_answer():
    listing = _passage("Sources : fiche Pactotec ; lettre de l’Odas ; site de Bordeaux ; Gazette ; rapport.")
    real = _passage("La Pactotec a été créée par Bordeaux pour observer les quartiers.", "b.pdf")
    chosen = select_sentences("Pactotec Bordeaux", [listing, real])
    assert [s.text for s in chosen] == ["La Pactotec a été créée par Bordeaux pour observer les quartiers."]


def test_a_miss_quotes_nothing_and_names_the_closest_sites():
    near = _passage("Le Havre a ouvert des ateliers.", "cas-le-havre.pdf", site="Le Havre")
    answer = compose(_result([near], found=False, query="prix du métro à Lyon"))
    assert not answer.found and answer.quotes == () and answer.citations == ()
    assert answer.near_sites == ("Le Havre",)


def test_passages_matched_on_meaning_only_quote_the_top_passage_opening():
    passage = _passage("Les habitants participent aux décisions. Ils siègent au comité.")
    answer = compose(_result([passage], query="démocratie locale"))
    assert [q.text for q in answer.quotes] == ["Les habitants participent aux décisions.", "Ils siègent au comité."]


def test_another_date_without_the_subject_is_not_a_disagreement():
    apriles = _passage("Selon la fiche Apriles, la Pactotec a été créée en décembre 2015.", "cas-bordeaux.pdf")
    other = _passage("L’Odas a été créé en 1990 par des élus.", "odas.md")
    answer = compose(_result([apriles, other]))
    assert [c.passage.source for c in answer.citations] == ["cas-bordeaux.pdf"]


# what the question asks for, labels, lists, front matter, topics: on small generated inputs

from bot.answer import answer_kind, is_apparatus, missing_topics  # noqa: E402
from index.types import Site  # noqa: E402

SITES = (Site("Arles", ("Arlésiens",)), Site("Brest", ("Brestois",)), Site("Colmar"))


def test_a_figure_asked_for_is_quoted_over_a_sentence_that_only_repeats_the_words():
    passage = _passage("La maison des projets accueille les habitants du quartier chaque semaine. Le bilan compte "
                       "320 visiteurs à la maison des projets la première année.")
    answer = compose(_result([passage], query="Combien de visiteurs a reçus la maison des projets ?"))
    assert answer.quotes[0].text.startswith("Le bilan compte 320 visiteurs")


def test_a_date_asked_for_that_no_passage_gives_weighs_against_answering():
    # a veto once, a feature of the fitted decision now: the same passage, a date asked for or not
    passage = _passage("La maison des projets accueille les habitants du quartier chaque semaine.")
    dated = compose(_result([passage], query="Quand la maison des projets a-t-elle ouvert ?"))
    plain = compose(_result([passage], query="Comment la maison des projets a-t-elle ouvert ?"))
    assert dated.probability < plain.probability


def test_kinds_of_questions():
    assert answer_kind("Quelles villes travaillaient sur la prévention ?") == "sites"
    assert answer_kind("Which cities worked on prevention?") == "sites"
    assert answer_kind("Où se trouve la maison des projets ?") == "place"
    assert answer_kind("Quel est le nombre de partenaires ?") == "figure"
    assert answer_kind("Compare Arles et Brest") == "compare"


def test_a_list_of_sites_gets_one_line_per_site_each_labelled():
    passages = [_passage("La ville travaillait sur la politique jeunesse avec des ateliers.", "cas-arles.pdf",
                         site="Arles"),
                _passage("La ville travaillait aussi sur la politique jeunesse, par des forums.", "cas-brest.pdf",
                         site="Brest"),
                _passage("Colmar travaillait sur la politique jeunesse avec les clubs.", "cas-colmar.pdf",
                         site="Colmar")]
    answer = compose(_result(passages, query="Quels sites travaillaient sur la politique jeunesse ?"), SITES)
    assert [q.label for q in answer.quotes] == ["Arles", "Brest", ""]  # Colmar's sentence names its site
    assert len({q.marker for q in answer.quotes}) == 3


def test_a_comparison_quotes_each_site_named():
    passages = [_passage("Arles a travaillé sur l’accès aux droits.", "cas-arles.pdf", site="Arles"),
                _passage("Le sujet de Colmar était la médiation.", "cas-colmar.pdf", site="Colmar"),
                _passage("Brest a travaillé sur le logement.", "cas-brest.pdf", site="Brest")]
    answer = compose(_result(passages, query="Compare les sujets d’Arles et de Brest"), SITES)
    assert {c.passage.site for c in answer.citations} == {"Arles", "Brest"}


def test_front_matter_and_apparatus_are_never_quoted():
    banner = replace(_passage("Étude de cas d’Arles : document de travail sur la jeunesse à Arles.", section="",
                              site="Arles"), front_matter=True)
    sources = _passage("Sources : www.arles.fr, www.exemple.org ; rapport annuel.", site="Arles")
    real = _passage("Arles a ouvert un forum de la jeunesse en 2016.", site="Arles")
    answer = compose(_result([banner, sources, real], query="Que fait Arles pour la jeunesse ?"), SITES)
    assert [q.text for q in answer.quotes] == ["Arles a ouvert un forum de la jeunesse en 2016."]
    assert is_apparatus("Table des matières : 1. Contexte ....... 3") and not is_apparatus(real.text)


def test_a_topic_no_passage_mentions_makes_a_miss_that_names_it():
    passage = _passage("Le CCAS d’Arles a ouvert un forum de la jeunesse en 2016.", site="Arles")
    assert missing_topics("Quel est le budget du CCAS d’Arles ?", [passage], SITES) == ["budget"]
    assert missing_topics("Quand le forum de la jeunesse a-t-il ouvert ?", [passage], SITES) == []
    budget = compose(_result([passage], query="Quel est le budget du CCAS d’Arles ?"), SITES)
    forum = compose(_result([passage], query="Quel est le forum du CCAS d’Arles ?"), SITES)
    # a veto once, a feature of the fitted decision now; a refusal says which word no passage holds
    assert budget.probability < forum.probability
    weak = compose(replace(_result([passage], query="Quel est le budget du CCAS d’Arles ?"), evidence=Evidence(
        coverage=0.4, dense=0.1, cosine=0.78, standout=1.5, rare_held=0.0)), SITES)
    assert not weak.found and weak.missing == ("budget",)
    assert missing_topics("Que fait Marseille pour la jeunesse ?", [passage], SITES) == ["Marseille", "jeunesse"]


def test_the_items_of_an_enumeration_are_the_sentences_that_name_it_or_a_synonym():
    passages = [_passage("Le rapport final a été publié par l’Odas. Le rapport final compte dix chapitres.", page=9),
                _passage("Préconisation 1 : renforcer la coopération locale. Préconisation 2 : miser sur la "
                         "prévention.", "b.pdf", page=9)]
    answer = compose(_result(passages, query="Quelles sont les recommandations du rapport final ?"))
    quoted = [q.text for q in answer.quotes]
    assert {"Préconisation 1 : renforcer la coopération locale.",
            "Préconisation 2 : miser sur la prévention."} <= set(quoted)


def test_no_quote_comes_from_a_generated_pdfs_title_page_banner_sources_or_contents(tmp_path, embedder):
    """A report as real ones are made: title page with a banner and a source list, a table of contents, chapters."""
    from bot.assistant import Assistant
    from bot.settings import BotSettings
    from index.config import IndexSettings
    from ingest.build import ingest
    from tests.support.pdfwriter import write_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf("title: Rapport sur la médiation sociale à Lorient\nsubtitle: Sources : enquête de terrain ; "
              "www.exemple-lorient.fr ; rapport municipal 2019\n\n"
              "# 1. La médiation sociale\n\nLa médiation sociale à Lorient a été confiée en 2019 à une équipe de "
              "six médiateurs qui parcourent les quartiers chaque soir.\n\n"
              "# 2. Les résultats\n\nLes médiateurs de Lorient ont réglé plus de 400 conflits de voisinage.\n",
              corpus / "lorient.pdf",
              banner="Document de travail sur la médiation sociale à Lorient, reconstitué à partir de sources "
                     "publiques ; il ne remplace pas le rapport officiel.")
    index = IndexSettings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(index, embedder)
    assistant = Assistant.build(BotSettings(index=index, state_db=tmp_path / "bot.sqlite"), embedder)
    banner = assistant.search("reconstitué sources publiques rapport officiel", k=1).hits[0].passage
    assert "reconstitué" in banner.text and banner.front_matter  # searchable, marked
    for question in ("Qu’est-ce que la médiation sociale à Lorient ?", "Sources de la médiation sociale à Lorient",
                     "Combien de conflits les médiateurs de Lorient ont-ils réglés ?"):
        answer, _ = assistant.ask(question, record=False)
        assert answer.found, question
        for quote in answer.quotes:
            assert "reconstitué" not in quote.text and "www." not in quote.text and "Sources" not in quote.text
            assert "...." not in quote.text and "Rapport sur la médiation" not in quote.text
    assistant.state.close()
