"""Question as typed → question as understood: chat spellings, typos, inhabitants, English, follow-ups."""

from __future__ import annotations

import unicodedata

from bot.understand import Turn, expand_chat_words, is_english, normalize_question, stands_alone, understand
from index.lexical import analyze, fold
from index.types import Site

SITES = (Site("Angers", ("Angevins", "Angevines")), Site("Creil", ("Creillois",)),
         Site("Le Havre", ("Havrais",)), Site("Valenciennes Métropole", ("Valenciennes", "Valenciennois")))
WORDS = ("Angers Creil Havre réciprocité engagement solidaire sujet accompagnement petite enfance Comptoir citoyen "
         "bénéficiaires concertation quartier habitants observation partagée rapport publié")
VOCABULARY = {term: 2 for term in analyze(WORDS)}
WRITTEN = {fold(word): word for word in WORDS.split()}


def read(text: str, previous: Turn | None = None):
    return understand(text, SITES, previous, VOCABULARY, WRITTEN)


def test_unicode_variants_are_normalised_first():
    decomposed = unicodedata.normalize("NFD", "Réciprocité à Créil")
    assert normalize_question(f"\u200b{decomposed}\ufeff  ?") == "Réciprocité à Créil ?"
    understood = read(decomposed)
    assert understood.query == "Réciprocité à Créil" and understood.site == "Creil"  # NFC: the accents meet


def test_chat_spellings_are_written_out():
    assert expand_chat_words("cmt ca sest passe a strasbourg") == "comment ca s’est passe a strasbourg"
    assert read("c koi le comptoir citoyen").query == "c’est quoi le comptoir citoyen"


def test_inhabitants_act_as_their_site():
    understood = read("Que font les Angevins pour l’engagement solidaire ?")
    assert understood.site == "Angers" and "Angers" in understood.query
    assert read("Les Valenciennois et la jeunesse").site == "Valenciennes Métropole"


def test_typos_in_site_names_are_corrected_and_reported():
    understood = read("sujet de Crel")
    assert understood.site == "Creil" and understood.query == "sujet de Creil"
    assert [(c.typed, c.corrected) for c in understood.corrections] == [("Crel", "Creil")]


def test_english_is_recognised_and_not_corrected_into_french():
    understood = read("What did Le Havre do during the study?")
    assert understood.english and understood.site == "Le Havre" and not understood.corrections
    assert not is_english("Quel est le sujet de Creil ?") and not is_english("Que fait le CCAS d’Angers ?")


def test_a_follow_up_is_read_with_the_previous_subject():
    first = read("Quel était le sujet d’accompagnement d’Angers ?")
    assert first.turn == Turn("Angers", "sujet accompagnement") and not first.context
    second = read("et à Creil ?", first.turn)
    assert second.site == "Creil" and second.context == "Creil, sujet accompagnement"
    assert set(analyze(second.query)) >= {"creil", "sujet", "accompagn"} and "anger" not in analyze(second.query)
    third = read("combien de bénéficiaires ?", read("Que fait le Comptoir citoyen ?").turn)
    assert third.context == "Comptoir citoyen"
    assert set(analyze("Comptoir citoyen bénéficiaires")) <= set(analyze(third.query))


def test_a_question_that_stands_alone_ignores_the_previous_turn():
    previous = Turn("Angers", "Comptoir citoyen")
    for question in ("Comment la Pactotec diffuse-t-elle la culture de l’observation ?",
                     "Quel était le sujet d’accompagnement du Havre ?"):
        assert stands_alone(question, SITES)
        understood = read(question, previous)
        assert not understood.context and "comptoir" not in analyze(understood.query)
    for question in ("et à Creil ?", "qui y participe ?", "quand a-t-il été publié ?", "combien de bénéficiaires ?"):
        assert not stands_alone(question, SITES)


def test_a_message_with_nothing_to_continue_is_read_alone():
    previous = Turn("Creil", "sujet accompagnement")
    for message in ("merci", "ok", "?", "et ?", "bonjour", "😀"):
        understood = read(message, previous)
        assert not understood.context and "accompagn" not in analyze(understood.query), message


def test_two_sites_named_in_a_follow_up_do_not_bring_back_the_previous_one():
    understood = read("et à Angers et Creil ?", Turn("Le Havre", "sujet"))
    assert "Le Havre" not in understood.context and "havr" not in analyze(understood.query)


def test_direction_marks_and_joiners_inside_a_name_are_dropped():
    for mark in ("\u200e", "\u200f", "\u2066", "\u034f", "\u202e"):
        assert read(f"sujet de Cre{mark}il").site == "Creil"


def test_a_typo_typed_twice_is_reported_once():
    understood = read("sujet de Crel et de Crel")
    assert [(c.typed, c.corrected) for c in understood.corrections] == [("Crel", "Creil")]
