"""bot/answer.py: quoted sentences, shared markers, disagreements shown, honest misses."""

from bot.answer import compose, select_sentences
from index.types import Hit, Passage, SearchResult


def _passage(text, source="a.pdf", section="1. Contexte", page=1, site=""):
    return Passage(0, source, f"Titre {source}", section, page, page, text, site)


def _result(passages, found=True, query="Quand la Pactotec a-t-elle été créée ?"):
    return SearchResult(query, tuple(Hit(p, 1.0 - n / 10) for n, p in enumerate(passages)), found)


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
    answer = compose(_result([first, second]))
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
