"""Question as typed → question as understood: what retrieval receives.

A practitioner writes in a chat: « c koi le comptoir citoyen », « sujet de Stasbourg », « Que font les Angevins ? »,
« et à Creil ? » after a question on Angers, sometimes English. In order:
1. Unicode normalised (NFC, zero-width characters dropped, spaces collapsed);
2. chat abbreviations written out (`CHAT_WORDS`, a documented list: « cmt » → « comment »);
3. typos corrected against the index's vocabulary and the sites' names (`index.spelling`, rapidfuzz);
4. inhabitants' names (`sites.toml` aliases: « Angevins ») read as their site's name;
5. a question that does not stand alone read with the subject of the conversation's previous turn.
Everything here is pure: the conversation's previous turn comes in, the new turn goes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from index.lexical import STOP_WORDS, analyze, fold
from index.normalize import normalize_text
from index.retriever import site_terms, sites_named
from index.spelling import Correction, correct_query
from index.types import Site

# SMS and chat spellings seen in practitioners' messages, written out before anything else; compared folded.
CHAT_WORDS: dict[str, str] = {
    "cmt": "comment", "cmmt": "comment", "koi": "quoi", "kwa": "quoi", "c": "c’est", "cé": "c’est", "ke": "que",
    "ki": "qui", "kel": "quel", "kelle": "quelle", "kels": "quels", "kan": "quand", "kand": "quand", "qd": "quand",
    "pk": "pourquoi", "pq": "pourquoi", "pkoi": "pourquoi", "bcp": "beaucoup", "ds": "dans", "pr": "pour",
    "ac": "avec", "avc": "avec", "tt": "tout", "tjs": "toujours", "qqn": "quelqu’un", "qqch": "quelque chose",
    "ya": "il y a", "sest": "s’est", "cest": "c’est", "jsp": "je ne sais pas", "svp": "", "stp": "",
    "mtn": "maintenant",
    "dc": "donc", "slt": "", "bjr": "",
}
_CHAT_WORD = re.compile(r"(?<![\w’'])[^\W\d_]+(?![\w’'])")

# Words of a question that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(fold(word) for word in [
    "quel", "quels", "quelle", "quelles", "qui", "que", "quoi", "quand", "comment", "combien", "pourquoi", "où",
    "ou", "est-ce", "était", "étaient", "est", "sont", "fait", "font", "faire", "a", "ont", "avait", "parle",
    "parle-moi", "parlez-moi", "dis", "dites-moi", "moi", "explique", "expliquez", "et", "alors", "aussi", "sinon",
    "ensuite", "compare", "comparer", "comparez", "différence", "merci", "ok", "okay", "bonjour", "bonsoir", "salut",
    "oui", "non", "accord", "super", "parfait", "génial", "cool", "top", "fin", "revoir", "bien", "pas", "tout",
])
# Pronouns that point back to something said before (« qui y participe ? », « quand a-t-il ouvert ? »).
_ANAPHORA = frozenset({"y", "celui", "celle", "ceux", "celles", "ca", "cela", "it", "they", "there", "them"})
_FOLLOW_UP_START = re.compile(r"^\s*(?:et|mais|aussi|puis|and|what about|how about)\b", re.IGNORECASE)
# Frequent English words that are not French words: a question made of them is in English.
_ENGLISH = frozenset([
    "the", "what", "which", "who", "whom", "whose", "how", "did", "does", "do", "is", "are", "was", "were", "of",
    "in", "at", "during", "with", "and", "for", "from", "about", "between", "this", "that", "these", "those",
    "cities", "city", "study", "report", "worked", "work", "working", "recommendations", "tell", "please",
    "why", "when", "where", "many", "much", "has", "have", "had", "been", "their", "its", "any", "there",
])


@dataclass(frozen=True)
class Turn:
    """What a conversation remembers of its last question: the site and subject it was about."""

    site: str
    subject: str  # the previous question's content words (« Comptoir citoyen »), site names left out


@dataclass(frozen=True)
class Understood:
    asked: str  # as typed (normalised)
    query: str  # what retrieval receives
    site: str  # the one site the question (or its context) is about, "" if none or several
    corrections: tuple[Correction, ...] = ()
    context: str = ""  # what was taken from the previous turn, said in the answer: « Creil, sujet accompagnement »
    english: bool = False
    turn: Turn | None = None  # what the conversation remembers of this question


def normalize_question(text: str) -> str:
    """The project's one normalisation (`index.normalize`: NFC, invisible characters dropped), then one apostrophe
    and plain spaces.

    >>> normalize_question("Cre\\u0301il\\u200b   et  l\\u2019Odas\\u200f")
    'Créil et l’Odas'
    """
    text = normalize_text(text).replace("'", "’")
    return re.sub(r"\s+", " ", text).strip()


def expand_chat_words(text: str) -> str:
    """Chat abbreviations written out.

    >>> expand_chat_words("c koi le comptoir citoyen")
    'c’est quoi le comptoir citoyen'
    """
    def expand(match: re.Match[str]) -> str:
        word = match.group()
        return CHAT_WORDS.get(fold(word), word) if fold(word) in CHAT_WORDS else word

    return re.sub(r"\s+", " ", _CHAT_WORD.sub(expand, text)).strip()


def name_sites(text: str, sites: tuple[Site, ...]) -> str:
    """Inhabitants' names and other names of a site replaced by the site's name.

    >>> name_sites("Que font les Angevins ?", (Site("Angers", ("Angevins",)),))
    'Que font les Angers ?'
    """
    for site in sites:
        for alias in sorted(site.aliases, key=len, reverse=True):
            if sites_named(alias, (Site(site.name),)):
                continue  # an alias containing the name (« Valenciennes » for « Valenciennes Métropole »)
            pattern = re.compile(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", re.IGNORECASE)
            found = pattern.search(text)
            if found and not sites_named(text, (Site(site.name),)):
                # the site's name in its place: the documents say « Angers », rarely « les Angevins »
                text = f"{text[:found.start()]}{site.name}{text[found.end():]}"
    return text


def is_english(text: str) -> bool:
    """A question made mostly of frequent English words.

    >>> is_english("Which cities worked on shared observation?"), is_english("Quel est le sujet de Creil ?")
    (True, False)
    """
    words = [word.lower() for word in re.findall(r"[A-Za-z]+", text)]
    english = sum(1 for word in words if word in _ENGLISH)
    return english >= 2 and english >= 0.35 * len(words)


def french_words(text: str, vocabulary: Mapping[str, int]) -> str:
    """The words of an English question that the French corpus also uses (names, « observation »): what BM25
    reads; the multilingual dense model reads the whole question.

    >>> french_words("Which cities worked on shared observation in Le Havre?", {"observ": 3, "havr": 2})
    'observation Havre'
    """
    return " ".join(word for word in re.findall(r"[^\W\d_]+", text)
                    if word.lower() not in _ENGLISH and all(term in vocabulary for term in analyze(word))
                    and analyze(word))


def subject_words(text: str, sites: tuple[Site, ...]) -> str:
    """The content words of a question, as typed, without question words, stop words or site names.

    >>> subject_words("Quel était le sujet d’accompagnement d’Angers ?", (Site("Angers"),))
    'sujet accompagnement'
    """
    known_sites = site_terms(sites)
    kept = []
    for word in re.findall(r"[^\W\d_][\w-]*", re.sub(r"\b\w{1,5}[’']", " ", text)):
        folded = fold(word)
        if folded in STOP_WORDS or folded in _QUESTION_WORDS or len(folded) < 2:
            continue
        if set(analyze(word)) <= known_sites:
            continue
        kept.append(word)
    return " ".join(kept)


def stands_alone(text: str, sites: tuple[Site, ...], words: Mapping[str, str] | None = None) -> bool:
    """False for a question that needs the previous one: an opening « et » (« et à Creil ? »), or no site, no name
    and at most two content words (« combien de bénéficiaires ? », « quand a-t-il été publié ? »), or no site, no
    name, a pronoun pointing back and at most three (« qui y participe ? »). A name counts typed in lower case too,
    when the documents write it capitalised (`words`: « l’odas » is the Odas).

    >>> stands_alone("qui préside l'odas ?", (), {"odas": "Odas", "preside": "préside"})
    True

    >>> stands_alone("et à Creil ?", ()), stands_alone("combien de bénéficiaires ?", ())
    (False, False)
    >>> stands_alone("Comment la Pactotec diffuse-t-elle la culture de l’observation ?", ())
    True
    >>> stands_alone("Que fait le Comptoir citoyen ?", ()), stands_alone("Quand l’Odas a-t-il été liquidé ?", ())
    (True, True)
    """
    if not subject_words(_FOLLOW_UP_START.sub("", text), sites) and not sites_named(text, sites):
        return True  # « merci », « ok », « ? », « et ? »: nothing to continue with, it is read (and missed) alone
    if _FOLLOW_UP_START.match(text):
        return False
    if sites_named(text, sites):
        return True
    if re.search(r"(?<=[\s’'(«\"])[A-ZÀ-Ý][\w-]{2,}", text.strip()):
        return True  # it names what it is about (« le Comptoir citoyen », « l’Odas »)
    content = subject_words(text, sites).split()
    if words and any(words.get(fold(word), "")[:1].isupper() for word in content):
        return True  # a name the documents write capitalised, typed in lower case (« l’odas », « la pactotec »)
    pointing_back = bool({fold(word) for word in re.findall(r"\w+", text)} & _ANAPHORA)
    return len(content) > (3 if pointing_back else 2)


def understand(text: str, sites: tuple[Site, ...], previous: Turn | None, vocabulary: Mapping[str, int],
               words: Mapping[str, str]) -> Understood:
    """The question as retrieval should read it, and what the conversation remembers of it.

    `vocabulary` and `words` come from the index (`IndexSnapshot.vocabulary`, `IndexSnapshot.words`)."""
    asked = normalize_question(text)
    english = is_english(asked)
    written = asked if english else expand_chat_words(asked)
    corrected, corrections = (written, ()) if english else correct_query(written, vocabulary, words, sites)
    query = name_sites(corrected, sites)
    named = sites_named(query, sites)
    site = named[0] if len(named) == 1 else ""
    context = ""
    if previous is not None and not stands_alone(query, sites, words):
        carried_site = site or ("" if named else previous.site)  # two sites named: neither is the previous one
        parts = [part for part in (carried_site if not site else "", previous.subject) if part]
        query = f"{_FOLLOW_UP_START.sub('', query).strip(' ?')} — {' '.join(parts)}".strip(" —")
        site = carried_site
        context = ", ".join(part for part in (carried_site, previous.subject) if part)
        own = subject_words(corrected, sites)
        turn = Turn(site, own if len(own.split()) > 2 else previous.subject)
    else:
        turn = Turn(site, subject_words(query, sites))
    return Understood(asked, query, site, tuple(corrections), context, english, turn)
