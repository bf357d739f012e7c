"""Search result → answer: the few sentences of the best passages that answer the question, each with its marker.

The bot adds no claim of its own: an answer is only sentences quoted from passages, and the citations they point to.
How a sentence is chosen:
- the question's rarer terms it holds (weighted by how few candidate sentences hold them), its passage's rank;
- what the question asks for (`answer_kind`): « combien » wants a figure, « quand » a date, « qui » a person or a
  body, « où » a place: a sentence that holds one beats one that only repeats the question's words; a question
  that asks for a figure or a date and finds none with its subject is refused rather than answered beside the point;
- never front matter or apparatus (`is_apparatus`): source lists, bibliographies, tables of contents, URLs;
- lists and comparisons (« Quels sites… ? », « Compare Bordeaux et Strasbourg ») get one line per site, each with
  its own quote; each quote is introduced by its site when the sentence does not name it (`Quote.label`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.decide import Signals, decide
from bot.sentences.features import LEANS_BACK, feature_matrix
from bot.sentences.model import shipped_model
from index.lexical import analyze, fold
from index.retriever import site_terms, sites_named
from index.synonyms import expand, synonyms
from index.types import Hit, Passage, SearchResult, SentenceSpan, Site
from ingest.chunk import sentence_spans

MAX_QUOTES = 4
MAX_LIST_ITEMS = 8  # lines of a list or comparison answer
MAX_QUOTE_CHARS = 420  # a quote longer than this is cut on a word boundary
PASSAGES_CONSIDERED = 4  # for a plain question; lists and comparisons read every passage fetched
TOPIC_DEPTH = 5  # passages in which the question's topics are looked for
TYPE_BONUS = 0.8  # what holding the asked-for type is worth, against 1.0 for the best lexical match
_YEAR = r"\b(?:1[89]\d\d|20\d\d)\b"
_NUMBER = re.compile(rf"{_YEAR}|\b\d{{1,3}}(?:[ \u202f\u00a0]\d{{3}})+\b|\b\d+(?:[,.]\d+)? ?%|\b\d+\b")
_NUMBER_WORDS = re.compile(r"\b(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|"
                           r"quarante|cinquante|soixante|cent|cents|mille|millier|milliers|million|millions)\b")
_MONTHS = re.compile(r"\b(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|"
                     r"decembre|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|printemps|ete|automne|hiver|"
                     r"\d{1,2} ?h(?:\d\d)?)\b")  # a « quand » may want a weekday or an hour
# two capitalised words that are not an article and a name (« Didier Lesueur », not « La Pactotec »), or a title
_CENTURY = re.compile(r"\b[IVXL]+(?:e|ème|è|er)\s+siècle|\bsiècle\b|\b\d{2,4}\s*(?:av\.|apr\.)|\bannées\s+\d0\b")
_PERSON = re.compile(r"\b(?!(?:Le|La|Les|Un|Une|Des|Du|De|Ce|Cette|Ces|Son|Sa|Ses|Au|Aux|En|Selon|Dans|Pour|Par|"
                     r"Depuis|Avec|Sur|Et|Ou|Mais)\b)[A-ZÀ-Ý][a-zà-ÿ]+(?:[- ][A-ZÀ-Ý][a-zà-ÿ]+)+\b"
                     r"|\b(?:maire|président|présidente|directeur|directrice|délégué|déléguée|préfet|ministre|adjoint|adjointe)\b")
_ACRONYM = re.compile(r"\b[A-Z][A-Z&]{1,5}\b(?<!\b[IVXLC]{2})(?<!\b[IVXLC]{3})")
# Who acts in this field, for « qui » questions that ask for a body rather than a person.
_ACTORS = re.compile(r"\b(?:services?|partenaires?|associations?|elus?|agents?|professionnels?|acteurs?|"
                     r"institutions?|habitants?|benevoles?|equipes?|comites?|conseils?|ccas|caf|etat|departements?|"
                     r"bailleurs?|maires?|prefets?|communes?|intercommunalites?|collectivites?|directions?|"
                     r"travailleurs sociaux|experts?|universitaires?|chercheurs?)\b")
_APPARATUS_LEAD = re.compile(r"^\s*(?:sources?|bibliographie|références|sommaire|table des matières|mots-clés|"
                             r"crédits?|remerciements|contacts?)\s*[:：]", re.IGNORECASE)
_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:fr|com|org|net|gouv\.fr|eu)\b", re.IGNORECASE)
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|…{2,}")


@dataclass(frozen=True)
class Quote:
    text: str
    marker: int  # 1-based: the citation it comes from
    label: str = ""  # what the quote is about when the sentence does not say it: its site


@dataclass(frozen=True)
class Citation:
    marker: int
    passage: Passage


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    quotes: tuple[Quote, ...]
    citations: tuple[Citation, ...]
    more: tuple[Passage, ...]  # passages not quoted, for « Plus de résultats »
    near_sites: tuple[str, ...] = ()  # for a miss: sites whose passages came closest
    site: str = ""
    missing: tuple[str, ...] = ()  # for a miss: what the question asks about that no passage mentions
    # how the question was read (bot.understand), said to the reader
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, corrected)
    context: str = ""  # taken from the conversation's previous turn: « Creil, sujet accompagnement »
    english: bool = False
    probability: float = 0.0  # the fitted decision's P(the documents answer): never shown raw (see `band`)
    band: str = ""  # bot.decide.SURE or CHECK for an answer
    near_topics: tuple[str, ...] = ()  # for a miss in a corpus without sites: the closest passages' sections


# « Quel est le budget du CCAS ? »: the noun after a determiner names what is asked about. When no passage
# fetched holds it, the documents do not answer, however well they match the rest (the CCAS, Angers).
_DETERMINER = (r"(?:le|la|les|l|du|des|de|d|un|une|mon|ma|mes|ton|ta|tes|son|sa|ses|leur|leurs|ce|cet|cette|ces|au|"
               r"aux|quel|quelle|quels|quelles)")
_TOPIC = re.compile(rf"(?<![\w-])(?i:{_DETERMINER})(?:[’']|\s+)([a-zà-ÿœ][\w’'-]*)(?=\s+([a-zà-ÿœ][\w-]*))?")
# Adjectives that come before their noun: the topic is the word after them.
_BEFORE_NOUN = frozenset(fold(word) for word in [
    "premier", "première", "premiers", "premières", "dernier", "dernière", "derniers", "dernières", "principal",
    "principale", "principaux", "principales", "grand", "grande", "grands", "grandes", "petit", "petite", "petits",
    "petites", "nouveau", "nouvel", "nouvelle", "nouveaux", "nouvelles", "meilleur", "meilleure", "autre",
    "autres", "même", "mêmes", "seul", "seule", "ancien", "ancienne", "prochain", "prochaine", "bon", "bonne",
    "gros", "jeune", "vieux", "vieille", "plusieurs", "différents", "différentes", "nombreux", "nombreuses",
])
# Nouns that frame the question (what kind of answer) rather than name its subject, and set phrases.
_FRAME_NOUNS = frozenset(analyze("moment année époque date nombre part effet effets rôle différence différences "
                                 "objectif objectifs manière façon raison raisons résultat résultats lien liens type "
                                 "types exemple exemples nom chose choses point points sujet idée question "
                                 "site sites ville villes collectivité collectivités commune communes territoire "
                                 "territoires agglomération agglomérations"))
# « combien de temps », « combien de fois »: units, not what is counted
_UNITS = frozenset(analyze("temps fois an ans année années mois jour jours heure heures minute minutes semaine "
                           "semaines siècle siècles km kilomètres mètres euros"))
_SET_PHRASES = re.compile(r"\b(?:de|à) nouveau\b|\bde plus\b|\ben plus\b|\bde même\b|\bdu tout\b|\bd[’']abord\b|"
                          r"\bde suite\b|\bau moins\b|\bau total\b|\bau final\b", re.IGNORECASE)


def question_topics(question: str, sites: tuple[Site, ...] = ()) -> list[str]:
    """What a question is about: the names it gives (not its first word) and the nouns after a determiner (past a
    leading adjective), sites and frame nouns aside.

    >>> question_topics("Quel est le budget du CCAS d’Angers ?", (Site("Angers"),))
    ['CCAS', 'budget']
    >>> question_topics("Quel est le prix du métro à Lyon ?")
    ['Lyon', 'prix', 'métro']
    >>> question_topics("Quelles actions ont repris de nouveau à la première rencontre des solidarités ?")
    ['actions', 'rencontre', 'solidarités']
    """
    known_sites = site_terms(sites)
    topics = []
    # a name (« Lyon », « Marseille ») that is not the question's first word
    for match in re.finditer(r"(?<=[\s(«\"’'])[A-ZÀ-Ý][\w-]{2,}", question.strip()):
        terms = analyze(match.group())
        if terms and not set(terms) & known_sites:
            topics.append(match.group())
    for match in _TOPIC.finditer(_SET_PHRASES.sub(" ", question)):
        word = match.group(1)
        if fold(word) in _BEFORE_NOUN and match.group(2):
            word = match.group(2)
        terms = analyze(word)
        if not terms or set(terms) & (known_sites | _FRAME_NOUNS | _UNITS) or fold(word) in _BEFORE_NOUN:
            continue
        topics.append(word.lower())
    return list(dict.fromkeys(topics))


def missing_topics(question: str, passages: Sequence[Passage], sites: tuple[Site, ...] = (),
                   known: Callable[[str], bool] | None = None) -> list[str]:
    """The question's topics that none of the passages holds (text, section or title), even by a word of the same
    root (« ouverture » is met by « ouvert ») or a synonym; only passages that hold the question's names, and are of
    the one site it names, count.

    >>> missing_topics("Quel est le budget du CCAS ?", [Passage(0, "a.pdf", "T", "", 1, 1, "Le CCAS a ouvert.")])
    ['budget']
    >>> missing_topics("Quel est le budget de la Pactotec ?", [Passage(0, "a.pdf", "T", "", 1, 1, "La Pactotec "
    ...     "observe."), Passage(1, "b.pdf", "T", "", 1, 1, "Le budget de l’Odas.")])
    ['budget']
    """
    known_sites = site_terms(sites)
    named = sites_named(question, sites)
    # the names a question gives (« la Pactotec », « le CCAS ») anchor it: its topic must be in a passage that
    # holds them, and of the one site it names, not just anywhere among the best passages
    anchors = {term for word in re.findall(r"(?<=[\s’'(«\"])[A-ZÀ-Ý][\w-]{2,}", question.strip())
               for term in analyze(word)} - known_sites
    held: set[str] = set()
    for passage in passages:
        passage_terms = set(analyze(f"{passage.title} {passage.section} {passage.text}"))
        if len(named) == 1 and passage.site != named[0] and sites_named(passage.text, sites) != named:
            continue
        if anchors <= passage_terms:
            held |= passage_terms
    roots = {term[:5] for term in held if len(term) >= 5}
    anchored = len(named) == 1
    missing = []
    for topic in question_topics(question, sites):
        terms = analyze(topic)
        if all(term in held or synonyms(term) & held or (len(term) >= 5 and term[:5] in roots) for term in terms):
            continue
        # a word the documents use somewhere may just be phrased otherwise near the answer (« profession » for
        # « anthropologue »: on PIAF, checking such words refused 30 % of answerable questions, against 16 % when
        # only words the corpus never uses count): it makes a miss only when the question is tied to one site
        if known is not None and not anchored and any(known(term) for term in terms):
            continue
        missing.append(topic)
    return missing


@dataclass(frozen=True)
class _Sentence:
    text: str
    passage_index: int
    position: int
    terms: frozenset[str]
    numbers: frozenset[str]
    site: str  # the site of its passage's document
    passage_terms: frozenset[str]  # every term of its passage, section and title
    cosine: float | None = None  # to the question, from the sentence vector stored at ingestion


def answer_kind(question: str) -> str:
    """What a question asks for: sites, compare, figure, date, person, place, list or plain.

    >>> [answer_kind(q) for q in ("Quels sites travaillaient sur la jeunesse ?", "Combien de partenaires ?",
    ...  "En quelle année ?", "Qui a fondé l'Odas ?", "Compare Bordeaux et Arras", "Quelles sont les préconisations ?",
    ...  "Comment la Pactotec diffuse-t-elle ?")]
    ['sites', 'figure', 'date', 'person', 'compare', 'list', 'plain']
    """
    text = fold(question).strip()
    if re.search(r"\b(?:quel(?:le)?s?|which|what) (?:sites?|villes?|collectivites?|territoires?|communes?|"
                 r"agglomerations?|cities|towns)\b", text):
        return "sites"
    if re.search(r"\b(?:compar\w*|difference\w*|versus|vs|differen\w*)\b", text):
        return "compare"
    if re.search(r"\b(?:combien|how many|how much)\b|\bquel(?:le)?s? (?:est |sont |etait )?(?:le |la |les )?"
                 r"(?:nombre|part|pourcentage|montant|taux|chiffre)s?\b", text):
        return "figure"
    if re.search(r"\b(?:quand|when|what year|depuis quand)\b|\b(?:quelle|en quelle|a quelle) (?:annee|date|epoque)\b"
                 r"|\ba quel moment\b", text):
        return "date"
    if re.match(r"(?:qui (?:est|etait|sont|etaient)|who (?:is|was|are))\s+[^\W\d_]", text) and re.match(
            r"\S+\s+\S+\s+[A-ZÀ-Ý]", question.strip()):
        return "plain"  # « Qui est Médine ? » asks what to know of a name, not for a person
    if re.match(r"(?:qui|who)\b", text) or re.search(r"\bcomment s.appel\w+|\bquel est le nom\b", text):
        return "person"
    if re.match(r"(?:ou|where)\b", text):
        return "place"
    if re.match(r"(?:quel(?:le)?s (?:sont|etaient|furent) |quel(?:le)?s \w+s\b|what are\b)", text):
        return "list"
    return "plain"


def holds_kind(sentence: str, kind: str) -> bool:
    """Whether a sentence holds what the question asks for.

    >>> holds_kind("Le bilan fait état de 170 bénéficiaires.", "figure"), holds_kind("En octobre 2018.", "date")
    (True, True)
    >>> holds_kind("Didier Lesueur dirigeait l’Odas.", "person"), holds_kind("Le comité s’est réuni.", "figure")
    (True, False)
    """
    folded = fold(sentence)
    if kind == "figure":
        return bool(re.search(r"\b\d", re.sub(_YEAR, " ", sentence)) or _NUMBER_WORDS.search(folded))
    if kind == "date":
        return bool(re.search(_YEAR, sentence) or _MONTHS.search(folded) or _CENTURY.search(sentence))
    if kind == "person":
        return bool(_PERSON.search(sentence))
    if kind == "place":
        return bool(re.search(r"\b(?:à|au|aux|en|dans)\s+(?:l[ae’']\s*)?[A-ZÀ-Ý]", sentence))
    return False


def is_apparatus(sentence: str) -> bool:
    """Front matter and apparatus a reader should not be quoted: source lists, bibliographies, tables of contents,
    URL-dense lines, enumerations of titles. Still searchable: only quoting skips them.

    >>> is_apparatus("Sources : lettre de l’Odas, fiches Apriles, www.exemple.fr."), is_apparatus("Sommaire : …")
    (True, True)
    >>> is_apparatus("Le CCAS a ouvert le Comptoir citoyen en octobre 2018.")
    False
    """
    if _APPARATUS_LEAD.search(sentence) or _DOT_LEADER.search(sentence):
        return True
    return len(_URL.findall(sentence)) >= 2


def _listing(sentence: _Sentence) -> bool:
    # an enumeration (a list of sources, of partners) repeats the question's names without saying anything
    return sentence.text.count(";") >= 3 or sentence.text.count(",") >= 8


def _sentences(passages: Sequence[Passage],
               stored: Sequence[tuple[SentenceSpan, ...]] = ()) -> list[_Sentence]:
    """The quotable sentences of the passages: as split at ingestion (`stored[i]`, with their cosines to the
    question) when the index holds them; a passage from elsewhere (a test, an old index) is split here."""
    found = []
    for index, passage in enumerate(passages):
        if passage.front_matter:
            continue
        spans: list[tuple[int, int, float | None, bool]] = [(s.start, s.end, s.cosine, s.notice)
                                                            for s in stored[index]] \
            if index < len(stored) and stored[index] else [(a, b, None, False) for a, b in sentence_spans(passage.text)]
        passage_terms = frozenset(analyze(f"{passage.title} {passage.section} {passage.text}"))
        for position, (start, end, cosine, notice) in enumerate(spans):
            sentence = re.sub(r"\s+", " ", passage.text[start:end]).strip()
            if len(sentence) >= 12 and not notice and not is_apparatus(sentence):
                found.append(_Sentence(sentence, index, position, frozenset(analyze(sentence)),
                                       frozenset(_NUMBER.findall(sentence)), passage.site, passage_terms, cosine))
    return found


def _trim(text: str, wanted: frozenset[str] = frozenset()) -> str:
    """A quote of at most MAX_QUOTE_CHARS: the sentence's opening, or, when the question's terms (`wanted`) sit
    further on, the window that holds most of them, starting at a clause (a long enumeration's item about
    « jeunesse » is not cut away for its first items).

    >>> _trim("Trois axes : " + "l’observation partagée à Bordeaux, " * 12 + "la jeunesse à Moulins.",
    ...       frozenset(analyze("jeunesse"))).endswith("la jeunesse à Moulins.")
    True
    """
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    starts = [0] + [match.end() for match in re.finditer(r"[;:,]\s+|\s[–—-]\s", text)]

    def held(start: int) -> int:
        return len(wanted & set(analyze(text[start:start + MAX_QUOTE_CHARS]))) if wanted else 0

    def lead(start: int) -> int:  # characters before the window's first wanted term: less leaves room for what follows
        return next((match.start() for match in re.finditer(r"\w+", text[start:start + MAX_QUOTE_CHARS])
                     if set(analyze(match.group())) & wanted), MAX_QUOTE_CHARS)

    best = max(starts, key=lambda start: (held(start), -lead(start), -start))
    if held(best) <= held(0):
        best = 0
    window = text[best:]
    if len(window) > MAX_QUOTE_CHARS:
        cut = window.rfind(" ", 0, MAX_QUOTE_CHARS)
        window = window[: cut if cut > 0 else MAX_QUOTE_CHARS].rstrip(" ,;:") + " […]"
    return ("[…] " if best else "") + window


class _Scorer:
    """Scores the candidate sentences of one question."""

    def __init__(self, question: str, sentences: list[_Sentence], kind: str, sites: tuple[Site, ...]) -> None:
        known_sites = site_terms(sites)
        # « 2010-2012 » gives 2010, 2012 and 20102012: the joined form would count the same words twice
        joined = {fold(word).replace("-", "") for word in re.findall(r"\w+(?:-\w+)+", question)}
        self.wanted = set(expand(analyze(question))) - joined
        self.kind = kind
        # a question term found in few of these sentences says more than one found everywhere
        self.weight = {term: math.log(1 + len(sentences) / sum(1 for s in sentences if term in s.terms))
                       for term in self.wanted if any(term in s.terms for s in sentences)}
        # what is asked about, sites aside; a date or a figure counts only in a sentence that holds one of these
        # words, from a passage that holds the names the question gives (« la Pactotec »): another body's date is not
        # the answer
        self.subject = {term for term in self.weight if term not in known_sites}
        # the question's own words (not its sites) that no candidate sentence holds: « fondée » for a city
        self.unmatched = {term for term in analyze(question) if term not in known_sites} - set(self.weight) - joined
        self.acronyms = set(_ACRONYM.findall(question))
        self.names = {term for word in re.findall(r"(?<=\s)[A-ZÀ-Ý][\w’'-]+", question) for term in analyze(word)
                      if term not in known_sites}
        # what « Quelles sont les recommandations ? » enumerates: its items are the sentences that name it (not so
        # « Quels acteurs ont été interrogés ? », whose items are named by what they did)
        head = re.match(r"\s*(?:quel(?:le)?s\s+(?:sont|etaient|furent)|what are)\s+(?:les\s+|des\s+|the\s+)?"
                        r"([^\W\d_]+)", fold(question)) if kind == "list" else None
        self.head = set(expand(analyze(head.group(1)))) if head else set()
        # what « Combien de bénéficiaires ? » counts: a figure answers only next to it
        counted = re.search(r"\bcombien\s+(?:de|d)[’'\s]\s*([^\W\d_]+)", question, re.IGNORECASE)
        counted_terms = set(analyze(counted.group(1))) if counted and kind == "figure" else set()
        self.counted = set() if counted_terms & _UNITS else set(expand(list(counted_terms)))
        self.best_overlap = max((self.overlap(s) for s in sentences), default=0.0)

    def overlap(self, sentence: _Sentence) -> float:
        found = sum(self.weight[term] for term in self.wanted & sentence.terms if term in self.weight)
        return found * (0.5 if _listing(sentence) and self.kind not in ("sites", "list") else 1.0)

    def in_context(self, sentence: _Sentence) -> float:
        """The overlap counting, at half weight, the question's words its passage holds around it (« Elle portait sur
        sept villes : … » gets « 2010-2012 » from the sentence before)."""
        around = (self.wanted & sentence.passage_terms) - sentence.terms
        return self.overlap(sentence) + 0.5 * sum(self.weight[term] for term in around if term in self.weight)

    def typed(self, sentence: _Sentence) -> bool:
        # « qui » is answered by a person, a body (« les services ») or a body's acronym the question does not give
        # (« le CGET l’a soutenue »)
        holds = holds_kind(sentence.text, self.kind) or (self.kind == "person" and (
            bool(_ACTORS.search(fold(sentence.text))) or bool(set(_ACRONYM.findall(sentence.text)) - self.acronyms)))
        # with the question's subject beside it; a question whose words no sentence holds but its sites' has none
        return (holds and bool(self.subject & sentence.terms or (not self.subject and not self.unmatched))
                and self.names <= sentence.passage_terms
                and (not self.counted or bool(self.counted & sentence.passage_terms)))

    def score(self, sentence: _Sentence) -> float:
        lexical = self.overlap(sentence) / self.best_overlap if self.best_overlap > 0 else 0.0
        bonus = TYPE_BONUS if self.kind in ("figure", "date", "person", "place") and self.typed(sentence) \
            and (self.kind != "person" or _PERSON.search(sentence.text)) else 0.0
        if self.head & sentence.terms:
            bonus = TYPE_BONUS
        if not bonus and self.kind == "person" and _ACTORS.search(fold(sentence.text)):
            bonus = TYPE_BONUS / 2  # a body (« les services municipaux ») rather than a named person
        # the rank of the passage breaks ties: the retriever already weighed the evidence
        return lexical + bonus - 0.02 * sentence.passage_index


def _plain_candidates(question: str, passages: Sequence[Passage], sites: tuple[Site, ...],
                      stored: Sequence[tuple[SentenceSpan, ...]], kind: str) -> list[_Sentence]:
    """The candidates of a plain question: the sentences of the best passages; those of the one site it names."""
    sentences = _sentences(passages[:PASSAGES_CONSIDERED], stored)
    named = sites_named(question, sites)
    if len(named) == 1 and kind not in ("sites", "compare"):
        # a question about one site is answered from that site's passages, or sentences that name it
        sentences = [s for s in sentences if s.site == named[0] or sites_named(s.text, sites) == named]
    return sentences


def sentence_probabilities(question: str, sentences: list[_Sentence], scorer: _Scorer,
                           scores: Sequence[float]) -> np.ndarray:
    """The fitted sentence model's P(holds the answer) for each candidate."""
    cosines = [s.cosine for s in sentences]
    rows = feature_matrix(question, sentences, scorer, scores,
                          None if any(c is None for c in cosines) else np.asarray(cosines, dtype=np.float64))
    return shipped_model().probability(rows)


def select_sentences(question: str, passages: Sequence[Passage], sites: tuple[Site, ...] = (),
                     stored: Sequence[tuple[SentenceSpan, ...]] = (),
                     scores: Sequence[float] = ()) -> list[_Sentence]:
    """The sentences that answer best, in the order they are shown; [] when there is none to quote.

    A plain question: the sentence the fitted model (bot.sentences) finds likeliest to hold the answer, the second
    likeliest when the model gives it a chance, then
    others that give another date or figure for what the question names (so that two sources that disagree both
    appear), at most MAX_QUOTES. A list of sites or a comparison: the best sentence for each site, at most
    MAX_LIST_ITEMS. `stored`: each passage's sentences as split at ingestion, with their cosines; `scores`: each
    passage's fused score. Whether to answer at all is not decided here (`bot.decide`)."""
    kind = answer_kind(question)
    if kind == "sites" and not any(passage.site for passage in passages):
        kind = "list"  # a corpus without sites (or none among these passages): the items are named otherwise
    broad = kind in ("sites", "compare", "list")
    if not broad:
        sentences = _plain_candidates(question, passages, sites, stored, kind)
        if not sentences:
            return []
        scorer = _Scorer(question, sentences, kind, sites)
        if scorer.best_overlap <= 0 and any(s.cosine is None for s in sentences):
            # matched on meaning, not words, and no sentence vectors to tell which sentence: the top passage's opening
            return [s for s in sentences if s.passage_index == 0][:2]
        return _by_model(question, sentences, scorer, sentence_probabilities(question, sentences, scorer, scores))
    sentences = _sentences(passages, stored)
    named = sites_named(question, sites)
    if not sentences:
        return []
    scorer = _Scorer(question, sentences, kind, sites)
    if scorer.best_overlap <= 0:
        return [s for s in sentences if s.passage_index == 0][:2]
    scored = sorted(sentences, key=lambda s: (-scorer.score(s), s.passage_index, s.position))
    if kind == "sites" or (kind == "compare" and len(named) >= 2):
        return _per_site(scored, scorer, sites, named if kind == "compare" else [])
    return _list_items(scored, scorer)


def decision_signals(result: SearchResult, sites: tuple[Site, ...] = (),
                     known: Callable[[str], bool] | None = None) -> tuple[Signals, tuple[str, ...]]:
    """What the decision to answer weighs (`bot.decide.Signals`), and the question's topics no top passage holds
    (said to the reader when the answer is refused)."""
    question = result.query
    passages = [hit.passage for hit in result.hits]
    stored = [hit.sentences for hit in result.hits]
    scores = [hit.score for hit in result.hits]
    kind = answer_kind(question)
    sentences = _plain_candidates(question, passages, sites, stored, kind)
    probability, cosine, type_missing = 0.0, None, kind in ("figure", "date")
    if sentences:
        scorer = _Scorer(question, sentences, kind, sites)
        probability = float(sentence_probabilities(question, sentences, scorer, scores).max())
        cosines = [s.cosine for s in sentences if s.cosine is not None]
        cosine = max(cosines) if len(cosines) == len(sentences) else None
        type_missing = type_missing and not any(scorer.typed(s) for s in sentences)
    known_sites = site_terms(sites)
    names = {term for word in re.findall(r"(?<=[\s’'(«\"])[A-ZÀ-Ý][\w-]{2,}", question.strip())
             for term in analyze(word)} - known_sites
    held = set().union(*(analyze(f"{p.title} {p.section} {p.text}") for p in passages[:3])) if passages else set()
    missing = tuple(missing_topics(question, passages[:TOPIC_DEPTH], sites, known))
    top = result.hits[0] if result.hits else None
    signals = Signals(result.evidence, probability, cosine, len(names & held) / len(names) if names else 1.0,
                      bool(names), len(missing), type_missing, top.lexical_rank if top else None,
                      top.dense_rank if top else None, len(analyze(question)))
    return signals, missing


def _by_model(question: str, sentences: list[_Sentence], scorer: _Scorer, probability: np.ndarray) -> list[_Sentence]:
    """The likeliest sentences by the fitted model, then those that give another figure for what the question names
    (two sources that disagree both appear), shown in document order."""
    model = shipped_model()
    order = sorted(range(len(sentences)), key=lambda i: (-probability[i], sentences[i].passage_index,
                                                          sentences[i].position))
    # the second likeliest too when the model gives it a chance (the rule cross-validation chose: bot.sentences.fit)
    quoted = 2 if len(order) > 1 and model.quotes_second(probability[order[0]], probability[order[1]]) else 1
    chosen = [sentences[i] for i in order[:quoted]]
    def gives(sentence: _Sentence) -> bool:  # the figure or date asked for, next to what is counted (« usagers »)
        return scorer.typed(sentence) and (not scorer.counted or bool(scorer.counted & sentence.terms))

    if model.typed_when_missing and scorer.kind in ("figure", "date") and not any(gives(s) for s in chosen):
        # a figure or a date asked for: the likeliest sentence that gives one with the question's subject comes too
        typed = next((sentences[i] for i in order if gives(sentences[i])), None)
        if typed is not None:
            chosen.append(typed)
    names = frozenset(term for word in re.findall(r"(?<=\s)[A-ZÀ-Ý][\w’'-]+", question) for term in analyze(word))
    for i in order[quoted:]:
        sentence = sentences[i]
        if len(chosen) == MAX_QUOTES:
            break
        if (names and names <= sentence.terms and sentence.numbers and not _listing(sentence)
                and any(c.numbers and c.numbers != sentence.numbers and c.passage_index != sentence.passage_index
                        for c in chosen)):
            chosen.append(sentence)
    if not model.context:
        return sorted(chosen, key=lambda s: (s.passage_index, s.position))
    indices = {id(sentence): i for i, sentence in enumerate(sentences)}
    kept = with_context([indices[id(sentence)] for sentence in chosen], [s.text for s in sentences],
                        [s.passage_index for s in sentences], [s.position for s in sentences])
    return [sentences[i] for i in kept]


# a sentence that announces what follows: « … poursuit trois objectifs. », « les actions suivantes : »
# (a colon at the end, « suivants », or a count in words closing the sentence; not « plusieurs », not a figure:
# « … a accueilli 420 habitants. » reports a count, it announces nothing)
_ANNOUNCES = re.compile(r"(?::\s*$|\b(?:suivant(?:e|s|es)?|ci-dessous|ci-après)\s*[.:]?\s*$|\b(?:deux|trois|quatre|"
                        r"cinq|six|sept|huit|neuf|dix|onze|douze) (?:[^\W\d_]+ ){0,2}[^\W\d_]+s\s*[.:]?\s*$)",
                        re.IGNORECASE)
ANNOUNCED_ITEMS = 4  # sentences brought after one that announces them


def with_context(chosen: Sequence[int], texts: Sequence[str], passage_index: Sequence[int],
                 position: Sequence[int]) -> list[int]:
    """The chosen candidates (indices), with what makes each stand on its own: the sentence before one that leans on
    it (« Elle portait sur sept villes » after the sentence naming the study), the items after one that announces
    them (« … poursuit trois objectifs. »); in document order.

    >>> with_context([1], ["L’étude de 2010 a duré deux ans.", "Elle portait sur sept villes."], [0, 0], [0, 1])
    [0, 1]
    >>> with_context([0], ["Le plan a trois objectifs :", "loger ;", "former.", "Autre chose."], [0] * 4, [0, 1, 2, 3])
    [0, 1, 2, 3]
    """
    where = {(passage_index[i], position[i]): i for i in range(len(texts))}
    kept = set(chosen)
    for i in chosen:
        key = (passage_index[i], position[i])
        if LEANS_BACK.match(texts[i]) and (key[0], key[1] - 1) in where:
            kept.add(where[(key[0], key[1] - 1)])
        if _ANNOUNCES.search(texts[i]):
            for step in range(1, ANNOUNCED_ITEMS + 1):
                following = where.get((key[0], key[1] + step))
                if following is None:
                    break
                kept.add(following)
    return sorted(kept, key=lambda i: (passage_index[i], position[i]))


def hand_choice(question: str, sentences: list[_Sentence], scorer: _Scorer) -> list[_Sentence]:
    """The hand-written choice the fitted model replaced for plain questions, kept as the baseline that
    `bot.sentences.fit` measures the model against."""
    if scorer.best_overlap <= 0:
        return [s for s in sentences if s.passage_index == 0][:2]
    if scorer.kind in ("figure", "date") and not any(scorer.typed(s) for s in sentences):
        return []
    scored = sorted(sentences, key=lambda s: (-scorer.score(s), s.passage_index, s.position))
    return _plain(question, scored, scorer)


def _plain(question: str, scored: list[_Sentence], scorer: _Scorer) -> list[_Sentence]:
    best = scored[0]
    if scorer.kind in ("figure", "date", "person") and not scorer.typed(best):
        # what is asked for, with the question's words, leads: « qui y participe ? » wants who, not « participatif »
        best = next((s for s in scored if scorer.typed(s) and scorer.overlap(s) > 0), best)
        scored = [best, *(s for s in scored if s is not best)]
    chosen = [best]
    # what the question is about, by name (« la Pactotec », « Angers »): another date or figure given for it by
    # another passage is a disagreement to show
    names = frozenset(term for word in re.findall(r"(?<=\s)[A-ZÀ-Ý][\w’'-]+", question) for term in analyze(word))
    for sentence in scored[1:]:
        if len(chosen) == MAX_QUOTES:
            break
        same_passage = sum(1 for c in chosen if c.passage_index == sentence.passage_index)
        other_figures = bool(names) and names <= sentence.terms and bool(sentence.numbers) and not _listing(
            sentence) and any(c.numbers and c.numbers != sentence.numbers and c.passage_index != sentence.passage_index
                              for c in chosen)
        # as good as the best, and on its words: a type alone (a date, a figure) does not make a sentence relevant
        strong = (scorer.score(sentence) >= 0.6 * scorer.score(best)
                  and scorer.overlap(sentence) >= 0.5 * scorer.overlap(best) > 0)
        if scorer.kind in ("figure", "date", "person") and scorer.typed(best):
            strong = strong and scorer.typed(sentence)  # what was asked, again: not filler
        if (strong and same_passage < 2) or other_figures:
            chosen.append(sentence)
    return sorted(chosen, key=lambda s: (s.passage_index, s.position))


def _list_items(scored: list[_Sentence], scorer: _Scorer) -> list[_Sentence]:
    """Items of an enumeration (« les recommandations ») are often consecutive sentences, or sibling passages."""
    best = scorer.score(scored[0])
    chosen = [s for s in scored if scorer.score(s) >= 0.5 * best and scorer.overlap(s) > 0][:MAX_LIST_ITEMS]
    per_passage: Counter[int] = Counter()
    kept = []
    for sentence in chosen:
        if per_passage[sentence.passage_index] < 3:
            kept.append(sentence)
            per_passage[sentence.passage_index] += 1
    return sorted(kept[:MAX_QUOTES + 1], key=lambda s: (s.passage_index, s.position))


def _per_site(scored: list[_Sentence], scorer: _Scorer, sites: tuple[Site, ...],
              wanted: list[str]) -> list[_Sentence]:
    """One line per site. A list: first the sentence that enumerates three sites or more, if one answers, then each
    remaining site's best sentence. A comparison: each named site's own best sentence first (from its passages,
    naming no other compared site), a sentence naming several of them only for a site still without one.
    `wanted`: the sites a comparison names; empty for a list."""
    best = scorer.score(scored[0])

    def sites_of(sentence: _Sentence) -> set[str]:
        named = set(sites_named(sentence.text, sites)) | ({sentence.site} if sentence.site else set())
        return named & set(wanted) if wanted else named

    def relevant(sentence: _Sentence, floor: float) -> bool:
        return scorer.overlap(sentence) > 0 and scorer.score(sentence) >= floor * best

    chosen: list[_Sentence] = []
    covered: set[str] = set()
    if wanted:
        for site in wanted:
            own = next((s for s in scored if s.site == site and sites_of(s) == {site} and relevant(s, 0.3)),
                       None) or next((s for s in scored if sites_of(s) == {site} and relevant(s, 0.3)), None)
            if own is not None:
                chosen.append(own)
                covered.add(site)
    else:
        # the documents' own list of the sites: among the enumerations about what is asked (their words, counting
        # their passage's, four fifths of the best's at least), the one that names the most sites — « les onze
        # sites sont Angers, Arras… » over another study's « sept villes » beside it
        enumerations = [s for s in scored if len(sites_of(s)) >= 3 and scorer.in_context(s) > 0
                        and scorer.in_context(s) >= 0.25 * scorer.best_overlap]
        closest = max((scorer.in_context(s) for s in enumerations), default=0.0)
        enumeration = max((s for s in enumerations if scorer.in_context(s) >= 0.8 * closest),
                          key=lambda s: (len(sites_of(s)), scorer.in_context(s)), default=None)
        if enumeration is not None:
            chosen.append(enumeration)
            covered |= sites_of(enumeration)
    for sentence in scored:
        if len(chosen) == MAX_LIST_ITEMS:
            break
        named = sites_of(sentence)
        if not named or named <= covered or sentence in chosen or not relevant(sentence, 0.3 if wanted else 0.5):
            continue
        chosen.append(sentence)
        covered |= named
    return chosen


def enumerations_first(hits: Sequence[Hit], sites: tuple[Site, ...]) -> tuple[Hit, ...]:
    """The hits whose passage names three sites or more (a list of the sites), then the others, each in rank order."""
    enumerating = [len(sites_named(hit.passage.text, sites)) >= 3 for hit in hits]
    return tuple(hit for hit, many in zip(hits, enumerating, strict=True) if many) + tuple(
        hit for hit, many in zip(hits, enumerating, strict=True) if not many)


def _label(sentence: _Sentence, sites: tuple[Site, ...]) -> str:
    """The site a quote is about, when the sentence does not name it."""
    if not sentence.site:
        return ""
    own = tuple(site for site in sites if site.name == sentence.site) or (Site(sentence.site),)
    return "" if sites_named(sentence.text, own) else sentence.site


def compose(result: SearchResult, sites: tuple[Site, ...] = (), known: Callable[[str], bool] | None = None) -> Answer:
    """Turn a search result into an answer; a result the retriever judged unanswered, or whose passages do not hold
    what the question asks for, gives a miss. `sites`: the corpus's sites (inhabitants' names included)."""
    passages = [hit.passage for hit in result.hits]
    near = tuple(dict.fromkeys(p.site for p in passages[:5] if p.site))[:3]
    if not passages:
        return Answer(result.query, False, (), (), (), near, result.site)
    signals, missing = decision_signals(result, sites, known)
    decision = decide(signals)
    chosen = select_sentences(result.query, passages, sites, [hit.sentences for hit in result.hits],
                              [hit.score for hit in result.hits]) if decision.answer else []
    if not chosen:
        about = (passage.section or passage.title for passage in passages[:3])
        topics = () if near else tuple(dict.fromkeys(topic for topic in about if topic))
        return Answer(result.query, False, (), (), tuple(passages), near, result.site, missing,
                      probability=decision.probability, near_topics=topics)
    # passages with the same citation (same document, section and page) share one marker
    markers: dict[int, int] = {}
    by_citation: dict[tuple[str, str, str], int] = {}
    cited: dict[int, Passage] = {}
    for sentence in chosen:
        index = sentence.passage_index
        if index in markers:
            continue
        passage = passages[index]
        key = (passage.source, passage.section, passage.page_label)
        if key in by_citation:
            marker = by_citation[key]
            first = cited[marker]
            if passage.text not in first.text:
                cited[marker] = replace(first, text=f"{first.text}\n\n{passage.text}")
        else:
            marker = by_citation[key] = len(by_citation) + 1
            cited[marker] = passage
        markers[index] = marker
    wanted = frozenset(analyze(result.query))
    quotes = tuple(Quote(_trim(s.text, wanted), markers[s.passage_index], _label(s, sites)) for s in chosen)
    citations = tuple(Citation(marker, passage) for marker, passage in sorted(cited.items()))
    more = tuple(p for index, p in enumerate(passages) if index not in markers)
    return Answer(result.query, True, quotes, citations, more, (), result.site, probability=decision.probability,
                  band=decision.band)
