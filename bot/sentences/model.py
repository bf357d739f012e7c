"""The fitted sentence model: a logistic regression over `features.FEATURES` (`bot.fitted`), read from `model.json`
and evaluated with numpy, plus the rule for quoting a second sentence that cross-validation chose.

`model.json` records how it was made: the fitting command, the checksum of its data and of the reading and
features code, and its cross-validated figures against the baselines (see `fit.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.fitted import LogisticModel
from bot.sentences.features import FEATURES

MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class SentenceModel(LogisticModel):
    second_share_of_best: float = 0.0  # a second sentence is quoted when its probability is this share of the best's
    second_at_least: float = 0.0  # and at least this (chosen by cross-validation, see fit.py)
    context: bool = False  # quotes bring what makes them stand on their own (bot.answer.with_context)
    typed_when_missing: bool = False  # a figure or date asked for and not in the quotes: the likeliest that has one

    def quotes_second(self, best: float, second: float) -> bool:
        return second >= self.second_share_of_best * best and second >= self.second_at_least

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceModel:
        second = data.get("second_sentence", {})
        return cls(**cls.arrays_from_json(data, FEATURES, "python -m bot.sentences.fit --write"),
                   second_share_of_best=float(second.get("share_of_best", 0.0)),
                   second_at_least=float(second.get("at_least", 0.0)), context=bool(data.get("context", False)),
                   typed_when_missing=bool(data.get("typed_when_missing", False)))


@cache
def shipped_model() -> SentenceModel:
    return SentenceModel.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
