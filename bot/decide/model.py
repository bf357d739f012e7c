"""The fitted decision: P(the documents answer the question) from `features.FEATURES` (`bot.fitted`), read from
`model.json`, with the two thresholds cross-validation chose: under `answer_at_least` the reader is told the
documents do not answer; from `sure_at_least` the answer is shown as « réponse sûre », between the two as « à vérifier
dans le document ». How it was made and what it scored: `model.json`'s provenance, `fit.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.decide.features import FEATURES
from bot.fitted import LogisticModel

MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class DecisionModel(LogisticModel):
    answer_at_least: float = 0.5
    sure_at_least: float = 0.9

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecisionModel:
        thresholds = data.get("thresholds", {})
        answer_at, sure_at = float(thresholds.get("answer_at_least", 0.5)), float(thresholds.get("sure_at_least", 0.9))
        if not 0.0 <= answer_at <= sure_at <= 1.0:
            raise ValueError("model.json: thresholds out of order")
        return cls(**cls.arrays_from_json(data, FEATURES, "python -m bot.decide.fit --write"),
                   answer_at_least=answer_at, sure_at_least=sure_at)


@cache
def shipped_model() -> DecisionModel:
    return DecisionModel.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
