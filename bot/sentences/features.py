"""Features of a candidate sentence for a question: signals that do not depend on the corpus's size (shares, ranks,
scores relative to the question's best), so that a model fitted on PIAF serves a corpus of a few hundred passages.

Pure: the candidates and what the answer stage already computed about them (`bot.answer._Scorer`) in, a matrix out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from index.lexical import analyze

FEATURES = (
    "overlap_share",  # the question's IDF weight the sentence holds, over all the weight the candidates hold
    "overlap_to_best",  # the same, over the best candidate's
    "context_to_best",  # counting, at half weight, the question's words its passage holds around it
    "rule_to_best",  # the hand-written score (lexical + type bonus - rank), over the best candidate's
    "passage_rank",  # 0 for the best passage
    "passage_score_to_best",  # the passage's fused score over the best passage's
    "position",  # the sentence's place in its passage (capped)
    "first_in_passage",
    "typed",  # holds what the question asks for (a date, a figure, a person, a place) next to its subject
    "asks_type",  # the question asks for one of those
    "typed_when_asked",
    "bigram_share",  # the question's consecutive word pairs found in the sentence
    "names_held",  # the question's capitalised names are all in the sentence
    "leans_back",  # starts with a pronoun or « ce/cette … »: it continues the sentence before
    "listing",  # an enumeration (; or , many times)
    "log_length",
    "cosine",  # the sentence's vector against the question's (0 when the index has no sentence vectors)
    "cosine_to_best",  # minus the best candidate's
    "has_cosine",
)
LEANS_BACK = re.compile(r"^(?:il|elle|ils|elles|ce|cet|cette|ces|celui|celle|ceux|celles|cela|ceci|ça|lui|leur|"
                         r"son|sa|ses|leurs|en effet|de plus|ainsi|toutefois|cependant)\b", re.IGNORECASE)


class Candidate(Protocol):
    text: str
    passage_index: int
    position: int
    terms: frozenset[str]


def _bigrams(terms: Sequence[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(terms))


def feature_matrix(question: str, candidates: Sequence[Any], scorer: Any, passage_scores: Sequence[float],
                   cosines: np.ndarray | None = None) -> np.ndarray:
    """One row of FEATURES per candidate (float32). `scorer`: the answer stage's `_Scorer` for these candidates;
    `passage_scores`: the fused score of each passage the candidates come from, best first; `cosines`: each
    candidate's cosine to the question, when the index holds sentence vectors."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    overlaps = [scorer.overlap(c) for c in candidates]
    contexts = [scorer.in_context(c) for c in candidates]
    rules = [scorer.score(c) for c in candidates]
    total_weight = sum(scorer.weight.values()) or 1.0
    best_overlap, best_context = max(overlaps) or 1.0, max(contexts) or 1.0
    best_rule = max(rules)
    worst_rule = min(rules)
    question_bigrams = _bigrams(analyze(question))
    top_score = passage_scores[0] if passage_scores and passage_scores[0] > 0 else 1.0
    asks_type = float(scorer.kind in ("figure", "date", "person", "place"))
    has_cosine = cosines is not None and len(cosines) == len(candidates)
    cosine_of = np.asarray(cosines, dtype=np.float64) if has_cosine else np.zeros(len(candidates))
    best_cosine = float(cosine_of.max())
    rows = []
    for candidate, overlap, context, rule, cosine in zip(candidates, overlaps, contexts, rules, cosine_of,
                                                         strict=True):
        typed = float(scorer.typed(candidate)) if asks_type else 0.0
        bigrams = _bigrams(analyze(candidate.text)) if question_bigrams else set()
        index = candidate.passage_index
        rows.append((
            overlap / total_weight,
            overlap / best_overlap,
            context / best_context,
            (rule - worst_rule) / (best_rule - worst_rule) if best_rule > worst_rule else 1.0,
            float(index),
            passage_scores[index] / top_score if index < len(passage_scores) else 0.0,
            float(min(candidate.position, 6)),
            float(candidate.position == 0),
            typed,
            asks_type,
            typed * asks_type,
            len(question_bigrams & bigrams) / len(question_bigrams) if question_bigrams else 0.0,
            float(bool(scorer.names) and scorer.names <= candidate.terms),
            float(bool(LEANS_BACK.match(candidate.text))),
            float(candidate.text.count(";") >= 3 or candidate.text.count(",") >= 8),
            math.log(1 + len(candidate.text)),
            float(cosine),
            float(cosine) - best_cosine,
            float(has_cosine),
        ))
    return np.asarray(rows, dtype=np.float32)
