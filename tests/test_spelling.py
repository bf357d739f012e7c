"""Typo correction against the index's vocabulary and the sites' names (rapidfuzz), on generated data."""

from __future__ import annotations

from index.lexical import analyze, fold
from index.spelling import correct_query
from index.types import Site

SITES = (Site("Strasbourg", ("Strasbourgeois",)), Site("Villeurbanne", ("Villeurbannais",)),
         Site("Garges-lès-Gonesse", ("Gargeois",)))
WORDS = "Strasbourg concertation habitants médiathèque jeunesse solidarité Villeurbanne réciprocité"
VOCABULARY = {term: 3 for term in analyze(WORDS)}
WRITTEN = {fold(word): word for word in WORDS.split()}


def test_site_names_are_corrected_and_the_correction_is_reported():
    text, corrections = correct_query("sujet de Stasbourg et de Vileurbane", VOCABULARY, WRITTEN, SITES)
    assert text == "sujet de Strasbourg et de Villeurbanne"
    assert [(c.typed, c.corrected) for c in corrections] == [("Stasbourg", "Strasbourg"),
                                                             ("Vileurbane", "Villeurbanne")]


def test_corpus_words_are_corrected_in_the_corpus_spelling():
    text, corrections = correct_query("la concertaion des habitans", VOCABULARY, WRITTEN, SITES)
    assert text == "la concertation des habitants"
    assert len(corrections) == 2


def test_known_words_missing_accents_and_far_words_are_left_alone():
    for question in ("la reciprocite a Strasbourg", "le salaire des agents", "la médiathèque"):
        text, corrections = correct_query(question, VOCABULARY, WRITTEN, SITES)
        assert text == question and corrections == ()
