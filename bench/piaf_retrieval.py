"""Retrieval quality on PIAF and on the study corpus, against a plain French BM25 measured in the same run.

    .venv/bin/python -m bench.piaf_retrieval [PIAF_FILE] [--tune]

1. PIAF (default ../shared/eval/piaf-dev.json): every paragraph becomes a Markdown document (its article title as
   heading), ingested by the real pipeline; its questions are the queries. A hit is a passage from the question's
   paragraph or holding its answer text. Compared: BM25 alone (title, section and body, no vectors), the dense side
   alone, and the hybrid search as configured (`FusionWeights()`).
2. The study corpus (corpus/): the dev questions (tests/data/corpus-questions-dev.jsonl) must be answered in the top
   5 when answerable and refused otherwise; the PIAF questions, all off-topic there, must be refused.

`--tune` also prints the grids that chose the fusion weights and the no-answer threshold.
Each query is embedded once; the rankings of every variant are computed from the same candidates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.assistant import Assistant
from bot.settings import BotSettings
from bot.state import BotState
from index.config import IndexSettings, index_settings_from_env
from index.embedder import make_embedder
from index.evaluate import Outcome, Question, Scores, answer_rank, read_questions, score, squad_questions
from index.retriever import (
    Candidates,
    FusionWeights,
    Retriever,
    answer_confidence,
    answer_evidence,
    mix_confidence,
    rank,
    weights_for_model,
)
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PIAF = ROOT.parent / "shared" / "eval" / "piaf-dev.json"
DEV_QUESTIONS = ROOT / "tests" / "data" / "corpus-questions-dev.jsonl"
DEV_ANSWERS = ROOT / "tests" / "data" / "answers-dev.jsonl"  # its near misses (found: false) join the calibration
K = 5


def piaf_corpus(piaf: Path, corpus_dir: Path) -> int:
    """Write one Markdown document per PIAF paragraph; returns how many."""
    data = json.loads(piaf.read_text(encoding="utf-8"))["data"]
    number = 0
    for article in data:
        for paragraph in article["paragraphs"]:
            (corpus_dir / _source(number)).write_text(f"# {article['title']}\n\n{paragraph['context']}\n",
                                                      encoding="utf-8")
            number += 1
    return number


def _source(number: int) -> str:
    return f"piaf-{number:04d}.md"


def gather_all(retriever: Retriever, questions: Sequence[Question]) -> list[Candidates]:
    return [retriever.gather(question.text) for question in questions]


def lexical_only(retriever: Retriever, candidates: Candidates) -> Candidates:
    """The plain BM25 baseline (title, section and body terms), no vectors."""
    lexical = retriever.snapshot.lexical_search(list(candidates.terms), 100)
    return replace(candidates, lexical=tuple(lexical), dense=(), cosines={}, favoured=frozenset())


def evaluate(retriever: Retriever, questions: Sequence[Question], gathered: Sequence[Candidates],
             weights: FusionWeights) -> Scores:
    outcomes = []
    for question, candidates in zip(questions, gathered, strict=True):
        ranked = [row for row, _ in rank(candidates, weights)[:10]]
        rank_of_answer = None
        if question.answerable:
            passages = retriever.snapshot.passages(ranked)
            rank_of_answer = answer_rank(question, [passages[row] for row in ranked])
        confidence = answer_confidence(answer_evidence(candidates, ranked[:K], weights), weights)
        outcomes.append(Outcome(question, rank_of_answer, confidence >= weights.min_confidence, confidence))
    return score(outcomes, K)


def _line(name: str, scores: Scores, refusals: bool = True) -> str:
    line = f"  {name:<28} hit@1 {scores.hit_at_1:.3f}  hit@5 {scores.hit_at_k:.3f}  MRR@10 {scores.mrr_at_10:.3f}"
    return line + (f"  refused wrongly {scores.wrongly_refused:.3f}" if refusals else "")


def tune(retriever: Retriever, questions: Sequence[Question], gathered: Sequence[Candidates],
         configured: FusionWeights) -> None:
    print("fusion grid on PIAF (cosine floor, lexical weight; dense = 1 - lexical):")
    for floor in (0.0, 0.6, 0.7, 0.75):
        for lexical in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
            weights = replace(configured, lexical=lexical, dense=round(1 - lexical, 2), cosine_floor=floor)
            print(_line(f"floor {floor:.2f} lexical {lexical:.2f}",
                        evaluate(retriever, questions, gathered, weights), refusals=False))


def confidence_parts(retriever: Retriever, gathered: Sequence[Candidates],
                     weights: FusionWeights) -> list[tuple[float, float, float]]:
    """(lexical coverage, best cosine, standout) of each query's top passages: the inputs of the no-answer decision."""
    parts = []
    for candidates in gathered:
        ranked = [row for row, _ in rank(candidates, weights)[:K]]
        evidence = answer_evidence(candidates, ranked, weights)
        parts.append((evidence.coverage, evidence.cosine, evidence.standout))
    return parts


def calibrate(sets: dict[str, tuple[Retriever, Sequence[Question], Sequence[Candidates]]],
              weights: FusionWeights) -> None:
    """Error rates of the no-answer decision for a grid of (coverage share, standout weight, threshold); fusion and
    cosine floor stay as configured. Sets: piaf (answerable against PIAF), off (PIAF against the study), dev (the
    dev questions, answerable and not), near (near misses: the study's topics, facts the corpus does not hold).
    Printed: the 15 points that keep PIAF off-topic answers at or under 5 % and dev answerable refusals at or under
    5 %, best first (fewest PIAF answerable refused, then near misses answered), and the configured point."""
    parts = {name: (questions, confidence_parts(retriever, gathered, weights))
             for name, (retriever, questions, gathered) in sets.items()}

    def share(name: str, mix: float, lift: float, threshold: float, answerable: bool) -> float:
        questions, values = parts[name]
        trial = replace(weights, confidence_coverage=mix, confidence_standout=lift)
        decided = [mix_confidence(coverage, cosine, trial, z) >= threshold
                   for question, (coverage, cosine, z) in zip(questions, values, strict=True)
                   if question.answerable == answerable]
        wrong = [not answered for answered in decided] if answerable else decided
        return round(sum(wrong) / len(wrong), 3) if wrong else 0.0

    def row(mix: float, lift: float, threshold: float) -> tuple[float, ...]:
        return (share("piaf", mix, lift, threshold, True), share("off", mix, lift, threshold, False),
                share("dev", mix, lift, threshold, True), share("dev", mix, lift, threshold, False),
                share("near", mix, lift, threshold, False))

    print("no-answer grid (coverage share, standout weight, threshold): PIAF answerable refused | PIAF off-topic "
          "answered | dev answerable refused | dev off-topic answered | near misses answered")
    rows = [((mix, lift, step / 100), row(mix, lift, step / 100))
            for mix in (0.2, 0.3, 0.4, 0.5, 0.6) for lift in (0.0, 0.05, 0.1, 0.15) for step in range(30, 100, 2)]
    admissible = [(key, figures) for key, figures in rows if figures[1] <= 0.05 and figures[2] <= 0.05]
    admissible.sort(key=lambda item: (item[1][0] + 0.3 * item[1][4], item[1][1]))
    for (mix, lift, threshold), figures in admissible[:15]:
        print(f"  {mix:.2f} {lift:.2f} {threshold:.2f}: " + " | ".join(f"{value:.3f}" for value in figures))
    configured = row(weights.confidence_coverage, weights.confidence_standout, weights.min_confidence)
    print(f"  configured ({weights.confidence_coverage:.2f} {weights.confidence_standout:.2f} "
          f"{weights.min_confidence:.2f}): " + " | ".join(f"{value:.3f}" for value in configured))


def answered_share(retriever: Retriever, questions: Sequence[Question], work: Path) -> float:
    """Share of questions the assistant answers, through `Assistant.ask` as `vve ask` does: the question read
    (typos, inhabitants…), retrieval's decision, then the answer's own (what is asked for, the question's topics)."""
    state = work / f"state-{time.time_ns()}.sqlite"
    settings = BotSettings(index=IndexSettings(index_dir=retriever.index_dir), state_db=state)
    assistant = Assistant(settings, retriever.embedder, retriever, BotState(state))
    answered = [assistant.ask(question.text, record=False)[0].found for question in questions]
    assistant.state.close()
    return sum(answered) / len(answered) if answered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("piaf", nargs="?", type=Path, default=DEFAULT_PIAF)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--answers", action="store_true",
                        help="also the refusals of the answer layer (bot/answer.py), PIAF and off-topic")
    args = parser.parse_args(argv)
    settings = index_settings_from_env()
    embedder = make_embedder(settings)
    weights = weights_for_model(embedder.name) or FusionWeights()
    print(f"model: {embedder.name}; weights: {weights}")
    with tempfile.TemporaryDirectory() as work:
        corpus_dir, index_dir = Path(work) / "piaf", Path(work) / "piaf-index"
        corpus_dir.mkdir()
        paragraphs = piaf_corpus(args.piaf, corpus_dir)
        started = time.perf_counter()
        report = ingest(replace(settings, corpus_dir=corpus_dir, index_dir=index_dir), embedder)
        print(f"PIAF: {paragraphs} paragraphs -> {report.passages} passages (ingested in "
              f"{time.perf_counter() - started:.0f} s)")
        questions = squad_questions(args.piaf, _source)
        retriever = Retriever(index_dir, embedder, weights)
        started = time.perf_counter()
        gathered = gather_all(retriever, questions)
        print(f"{len(questions)} questions, candidates gathered in {time.perf_counter() - started:.0f} s")
        baseline = [lexical_only(retriever, candidates) for candidates in gathered]
        bm25 = evaluate(retriever, questions, baseline, replace(weights, lexical=1.0, dense=0.0))
        dense = evaluate(retriever, questions, gathered, replace(weights, lexical=0.0, dense=1.0, site_boost=0.0))
        hybrid = evaluate(retriever, questions, gathered, weights)
        print(_line("BM25 baseline (no vectors)", bm25, refusals=False))
        print(_line("dense only", dense, refusals=False))
        print(_line("hybrid (configured)", hybrid))
        print(f"  hybrid vs baseline: hit@1 {hybrid.hit_at_1 - bm25.hit_at_1:+.3f}, hit@5 "
              f"{hybrid.hit_at_k - bm25.hit_at_k:+.3f}, MRR@10 {hybrid.mrr_at_10 - bm25.mrr_at_10:+.3f}"
              f" (targets: hit@5 >= 0.92, MRR@10 >= 0.84, hit@1 not below the baseline)")
        if args.tune:
            tune(retriever, questions, gathered, weights)

        study_index = Path(work) / "study-index"
        ingest(replace(settings, corpus_dir=ROOT / "corpus", index_dir=study_index), embedder)
        study = Retriever(study_index, embedder, weights)
        dev = read_questions(DEV_QUESTIONS)
        near = [question for question in read_questions(DEV_ANSWERS) if not question.answerable]
        dev_gathered = gather_all(study, dev)
        off_topic = [replace(question, answerable=False, source="") for question in questions]
        off_gathered = gather_all(study, off_topic)
        dev_scores = evaluate(study, dev, dev_gathered, weights)
        off_scores = evaluate(study, off_topic, off_gathered, weights)
        print(f"study corpus, dev questions: {dev_scores.answerable} answerable, hit@5 {dev_scores.hit_at_k:.3f}, "
              f"refused wrongly {dev_scores.wrongly_refused:.3f}; {dev_scores.off_topic} off-topic, answered "
              f"wrongly {dev_scores.wrongly_answered:.3f}")
        print(f"study corpus, {off_scores.off_topic} PIAF questions (off-topic): answered wrongly "
              f"{off_scores.wrongly_answered:.3f} (goal: at most 0.05)")
        near_gathered = gather_all(study, near)
        near_scores = evaluate(study, near, near_gathered, weights)
        print(f"study corpus, {near_scores.off_topic} near misses: answered wrongly {near_scores.wrongly_answered:.3f}")
        if args.answers:
            print(f"answers (retrieval then answer checks): PIAF answerable refused "
                  f"{1 - answered_share(retriever, questions, Path(work)):.3f}; PIAF against the study answered "
                  f"{answered_share(study, off_topic, Path(work)):.3f}")
        if args.tune:
            calibrate({"piaf": (retriever, questions, gathered), "off": (study, off_topic, off_gathered),
                       "dev": (study, dev, dev_gathered), "near": (study, near, near_gathered)}, weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())
