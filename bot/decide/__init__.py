"""Whether to answer: a probability fitted on data (`model.json`, `fit.py`), not a veto. See `decide`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.decide.features import Signals, feature_row
from bot.decide.model import DecisionModel, shipped_model

SURE = "sure"  # « réponse sûre »
CHECK = "check"  # « à vérifier dans le document »


@dataclass(frozen=True)
class Decision:
    answer: bool
    probability: float
    band: str  # SURE or CHECK when answered, "" when not


def decide(signals: Signals, model: DecisionModel | None = None) -> Decision:
    model = model or shipped_model()
    probability = float(model.probability(feature_row(signals)[None, :])[0])
    if probability < model.answer_at_least:
        return Decision(False, probability, "")
    return Decision(True, probability, SURE if probability >= model.sure_at_least else CHECK)


__all__ = ["CHECK", "SURE", "Decision", "Signals", "decide"]
