"""Features of a whole question's reading, for the decision to answer or to say « not in the documents »: signals
that do not depend on the corpus's size (shares, rescaled cosines, ranks), so that a decision fitted on PIAF serves a
corpus of a few hundred passages. The former hand vetoes (a topic noun no passage holds, a figure or a date asked
for and none given) are features here: the fit weighs them.

Pure: what the retriever and the sentence stage measured in, one row out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from index.types import Evidence

FEATURES = (
    "coverage",  # the question's IDF weight held by the best of the top 3 passages
    "dense",  # the best top passage's cosine, rescaled from the model's floor
    "standout",  # how far that cosine stands above the other candidates' (capped)
    "rare_held",  # share of the question's two rarest terms the top passages hold
    "sentence_probability",  # the sentence model's best probability among the candidates
    "sentence_gain",  # the best sentence's cosine minus the best passage's
    "has_sentence_cosine",
    "names_held",  # share of the question's capitalised names the top passages hold (1 when it gives none)
    "gives_names",
    "topics_missing",  # topic nouns (after a determiner) no top passage holds, not even by root or synonym (capped)
    "type_missing",  # a figure or a date asked for, none next to the question's subject
    "top_agrees",  # the best passage is first on both sides (words and meaning)
    "top_dense_rank",  # 1 / its rank on the dense side (0 when absent)
    "log_terms",  # the question's length in terms
)


@dataclass(frozen=True)
class Signals:
    evidence: Evidence
    sentence_probability: float
    sentence_cosine: float | None  # the best candidate sentence's cosine, when the index holds sentence vectors
    names_held: float
    gives_names: bool
    topics_missing: int
    type_missing: bool
    top_lexical_rank: int | None
    top_dense_rank: int | None
    terms: int


def feature_row(signals: Signals) -> np.ndarray:
    """One row of FEATURES."""
    evidence = signals.evidence
    gain = signals.sentence_cosine - evidence.cosine if signals.sentence_cosine is not None else 0.0
    return np.asarray([
        evidence.coverage,
        evidence.dense,
        min(evidence.standout, 8.0),
        evidence.rare_held,
        signals.sentence_probability,
        gain,
        float(signals.sentence_cosine is not None),
        signals.names_held,
        float(signals.gives_names),
        float(min(signals.topics_missing, 2)),
        float(signals.type_missing),
        float(signals.top_lexical_rank == 1 and signals.top_dense_rank == 1),
        1.0 / signals.top_dense_rank if signals.top_dense_rank else 0.0,
        math.log(1 + signals.terms),
    ], dtype=np.float64)
