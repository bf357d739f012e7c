"""Hybrid search: French BM25 and dense vectors, fused into one ranking of cited passages."""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.config import MULTILINGUAL_MODEL, PACKAGED_MODEL
from index.embedder import Embedder
from index.errors import IndexFailure, IndexFormatError
from index.lexical import analyze, fold, sentence_key
from index.store import IndexSnapshot, current_version
from index.synonyms import expand, synonyms
from index.types import Evidence, Hit, Passage, SearchResult, SentenceSpan, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FusionWeights:
    """How the two rankings are combined; the values come from measurement (see BENCHMARKS.md)."""

    lexical: float = 0.6
    dense: float = 0.4
    candidates: int = 100  # from each side
    min_confidence: float = 0.43  # below this `answer_confidence`, the corpus does not answer
    confidence_coverage: float = 0.45  # share of lexical coverage (the rest: best dense cosine) in the confidence
    confidence_standout: float = 0.0  # weight of how far the best dense cosine stands out of the query's top 100
    # the standout assumed when a corpus is too small to measure it (fewer than 10 passages): between the medians of
    # off-topic (2.3) and answerable questions (3.0-4.6) on the calibration sets
    standout_unmeasured: float = 2.8
    confidence_depth: int = 3  # how many top passages the confidence looks at
    site_boost: float = 0.15  # added to passages of the one site a question names
    # Cosine under which a passage counts as unrelated: E5's cosines sit in a narrow high band (0.7-0.9), MiniLM's
    # spread from 0; cosines are rescaled from [floor, 1] to [0, 1] before fusion and confidence.
    cosine_floor: float = 0.0

    def dense_score(self, cosine: float) -> float:
        """A cosine rescaled from [cosine_floor, 1] to [0, 1].

        >>> FusionWeights(cosine_floor=0.6).dense_score(0.8)
        0.5
        """
        return round(max(cosine - self.cosine_floor, 0.0) / (1.0 - self.cosine_floor), 6)


# Measured per model (`python -m bench.piaf_retrieval --tune`, figures in BENCHMARKS.md): fusion on PIAF, the
# no-answer threshold on PIAF, the dev questions and near misses. Kept here, in one place; a model absent from this
# table gets the defaults above and a warning to check them with `vve eval`.
MODEL_WEIGHTS: dict[str, FusionWeights] = {
    PACKAGED_MODEL: FusionWeights(lexical=0.6, dense=0.4, min_confidence=0.43, confidence_coverage=0.45),
    MULTILINGUAL_MODEL: FusionWeights(lexical=0.2, dense=0.8, cosine_floor=0.75, min_confidence=0.61,
                                      confidence_coverage=0.4, confidence_standout=0.1),
}


def weights_for_model(model: str) -> FusionWeights | None:
    """The measured weights of a model, None when it was never measured (then: `FusionWeights()` and `vve eval`)."""
    return MODEL_WEIGHTS.get(model)


def fuse(lexical: Sequence[tuple[int, float]], dense_cosines: dict[int, float],
         weights: FusionWeights) -> list[tuple[int, float]]:
    """Combine BM25 scores (scaled by the query's best) with dense cosines (rescaled) of the same candidates.

    >>> fuse([(1, 10.0), (2, 5.0)], {1: 0.2, 2: 0.6, 3: 0.5}, FusionWeights(lexical=0.5, dense=0.5))
    [(1, 0.6), (2, 0.55), (3, 0.25)]
    """
    best_lexical = max((score for _, score in lexical), default=0.0)
    lexical_scaled = {row: score / best_lexical for row, score in lexical} if best_lexical > 0 else {}
    rows = set(lexical_scaled) | set(dense_cosines)
    fused = {
        row: round(weights.lexical * lexical_scaled.get(row, 0.0)
                   + weights.dense * weights.dense_score(dense_cosines.get(row, 0.0)), 6)
        for row in rows
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


RETIRED_SECONDS = 60.0  # a replaced version stays open this long for the searches begun on it


class UnknownSite(IndexFailure):
    """A `ville:` filter that names no site of the corpus."""

    def __init__(self, wanted: str, sites: tuple[Site, ...]) -> None:
        known = ", ".join(site.name for site in sites) or "aucun site n'est décrit dans le corpus"
        super().__init__(f"Site inconnu : « {wanted} ». Sites du corpus : {known}.")


_SITE_FILTER = re.compile(r"(?:^|\s)(?:ville|site):(?:\"([^\"]+)\"|«\s*([^»]+?)\s*»|(\S+))", re.IGNORECASE)


def _site_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", fold(text)).strip()  # punctuation too: « à Villeurbanne. » names it


def parse_site_filter(query: str, sites: tuple[Site, ...]) -> tuple[str, str]:
    """Take an explicit `ville:Angers` (or `ville:"Le Havre"`, `ville:le-havre`) out of a query.

    >>> parse_site_filter("réciprocité ville:angers", (Site("Angers"),))
    ('réciprocité', 'Angers')
    """
    match = _SITE_FILTER.search(query)
    if not match:
        return query.strip(), ""
    wanted = next(group for group in match.groups() if group)
    rest = (query[:match.start()] + " " + query[match.end():]).strip()
    return re.sub(r"\s+", " ", rest), resolve_site(wanted, sites)


def resolve_site(wanted: str, sites: tuple[Site, ...]) -> str:
    """The site a user means by `wanted` (its name or other name, or one word of it: « havre »); UnknownSite else.

    >>> resolve_site("le-havre", (Site("Le Havre"), Site("Angers")))
    'Le Havre'
    """
    key = _site_key(wanted)
    found = [site.name for site in sites if any(_site_key(name) == key for name in site.names)]
    found = found or [site.name for site in sites if any(key in _site_key(name).split() for name in site.names)]
    if len(found) != 1:
        raise UnknownSite(wanted, sites)
    return found[0]


class Retriever:
    """Searches the current index; `refresh()` picks up a version swapped in by another process."""

    def __init__(self, index_dir: Path, embedder: Embedder, weights: FusionWeights | None = None) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        measured = weights_for_model(embedder.name)
        if weights is None and measured is None:
            log.warning("Le modèle « %s » n'a pas de réglages mesurés (fusion, seuil de réponse) : ceux par défaut "
                        "sont utilisés ; vérifiez la qualité avec « vve eval ».", embedder.name)
        self.weights = weights or measured or FusionWeights()
        self._snapshot: IndexSnapshot | None = None
        self._retired: list[tuple[float, IndexSnapshot]] = []  # (when replaced, version) not closed yet
        self._warmed: Path | None = None  # the version that passed `warm` while served
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Retriever({self.index_dir}, {self.embedder!r})"

    @property
    def snapshot(self) -> IndexSnapshot:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = IndexSnapshot.open(self.index_dir, expected_model=self.embedder.name)
            return self._snapshot

    def refresh(self) -> bool:
        """Open the newest version if `current` moved, warm it, and serve it; True when it did. A version that fails
        to open or to warm raises IndexFailure and the previous one is still served. Old snapshots stay usable."""
        latest = current_version(self.index_dir)
        with self._lock:
            # a version opened lazily by a question (after a failed start, say) is warmed here once, so that
            # whoever reports health learns that it works
            if self._snapshot is not None and latest == self._snapshot.version_dir == self._warmed:
                return False
        fresh = IndexSnapshot.open(self.index_dir, expected_model=self.embedder.name)
        try:
            self.warm(fresh)
        except IndexFailure:
            fresh.close()
            raise
        with self._lock:
            retired, self._snapshot = self._snapshot, fresh
            self._warmed = fresh.version_dir
            # a replaced version is closed a while later: searches that began on it finish first, and its deleted
            # files stop holding disk space (they stayed open until a garbage collection before)
            now = time.monotonic()
            expired = [old for when, old in self._retired if now - when > RETIRED_SECONDS]
            self._retired = [(when, old) for when, old in self._retired if now - when <= RETIRED_SECONDS]
            if retired is not None:
                self._retired.append((now, retired))
        for old in expired:
            old.close()
        log.info("index %s opened (%d passages)", fresh.version_dir.name, fresh.manifest.passages)
        return True

    def warm(self, snapshot: IndexSnapshot) -> None:
        """Read what every question needs from a version (its vocabulary and words, once) and run one search through
        FAISS and SQLite: a damaged version is found now (IndexFormatError), not at a user's question."""
        query = "cohésion sociale"
        try:
            dense = snapshot.dense_search(self.embedder.embed_query(query), 1)
            lexical = snapshot.lexical_search(analyze(query), 1)
            rows = [row for row, _ in dense + lexical]
            snapshot.passages(rows)
            snapshot.terms(rows)
            snapshot.vocabulary  # noqa: B018 - cached per version
            snapshot.words  # noqa: B018
            with self._lock:
                if snapshot is self._snapshot:
                    self._warmed = snapshot.version_dir
        except IndexFailure:
            raise
        except Exception as error:  # files that opened but do not answer: damaged in a way `open` did not check
            log.exception("index %s failed its warm-up", snapshot.version_dir.name)
            raise IndexFormatError(f"Index endommagé dans « {snapshot.version_dir} » ({type(error).__name__}) : "
                                   "relancez « vve ingest --full » pour le reconstruire à partir du corpus.") from error

    def gather(self, query: str, site: str = "", lexical_query: str | None = None) -> Candidates:
        """Both sides' candidates for a query, from one version of the index: what `rank` and `answer_confidence`
        work from. `lexical_query`, when given, is what BM25 reads instead of `query` (the French words of an
        English question, say); the dense side always reads `query`."""
        snapshot = self.snapshot
        weights = self.weights
        timings: dict[str, float] = {}
        started = time.perf_counter()
        query_vector = self.embedder.embed_query(query)
        timings["embed"] = _since(started)

        step = time.perf_counter()
        allowed = snapshot.site_rows(site) if site else None
        dense = snapshot.dense_search(query_vector, weights.candidates, allowed)
        timings["dense"] = _since(step)

        step = time.perf_counter()
        terms = tuple(analyze(query if lexical_query is None else lexical_query))
        # the field's synonyms join the lexical query (« recommandations » meets « préconisations »)
        lexical = snapshot.lexical_search(expand(list(terms)), weights.candidates, site)
        timings["lexical"] = _since(step)

        step = time.perf_counter()
        cosines = dict(dense)
        missing = [row for row, _ in lexical if row not in cosines]
        if missing:  # exact cosines for lexical candidates the dense side did not return
            cosines.update(zip(missing, (snapshot.reconstruct(missing) @ query_vector).tolist(), strict=True))
        named = [] if site else sites_named(query, snapshot.sites())
        favoured = frozenset(np.intersect1d(snapshot.site_rows(named[0]), list(cosines)).tolist()) \
            if len(named) == 1 else frozenset()
        timings["gather"] = _since(step)
        return Candidates(query, terms, tuple(lexical), tuple(dense), cosines, favoured, snapshot, timings,
                          query_vector)

    def search(self, query: str, k: int = 5, site: str = "", lexical_query: str | None = None) -> SearchResult:
        """The k best passages for a query, with their stored sentences' cosines and the evidence that the corpus
        answers it."""
        started = time.perf_counter()
        candidates = self.gather(query, site, lexical_query)
        timings = dict(candidates.timings_ms)
        step = time.perf_counter()
        fused = rank(candidates, self.weights)
        # rows mean something in one version only: read them from the snapshot that produced them, even if a
        # newer version was swapped in meanwhile; copies of one text count once, so read on until k differ
        depth = 2 * k
        while True:
            passages, ranked = one_hit_per_text(candidates.snapshot.passages([row for row, _ in fused[:depth]]),
                                                fused[:depth], k)
            if len(ranked) >= k or depth >= len(fused) or depth >= 50 * k:
                break
            depth *= 2
        rows = [row for row, _ in ranked]
        lexical_ranks = {row: position for position, (row, _) in enumerate(candidates.lexical, 1)}
        dense_ranks = {row: position for position, (row, _) in enumerate(candidates.dense, 1)}
        sentences = sentences_with_cosines(candidates, rows, passages)
        hits = tuple(Hit(passages[row], score, lexical_ranks.get(row), dense_ranks.get(row), sentences.get(row, ()))
                     for row, score in ranked if row in passages)
        evidence = answer_evidence(candidates, rows, self.weights)
        confidence = answer_confidence(evidence, self.weights)
        timings["fuse"] = _since(step)
        timings["total"] = _since(started)
        found = bool(hits) and confidence >= self.weights.min_confidence
        return SearchResult(query=query, hits=hits, found=found, site=site, timings_ms=timings,
                            confidence=round(confidence, 4), evidence=evidence)


def one_hit_per_text(passages: dict[int, Passage], ranked: list[tuple[int, float]],
                     k: int) -> tuple[dict[int, Passage], list[tuple[int, float]]]:
    """The first k ranked rows whose text was not ranked above: a byte-identical document (a copy under another
    name) gives one hit, with the other documents' titles in `also_in`."""
    kept: dict[str, int] = {}
    for row, _ in ranked:
        passage = passages.get(row)
        if passage is None:
            continue
        first = kept.setdefault(passage.text, row)
        if first != row and passage.source != passages[first].source:
            original = passages[first]
            name = passage.title if passage.title != original.title else passage.source
            if name not in original.also_in:
                passages[first] = replace(original, also_in=(*original.also_in, name))
    rows = set(list(kept.values())[:k])
    return passages, [(row, score) for row, score in ranked if row in rows]


@dataclass(frozen=True)
class Candidates:
    """What each side returned for one query, before fusion."""

    query: str
    terms: tuple[str, ...]
    lexical: tuple[tuple[int, float], ...]  # (row, BM25), best first
    dense: tuple[tuple[int, float], ...]  # (row, cosine), best first
    cosines: dict[int, float]  # every candidate's cosine, lexical ones included
    favoured: frozenset[int]  # the candidates that belong to the one site the query names
    snapshot: IndexSnapshot = field(compare=False, repr=False)  # the version these rows belong to
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def sentences_with_cosines(candidates: Candidates, rows: Sequence[int],
                           passages: dict[int, Passage] | None = None) -> dict[int, tuple[SentenceSpan, ...]]:
    """The stored sentences of the passages fetched, each with its cosine to the query: a dot product per sentence
    with the vectors written at ingestion. With the `passages`, the repeated disclaimers are marked."""
    snapshot = candidates.snapshot
    if not snapshot.manifest.sentences or candidates.query_vector is None or not rows:
        return {}
    spans = snapshot.sentence_spans(rows)
    ids = [sentence for row in rows for sentence, _, _ in spans.get(row, ())]
    cosines = iter(snapshot.sentence_cosines(ids, candidates.query_vector).tolist())
    notices = snapshot.notices if passages else frozenset()

    def notice(row: int, start: int, end: int) -> bool:
        passage = passages.get(row) if notices and passages else None
        return passage is not None and sentence_key(passage.text[start:end]) in notices

    return {row: tuple(SentenceSpan(start, end, next(cosines), notice(row, start, end)) for _, start, end in spans[row])
            for row in rows if row in spans}


def rank(candidates: Candidates, weights: FusionWeights) -> list[tuple[int, float]]:
    """The fused ranking, with the site a query names favoured."""
    fused = fuse(candidates.lexical, candidates.cosines, weights)
    if candidates.favoured and weights.site_boost:
        fused = sorted(((row, round(score + weights.site_boost, 6) if row in candidates.favoured else score)
                        for row, score in fused), key=lambda item: (-item[1], item[0]))
    return fused


def _idf(document_frequency: int, total: int) -> float:
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def query_coverage(idf: dict[str, float], passage_terms: frozenset[str]) -> float:
    """Share of the query's informative weight (IDF) that a passage holds; a term the corpus lacks weighs most.

    >>> query_coverage({"anger": 1.0, "reciproc": 3.0}, frozenset({"reciproc", "engag"}))
    0.75
    """
    total = sum(idf.values())
    return sum(weight for term, weight in idf.items() if term in passage_terms) / total if total else 0.0


def answer_evidence(candidates: Candidates, ranked_rows: Sequence[int], weights: FusionWeights) -> Evidence:
    """What the top passages say of whether the corpus answers the query (see `Evidence`)."""
    snapshot = candidates.snapshot
    top = list(ranked_rows[: weights.confidence_depth])
    if not top:
        return Evidence()
    total = snapshot.manifest.passages
    idf = {term: _idf(snapshot.document_frequency(term), total) for term in set(candidates.terms)}
    # a query term is held by a passage that holds one of its synonyms
    held = [passage_terms | {term for term in idf if synonyms(term) & passage_terms}
            for passage_terms in snapshot.terms(top).values()]
    coverage = max((query_coverage(idf, terms) for terms in held), default=0.0)
    rarest = sorted(idf, key=lambda term: (-idf[term], term))[:2]
    anywhere = set().union(*held) if held else set()
    best_cosine = max(candidates.cosines.get(row, 0.0) for row in top)
    return Evidence(round(coverage, 6), weights.dense_score(best_cosine), round(best_cosine, 6),
                    candidates_standout(candidates, weights),
                    round(sum(term in anywhere for term in rarest) / len(rarest), 6) if rarest else 0.0)


def answer_confidence(evidence: Evidence, weights: FusionWeights) -> float:
    """How sure we are that the best passages answer the query; compared with `weights.min_confidence`."""
    return mix_confidence(evidence.coverage, evidence.cosine, weights, evidence.standout)


def candidates_standout(candidates: Candidates, weights: FusionWeights) -> float:
    """`standout` of the query's dense candidates, or `weights.standout_unmeasured` under 10 of them."""
    cosines = [cosine for _, cosine in candidates.dense]
    return standout(cosines) if len(cosines) >= 10 else weights.standout_unmeasured


def standout(cosines: Sequence[float]) -> float:
    """How many standard deviations the best cosine sits above the mean of the query's dense candidates: a passage
    that answers stands out; for a question the corpus does not answer, all passages are equally (un)related.
    0 when there are too few candidates to tell.

    >>> standout([0.9, 0.7, 0.7, 0.7, 0.7])
    2.0
    """
    if len(cosines) < 5:
        return 0.0
    values = np.asarray(cosines, dtype=np.float64)
    return round(float((values.max() - values.mean()) / max(values.std(), 1e-3)), 6)


def mix_confidence(coverage: float, best_cosine: float, weights: FusionWeights, standout_z: float = 0.0) -> float:
    """A linear mix of lexical coverage, the best dense score and its standout, calibrated per model on PIAF, the dev
    questions and near misses (see BENCHMARKS.md).

    >>> mix_confidence(0.8, 0.5, FusionWeights(confidence_coverage=0.5))
    0.65
    """
    mix = weights.confidence_coverage
    return round(mix * coverage + (1 - mix) * weights.dense_score(best_cosine)
                 + weights.confidence_standout * standout_z, 6)


_ARTICLES = frozenset({"le", "la", "les", "l"})


def _short_name(name: str) -> str:
    """What people call a site whose name has several words: its first word after an article (« Le Havre » →
    « havre », « Moulins Communauté » → « moulins »); a one-word or hyphenated name stays whole."""
    words = [word for word in _site_key(name).split() if word not in _ARTICLES]
    return words[0] if words and len(words[0]) >= 4 else _site_key(name)


@functools.lru_cache(maxsize=16)
def site_terms(sites: tuple[Site, ...]) -> frozenset[str]:
    """The analysed terms of every site's names and other names (« Havrais » and « Havre » meet): read once per list.

    >>> sorted(site_terms((Site("Le Havre", ("Havrais",)),)))
    ['havr']
    """
    return frozenset(term for site in sites for name in site.names for term in analyze(name))


@functools.lru_cache(maxsize=16)
def _site_names(sites: tuple[Site, ...]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """For each site, its names' keys and short names, computed once per list (a question checks them all)."""
    return tuple((site.name, tuple((_site_key(name), _short_name(name)) for name in site.names)) for site in sites)


def sites_named(text: str, sites: tuple[Site, ...]) -> list[str]:
    """Sites a question names by name, short name (« du Havre ») or other name (« les Havrais »), accents and
    hyphens aside.

    >>> sites_named("le sujet du Havre et de Moulins", (Site("Le Havre"), Site("Moulins Communauté"), Site("Arras")))
    ['Le Havre', 'Moulins Communauté']
    """
    folded = f" {_site_key(text)} "
    capitalised = {fold(word) for word in re.findall(r"\b[A-ZÀ-Ý][\w-]+", text)}

    def names_it(key: str, short: str) -> bool:
        # the short name only as a name, capitalised: « les moulins à vent » are not Moulins Communauté
        return f" {key} " in folded or (short != key and f" {short} " in folded and short in capitalised)

    return [name for name, keys in _site_names(sites) if any(names_it(key, short) for key, short in keys)]


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
