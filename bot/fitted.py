"""A fitted logistic regression as data: read from JSON (no pickle), evaluated with numpy. The library that fits it
(scikit-learn, the `[fit]` extra) is imported only by the fitting commands, never at run time.

Used by the answer stage's two fitted models: which sentence answers (`bot.sentences`) and whether to answer at all
(`bot.decide`); each keeps its JSON file and its fitting command side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    provenance: dict[str, Any]

    @staticmethod
    def arrays_from_json(data: dict[str, Any], expected: tuple[str, ...], refit: str) -> dict[str, Any]:
        """The logistic part of a model file, checked: the features it was fitted on, finite arrays of their size."""
        features = tuple(data["features"])
        if features != expected:
            raise ValueError(f"model fitted on other features ({features}); refit: {refit}")
        mean, scale, coef = (np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef"))
        if any(array.shape != (len(features),) or not np.isfinite(array).all() for array in (mean, scale, coef)):
            raise ValueError("model file: arrays of the wrong shape or not finite")
        intercept = float(data["intercept"])
        if not np.isfinite(intercept):
            raise ValueError("model file: intercept not finite")
        return {"features": features, "mean": mean, "scale": scale, "coef": coef, "intercept": intercept,
                "provenance": dict(data.get("provenance", {}))}

    def as_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(positive) for each row of features."""
        logits = ((np.asarray(rows, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


def fit_logistic(rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...],
                 weights: np.ndarray | None = None) -> LogisticModel:
    """Standardise, then fit scikit-learn's logistic regression (imported here only: the `[fit]` extra)."""
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=1.0, max_iter=2000).fit((rows - mean) / scale, labels, sample_weight=weights)
    return LogisticModel(features, mean.astype(np.float64), scale.astype(np.float64),
                         fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0]), {})
