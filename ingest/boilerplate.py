"""Disclaimers and notices: sentences that speak of the document itself and come back in several documents
(« Corpus d’exemple : document reconstitué… », « Ce document n’engage que ses auteurs. »). They stay searchable but are
never quoted as an answer.

Recognised by what they say and by repetition, wherever they stand in a document (not by standing before its first
heading), so adding a document can flag a sentence in the others. A fact repeated in every case study (« L’Odas a
conduit la recherche-action de 2015 à 2017. ») is not a notice: it says nothing of the document."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from index.lexical import sentence_key

# what a notice speaks of: the document, its making, its use
# (« accès aux droits », « diffusion des pratiques », « publication des résultats » are the field's own words: a
# notice names *this* document, or says what only a notice says)
_ABOUT_THE_DOCUMENT = re.compile(
    r"\b(?:ce|cet|cette|le présent|la présente|du présent|de la présente)\s+(?:document|rapport|corpus|"
    r"publication|note|fiche|étude|texte|dossier|synthèse)\b|\bcorpus d.exemple\b|\bdocument reconstitu\w*"
    r"|\bn[’']engage\w*|\btous droits\b|\breproduction\b[^.]{0,40}\b(?:interdite|autorisée)\b|\bpour citer\b"
    r"|\bversion (?:provisoire|de travail)\b|\bmentions légales\b|\bcopyright\b|©",
    re.IGNORECASE,
)
MIN_DOCUMENTS = 3  # repeated in this many documents at least: two documents may well share a sentence of fact
MIN_WORDS = 5


def repeated_notices(documents: Iterable[Sequence[str]], least: int = MIN_DOCUMENTS) -> frozenset[str]:
    """The keys of the sentences that come back in at least `least` documents and speak of the document itself.

    >>> notice = "Corpus d’exemple : document reconstitué à partir de sources publiques."
    >>> fact = "L’Odas a conduit la recherche-action de 2015 à 2017."
    >>> sorted(repeated_notices([[notice, fact], [notice, fact], [notice.upper(), fact, "Autre."]]))
    ['corpus d’exemple : document reconstitué à partir de sources publiques.']
    >>> repeated_notices([[notice], [notice]])
    frozenset()
    >>> repeated_notices([["Depuis 2016, le CCAS a fait de l’accès aux droits sa priorité."]] * 3)
    frozenset()
    """
    seen: Counter[str] = Counter()
    for sentences in documents:
        seen.update({sentence_key(sentence) for sentence in sentences if len(sentence.split()) >= MIN_WORDS})
    return frozenset(key for key, count in seen.items() if count >= least and _ABOUT_THE_DOCUMENT.search(key))
