"""The fitted sentence model: a logistic regression over `features.FEATURES`, read from `model.json` (no pickle) and
evaluated with numpy; the library that fitted it (scikit-learn) is not imported at run time.

`model.json` records how it was made: the fitting command, the checksum of its data and of the reading and
features code, and its cross-validated figures against the baselines (see `fit.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.sentences.features import FEATURES

MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class SentenceModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    provenance: dict[str, Any]
    second_share_of_best: float = 0.0  # a second sentence is quoted when its probability is this share of the best's
    second_at_least: float = 0.0  # and at least this (chosen by cross-validation, see fit.py)

    def quotes_second(self, best: float, second: float) -> bool:
        return second >= self.second_share_of_best * best and second >= self.second_at_least

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceModel:
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError(f"model fitted on other features ({features}); refit: python -m bot.sentences.fit")
        mean, scale, coef = (np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef"))
        if any(array.shape != (len(features),) or not np.isfinite(array).all() for array in (mean, scale, coef)):
            raise ValueError("model.json: arrays of the wrong shape or not finite")
        second = data.get("second_sentence", {})
        return cls(features, mean, scale, coef, float(data["intercept"]), dict(data.get("provenance", {})),
                   float(second.get("share_of_best", 0.0)), float(second.get("at_least", 0.0)))

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(the sentence holds the answer) for each row of features."""
        logits = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


@cache
def shipped_model() -> SentenceModel:
    return SentenceModel.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
