"""French lexical analysis for BM25: accents folded, elisions split, stop words dropped, Snowball stems.

The terms are ranked by bm25s's precomputed BM25 matrix (see store.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

import Stemmer

from index.normalize import normalize_text

# Snowball's French stop word list, plus the elided and clitic forms; compared after accent folding.
_STOP_WORDS = """
au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me meme mes moi mon ne
nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous c d
j l a m n s t y ete etee etees etes etant etante etants etantes suis es est sommes etes sont serai seras sera
serons serez seront serais serait serions seriez seraient etais etait etions etiez etaient fus fut fumes futes
furent sois soit soyons soyez soient fusse fusses fut fussions fussiez fussent ayant ayante ayantes ayants eu
eue eues eus ai as avons avez ont aurai auras aura aurons aurez auront aurais aurait aurions auriez auraient
avais avait avions aviez avaient eut eumes eutes eurent aie aies ait ayons ayez aient eusse eusses eussions
eussiez eussent ceci cela celà cet cette ici ils les leurs quel quels quelle quelles sans soi quoi dont
lorsque puisque jusque quand comment combien pourquoi ou font fait faire faites fais
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

# l'Odas, d’Angers, qu'a, jusqu'en, lorsqu’il: the elided article or pronoun is dropped before tokenising.
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu|quelqu)['’ʼ]", re.IGNORECASE)
# 190 000, 190 000 (narrow no-break space) and 190000 are the same number.
_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)")
_FEMININE_PARTICIPLE = re.compile(r"ee(s?)$")
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")

_stemmer = Stemmer.Stemmer("french")
T = TypeVar("T")


def fold(text: str) -> str:
    """Lower case without accents or ligatures.

    >>> fold("Garges-lès-Gonesse, Cœur")
    'garges-les-gonesse, coeur'
    """
    text = normalize_text(text).lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _cached_when_short(maxsize: int, longest: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """An LRU cache of `maxsize` entries for texts of at most `longest` characters; longer ones are computed each
    time, so that the cache's size in bytes stays bounded whatever users type."""
    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(text: str) -> T:
            return cached(text) if len(text) <= longest else function(text)

        return call

    return decorate


# Every word users type passes here: 50,000 words of at most 40 characters, ~15 MB at most (500-character words of
# 4-byte characters kept 236 MB when the length was not bounded); the corpus's words stay hot.
@_cached_when_short(maxsize=50_000, longest=40)
def _terms(word: str) -> tuple[str, ...]:
    """The term of one lower-case word (none for a stop word): folded, then stemmed by Snowball."""
    folded = fold(word)
    if folded in STOP_WORDS:
        return ()
    if folded.isdigit():
        return (folded,)
    # Snowball reads a folded feminine participle (« marquée » -> « marquee ») as another word than the masculine
    # (« marqué » -> « marque »): drop the extra e so that both meet.
    folded = _FEMININE_PARTICIPLE.sub(r"e\1", folded)
    return (str(_stemmer.stemWord(folded)),)  # the folded word: « réciprocité » and « reciprocite » must meet


def analyze(text: str) -> list[str]:
    """Cut French text into the terms BM25 compares, in order.

    A hyphenated name gives its parts and the joined form, so « Clichy-sous-Bois » matches « clichy sous bois »
    and « clichysousbois ».

    >>> analyze("L’engagement solidaire d'Angers à Clichy-sous-Bois : 190 000 habitants")
    ['engag', 'solidair', 'anger', 'clichy', 'sous', 'bois', 'clichysousbois', '190000', 'habit']
    """
    return list(_analyzed(text))


# The sentences of the passages a question brings back are analysed again at every question that meets them: keeping
# the last 2,048 short texts (sentences, questions: ~2 MB; 25 MB if every one were 400 four-byte characters cut in
# 200 words) makes that a lookup. It was 80 % of a question's time outside the model (19.6 ms -> 3.9 ms). Whole
# passages, analysed once at ingestion, are not kept.
@_cached_when_short(maxsize=2_048, longest=400)
def _analyzed(text: str) -> tuple[str, ...]:
    # Normalised first: a decomposed accent or a zero-width space would otherwise cut a word in two.
    text = _THOUSANDS.sub("", _ELISION.sub(" ", normalize_text(text).lower()))
    terms: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if "-" in word:
            parts = [term for part in word.split("-") for term in _terms(part)]
            terms.extend(parts)
            if len(parts) > 1:  # a compound name, not « est-ce » or « peut-être »
                terms.append(fold(word.replace("-", "")))
        else:
            terms.extend(_terms(word))
    return tuple(terms)


def sentence_key(sentence: str) -> str:
    """What two copies of a sentence have in common: its words, case and spacing aside (ingest.boilerplate).

    >>> sentence_key("  Corpus d’EXEMPLE :\\n document ")
    'corpus d’exemple : document'
    """
    return " ".join(sentence.split()).casefold()
