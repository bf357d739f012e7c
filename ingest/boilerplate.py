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
_ABOUT_THE_DOCUMENT = re.compile(
    r"\b(?:documents?|corpus|publications?|reconstitu\w*|rapports? provisoires?|version provisoire|droits|copyright"
    r"|reproduction|diffusion|confidentiel\w*|citer|mentions légales|avertissement|n[’']engage\w*|mise en page"
    r"|maquette|imprim\w*|édité\w*)\b|©",
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
    """
    seen: Counter[str] = Counter()
    for sentences in documents:
        seen.update({sentence_key(sentence) for sentence in sentences if len(sentence.split()) >= MIN_WORDS})
    return frozenset(key for key, count in seen.items() if count >= least and _ABOUT_THE_DOCUMENT.search(key))
