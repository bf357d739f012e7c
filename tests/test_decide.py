"""The fitted decision to answer (issue 21): its file and how it was made, what it reads, and what it decides on the
real sample corpus — answerable questions that name a category (« quel instrument… ») answered, near misses and
far off-topic questions refused with what the closest passages are about."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from bot import render
from bot.assistant import Assistant
from bot.decide import CHECK, SURE, Signals, decide
from bot.decide.features import FEATURES, feature_row
from bot.decide.fit import CODE, DEV
from bot.decide.model import MODEL_FILE, DecisionModel, shipped_model
from bot.evaluate import sha256_of
from bot.sentences.fit import DEFAULT_PIAF, ROOT
from bot.settings import BotSettings
from index.config import IndexSettings
from index.evaluate import comparable, read_questions
from index.types import Evidence


def test_the_shipped_decision_says_how_it_was_made_and_on_what():
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    provenance = data["provenance"]
    assert provenance["command"] == "python -m bot.decide.fit --write"
    figures = provenance["cross_validated"]
    fitted, hand = figures["fitted model"], figures["today's hand decision"]
    # the threshold was chosen at 5 % of PIAF's answerable questions refused, out of fold; the fitted decision answers
    # fewer near misses than the hand one did and than the best single signal, in the same run
    assert fitted["PIAF answerable refused"] <= 0.05
    assert fitted["PIAF near misses answered"] < hand["PIAF near misses answered"]
    assert fitted["PIAF near misses answered"] < figures["single signal: coverage"]["PIAF near misses answered"]
    assert data["thresholds"]["answer_at_least"] == pytest.approx(fitted["threshold"], abs=1e-4)
    if DEFAULT_PIAF.exists():
        assert provenance["piaf_sha256"] == sha256_of([DEFAULT_PIAF])
        assert provenance["data_sha256"] == sha256_of([DEFAULT_PIAF, *(path for path in DEV if path.exists())])
    assert provenance["code_sha256"] == sha256_of([ROOT / path for path in CODE]), \
        "readers, features or the sentence model changed since the fit: run python -m bot.decide.fit --write"


def test_the_decision_reads_its_own_features_and_refuses_other_files():
    model = shipped_model()
    assert model.features == FEATURES
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    with pytest.raises(ValueError):
        DecisionModel.from_json({**data, "features": data["features"][::-1]})
    with pytest.raises(ValueError):
        DecisionModel.from_json({**data, "thresholds": {"answer_at_least": 0.9, "sure_at_least": 0.1}})


def _signals(**changes) -> Signals:
    strong = Signals(Evidence(coverage=1.0, dense=0.6, cosine=0.9, standout=4.0, rare_held=1.0), 0.9, 0.91, 1.0, True,
                     0, False, 1, 1, 6)
    return replace(strong, **changes)


def test_more_evidence_never_lowers_the_probability_and_the_band_follows_it():
    weak = decide(_signals(evidence=Evidence(coverage=0.1, dense=0.05, cosine=0.76, standout=1.0, rare_held=0.0),
                           sentence_probability=0.01, names_held=0.0))
    strong = decide(_signals())
    assert not weak.answer and weak.band == ""
    assert strong.answer and strong.band in (SURE, CHECK) and strong.probability > weak.probability
    model = shipped_model()
    for feature in ("coverage", "dense", "rare_held", "names_held"):
        assert model.coef[FEATURES.index(feature)] > 0, feature  # what cross-validation kept has the expected sign
    row = feature_row(_signals())
    assert row.shape == (len(FEATURES),) and np.isfinite(row).all()


@pytest.fixture(scope="module")
def assistant(shipped_index, embedder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("decide")
    built = Assistant.build(BotSettings(index=IndexSettings(corpus_dir=ROOT / "corpus", index_dir=shipped_index),
                                        state_db=folder / "bot.sqlite"), embedder)
    yield built
    built.state.close()


@pytest.mark.parametrize("question, expected", [
    # a category for the thing's name: the refusals the topic-noun veto made (issue 21)
    ("Quel instrument de connaissance des quartiers Bordeaux a-t-elle créé ?", "comite d"),
    pytest.param("Qui a soutenu la recherche-action ?", "cget", marks=pytest.mark.xfail(
        strict=True, reason="answered, but the sentence model still prefers the sentence that repeats the "
                            "question's words over « le CGET l’a activement soutenue »")),
])
def test_a_question_naming_a_category_is_answered(assistant, question, expected):
    answer, _ = assistant.ask(question, record=False)
    assert answer.found, question
    assert answer.band in (SURE, CHECK)
    assert expected in comparable(render.answer_plain(answer))


def test_far_off_topic_questions_are_refused_saying_what_is_near(assistant):
    for question in ("Comment renouveler mon passeport ?", "Quelle est la recette de la tarte tatin ?",
                     "Qui a gagné la coupe du monde de football en 1998 ?"):
        answer, _ = assistant.ask(question, record=False)
        assert not answer.found, question
        assert answer.near_sites or answer.near_topics  # what the closest passages are about
        assert "Je n’ai pas trouvé" in render.answer_plain(answer)


def test_a_refusal_names_the_question_s_words_no_close_passage_holds(assistant):
    answer, _ = assistant.ask("Quel est le budget du métro de Lyon ?", record=False)
    assert not answer.found and "métro" in answer.missing
    text = render.answer_plain(answer)
    assert "aucun des passages les plus proches ne mentionne" in text and "« métro »" in text
    # no site among the closest passages: their sections say what they are about
    assert answer.near_sites or all(f"« {topic}" in text for topic in answer.near_topics[:1])


def test_no_more_than_the_measured_share_of_dev_near_misses_is_answered(assistant):
    """The kind the decision cannot tell (the subject is in the documents, not the fact asked: « le budget du CCAS
    d’Angers »): measured, not tuned away — the fit answers 3 of these 8 (README, « Whether to answer »)."""
    questions = [q for path in DEV if path.exists() for q in read_questions(path) if not q.answerable]
    if not questions:
        pytest.skip("the shared dev files are not here")
    answered = [question.text for question in questions if assistant.ask(question.text, record=False)[0].found]
    assert len(answered) <= 3, answered
