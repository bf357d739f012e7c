"""Typos and missing accents in a query, corrected against the index's own words and the sites' names.

A word is corrected only when the corpus does not know it (neither the word nor its stem) and a known word is close
to it (rapidfuzz's normalised Indel similarity on folded words: accents and case aside). Sites' names are tried
first, so « Stasbourg » becomes « Strasbourg ». Words the corpus knows are never touched, and the bar is high so
that a word the corpus lacks (« salaire ») is not turned into another it has (« solaire »): that would make a
question the corpus cannot answer look answerable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from index.lexical import STOP_WORDS, analyze, fold
from index.types import Site

MIN_LENGTH = 4  # shorter words are too ambiguous to correct (« cmt », « koi » are chat spellings, not typos)
SITE_SCORE = 80.0  # rapidfuzz ratio (0-100) a word needs to be taken for a site's name
WORD_SCORE = 88.0  # and for a word of the corpus
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True)
class Correction:
    typed: str
    corrected: str


def site_words(sites: tuple[Site, ...]) -> dict[str, str]:
    """Each folded word of a site's names (« strasbourg », « angevins », « clichy-sous-bois ») → how it is written."""
    words: dict[str, str] = {}
    for site in sites:
        for name in site.names:
            for word in _WORD.findall(name):
                if len(word) >= MIN_LENGTH and fold(word) not in STOP_WORDS:
                    words.setdefault(fold(word), word)
    return words


def correct_query(text: str, terms: Mapping[str, int], words: Mapping[str, str],
                  sites: tuple[Site, ...]) -> tuple[str, tuple[Correction, ...]]:
    """The query with its unknown words replaced by the closest known ones, and the corrections made.

    `terms`: the index's analysed terms (IndexSnapshot.vocabulary); `words`: its words, folded → as written
    (IndexSnapshot.words).

    >>> correct_query("sujet de Stasbourg", {"strasbourg": 9}, {"strasbourg": "Strasbourg"}, (Site("Strasbourg"),))
    ('sujet de Strasbourg', (Correction(typed='Stasbourg', corrected='Strasbourg'),))
    """
    known_sites = site_words(sites)
    site_choices = list(known_sites)
    corrections: list[Correction] = []

    def replace(match: re.Match[str]) -> str:
        word = match.group()
        folded = fold(word)
        if len(word) < MIN_LENGTH or folded in STOP_WORDS or folded in known_sites or folded in words:
            return word
        analysed = analyze(word)
        if not analysed or all(term in terms for term in analysed):
            return word
        site = process.extractOne(folded, site_choices, scorer=fuzz.ratio, score_cutoff=SITE_SCORE)
        if site is not None:
            corrected = known_sites[site[0]]
        else:
            # over the keys as they are (no per-question copy of the vocabulary): a word shorter than MIN_LENGTH
            # cannot reach WORD_SCORE against one of MIN_LENGTH letters or more anyway
            close = process.extractOne(folded, words.keys(), scorer=fuzz.ratio, score_cutoff=WORD_SCORE)
            if close is None or close[0][:1] != folded[:1]:
                return word
            corrected = words[close[0]]
        corrections.append(Correction(word, corrected))
        return corrected

    return _WORD.sub(replace, text), tuple(dict.fromkeys(corrections))  # a typo typed twice is said once
