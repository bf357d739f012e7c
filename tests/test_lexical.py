from index.lexical import analyze, fold


def test_elisions_with_both_apostrophes_give_the_same_terms():
    assert analyze("l’engagement d’Angers") == analyze("l'engagement d'Angers") == ["engag", "anger"]


def test_accents_and_case_are_folded():
    assert analyze("Réciprocité") == analyze("reciprocite")
    assert fold("Garges-lès-Gonesse") == "garges-les-gonesse"


def test_hyphenated_names_match_with_or_without_hyphens():
    with_hyphens = set(analyze("Clichy-sous-Bois"))
    assert set(analyze("Clichy sous Bois")) <= with_hyphens
    assert set(analyze("clichysousbois")) <= with_hyphens
    assert set(analyze("Garges les Gonesse")) & set(analyze("Garges-lès-Gonesse")) == {"garg", "goness"}


def test_stop_words_are_dropped_and_plurals_stemmed():
    assert analyze("les habitants et la ville") == analyze("habitant ville")


def test_numbers_with_thousands_separators_match():
    assert analyze("190 000 habitants")[0] == analyze("190000")[0] == analyze("190\u202f000")[0] == "190000"


def test_quotes_and_guillemets_do_not_break_analysis():
    assert analyze("« ateliers citoyens »") == analyze('"ateliers citoyens"')




def test_decomposed_accents_and_invisible_characters_give_the_same_terms():
    composed = analyze("La réciprocité et la cohésion")
    assert analyze("La re\u0301ciprocite\u0301 et la cohe\u0301sion") == composed
    assert analyze("La réci\u200bprocité et la co\u00adhé\ufeffsion") == composed
    assert fold("me\u0301diation\u200d") == "mediation"


def test_feminine_participles_meet_the_masculine_form():
    assert analyze("marquée marquées créée associées") == analyze("marqué marqués créé associés")
    assert analyze("L’année a été marquée")[-1] == analyze("Qu’est-ce qui a marqué")[-1]


def test_a_short_site_name_counts_only_as_a_name():
    from index.retriever import sites_named
    from index.types import Site

    sites = (Site("Moulins Communauté"), Site("Le Havre"))
    assert sites_named("Que fait Moulins pour les jeunes ?", sites) == ["Moulins Communauté"]
    assert sites_named("les moulins à vent", sites) == []
    assert sites_named("au Havre.", sites) == ["Le Havre"]
