"""What the fitted answer stage costs a question (issue 21), against the hand rules it replaced, in the same run.

    .venv/bin/python -m bench.answer_stage [--rounds 5]

On the sample corpus's index (built if needed under var/bench-answer), every dev question is searched once; then,
for the same search results, the sentence choice is timed both ways: the fitted model (features + model, as
`compose` runs it) and the former hand rules (`hand_choice`); the fitted decision to answer and the topic-noun veto
it replaced. Printed: the median time of each per question, and the time of a whole question in process
(`Assistant.ask`) with the fitted models, against the same minus the model's choice, the reading of the stored
sentences and the decision, plus the hand rules' and the veto's (what a question cost before).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bot import answer as answer_stage
from bot.assistant import ANSWER_DEPTH, Assistant
from bot.decide import decide
from bot.settings import BotSettings
from index.config import IndexSettings
from index.embedder import make_embedder
from index.retriever import sentences_with_cosines
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "answers-dev.jsonl"


def _per_question(work: list, rounds: int) -> float:
    """Median over rounds of the mean seconds per item."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in work:
            item()
        timings.append((time.perf_counter() - started) / len(work))
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args(argv)
    settings = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=ROOT / "var" / "bench-answer")
    embedder = make_embedder(settings)
    ingest(settings, embedder)
    assistant = Assistant.build(BotSettings(index=settings, state_db=ROOT / "var" / "bench-answer.sqlite"), embedder)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    results = [assistant.retriever.search(question, k=ANSWER_DEPTH) for question in questions]
    depth = answer_stage.PASSAGES_CONSIDERED
    inputs = []
    for question, result in zip(questions, results, strict=True):
        passages = [hit.passage for hit in result.hits]
        stored = [hit.sentences for hit in result.hits]
        sentences = answer_stage._sentences(passages[:depth], stored[:depth])
        if sentences:
            kind = answer_stage.answer_kind(question)
            inputs.append((question, sentences, kind, [hit.score for hit in result.hits]))

    def by_model(item: tuple) -> None:
        question, sentences, kind, scores = item
        scorer = answer_stage._Scorer(question, sentences, kind, ())
        answer_stage._by_model(question, sentences, scorer,
                               answer_stage.sentence_probabilities(question, sentences, scorer, scores))

    def by_hand(item: tuple) -> None:
        question, sentences, kind, _ = item
        answer_stage.hand_choice(question, sentences, answer_stage._Scorer(question, sentences, kind, ()))

    for question in questions[:3]:  # warm: model, caches
        assistant.ask(question, record=False)
    model_seconds = _per_question([lambda item=item: by_model(item) for item in inputs], options.rounds)
    hand_seconds = _per_question([lambda item=item: by_hand(item) for item in inputs], options.rounds)
    gathered = [assistant.retriever.gather(question) for question in questions]
    rows = [[hit.passage.row for hit in result.hits] for result in results]
    fetch_seconds = _per_question([lambda c=c, r=r: sentences_with_cosines(c, r) for c, r in zip(gathered, rows,
                                                                                                strict=True)],
                                  options.rounds)
    ask_seconds = _per_question([lambda q=q: assistant.ask(q, record=False) for q in questions], options.rounds)
    # the fitted decision (its signals: the sentence model on the candidates, the former vetoes as features, and the
    # logistic model) against what decided before: the topic-noun veto alone
    sites = assistant.retriever.snapshot.sites()
    known = assistant.retriever.snapshot.vocabulary.__contains__
    decide_seconds = _per_question([lambda r=r: decide(answer_stage.decision_signals(r, sites, known)[0])
                                    for r in results], options.rounds)
    veto_seconds = _per_question([lambda r=r: answer_stage.missing_topics(
        r.query, [hit.passage for hit in r.hits][:answer_stage.TOPIC_DEPTH], sites, known) for r in results],
        options.rounds)
    before = ask_seconds - model_seconds - fetch_seconds + hand_seconds - decide_seconds + veto_seconds
    print(f"{len(questions)} dev questions, {len(inputs)} with candidates, median of {options.rounds} rounds")
    print(f"  sentence choice: model {model_seconds * 1000:.2f} ms, hand rules {hand_seconds * 1000:.2f} ms "
          f"per question ({model_seconds / hand_seconds:.2f}×); stored sentences and their cosines read: "
          f"{fetch_seconds * 1000:.2f} ms")
    print(f"  whether to answer: fitted decision {decide_seconds * 1000:.2f} ms, the topic-noun veto before it "
          f"{veto_seconds * 1000:.2f} ms per question")
    print(f"  a whole question in process: {ask_seconds * 1000:.1f} ms with the fitted models, "
          f"{before * 1000:.1f} ms with the hand rules and veto instead: {ask_seconds / before:.3f}× (goal ≤ 1.3×)")
    assistant.state.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
