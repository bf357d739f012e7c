"""Words that reports on local social policy use for the same thing, so that a question's word meets the document's.

A practitioner asks for « les recommandations » where the report writes « préconisations », « qui dirigeait » where a
document says « directeur ». The multilingual model bridges some of these, not all (e5-small does not bring
« préconisations » into the top 10 for « recommandations »). The groups below are the vocabulary of the field —
reports, case studies, institutions — not of one document; each word's group is added to the lexical query and
counts as the word when an answer checks that the question's topic is in its passages. Compared as analysed terms
(folded, stemmed).
"""

from __future__ import annotations

import functools

from index.lexical import analyze

GROUPS = (  # verbs with their participles: the stemmer does not always bring them together (« publié » ≠ « publier »)
    "recommandation préconisation proposition piste",
    "diriger dirigé dirigeait direction directeur directrice dirigeant présider présidé présidait président "
    "présidente",
    "créer créé créée création fonder fondé fondée fondation fondateur naissance",
    "créer créé créée création lancer lancé lancée lancement",  # a body is launched, a city is not
    "publier publié publiée publication parution paraître paru parue",
    "habitant résident riverain",
    "bénéficiaire usager",
    "objectif finalité but",
    "coopération collaboration partenariat",
    "réunion rencontre séance",
    "démarche méthode approche",
    "évaluation bilan",
    "difficulté obstacle frein",
    "effet impact conséquence",
    "agglomération intercommunalité",
    "élu maire",
)


@functools.cache
def _groups() -> dict[str, frozenset[str]]:
    groups: dict[str, frozenset[str]] = {}
    for line in GROUPS:
        terms = frozenset(term for word in line.split() for term in analyze(word))
        for term in terms:
            groups[term] = groups.get(term, frozenset()) | terms
    return groups


def synonyms(term: str) -> frozenset[str]:
    """The analysed terms that mean the same as `term` in this field, `term` excluded.

    >>> sorted(synonyms(analyze("recommandations")[0]))
    ['pist', 'preconis', 'proposit']
    """
    return _groups().get(term, frozenset()) - {term}


def expand(terms: list[str]) -> list[str]:
    """The terms followed by their synonyms not already there.

    >>> expand(["bilan", "ccas"])
    ['bilan', 'ccas', 'evalu']
    """
    extra = sorted({synonym for term in terms for synonym in synonyms(term)} - set(terms))
    return [*terms, *extra]
