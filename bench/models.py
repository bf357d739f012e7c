"""The packaged embedding models side by side, in one run: what chose the default (BENCHMARKS.md).

    .venv/bin/python -m bench.models [PIAF_FILE] [--questions N]

For each model: start-up (a fresh process that imports the project, loads the model and embeds one query), PIAF
retrieval (dense alone and hybrid at the model's measured weights: hit@1, hit@5, MRR@10), ingestion passages/s (the
PIAF paragraphs through the whole pipeline), search p50 (one question at a time, in process), and the dev answers
judged on their text (`vve eval --answers` on both dev files).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.piaf_retrieval import (
    DEFAULT_PIAF,
    DEV_ANSWERS,
    DEV_QUESTIONS,
    ROOT,
    _source,
    evaluate,
    gather_all,
    piaf_corpus,
)
from bot.assistant import Assistant
from bot.evaluate import judge_answers, score_answers
from bot.settings import BotSettings
from index.config import MULTILINGUAL_MODEL, PACKAGED_MODEL, index_settings_from_env
from index.embedder import make_embedder
from index.evaluate import read_questions, squad_questions
from index.retriever import FusionWeights, Retriever, weights_for_model
from ingest.build import ingest

STARTUP = ("import time; started = time.perf_counter()\n"
           "from index.config import index_settings_from_env\n"
           "from index.embedder import make_embedder\n"
           "make_embedder(index_settings_from_env()).embed_query('cohésion sociale')\n"
           "print(time.perf_counter() - started)\n")


def startup_seconds(model: str) -> float:
    """Wall time of a fresh process: interpreter, imports, model load, one query."""
    env = {"EMBEDDING_MODEL": model, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", STARTUP], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(model: str, piaf: Path, limit: int, work: Path) -> dict[str, str]:
    settings = replace(index_settings_from_env(), embedding_model=model, model_chosen=True)
    embedder = make_embedder(settings)
    embedder.embed_query("échauffement")
    weights = weights_for_model(model) or FusionWeights()
    corpus_dir, index_dir = work / f"piaf-{len(model)}", work / f"piaf-index-{len(model)}"
    corpus_dir.mkdir()
    piaf_corpus(piaf, corpus_dir)
    started = time.perf_counter()
    report = ingest(replace(settings, corpus_dir=corpus_dir, index_dir=index_dir), embedder)
    ingest_seconds = time.perf_counter() - started
    questions = squad_questions(piaf, _source)[:limit]
    retriever = Retriever(index_dir, embedder, weights)
    gathered = gather_all(retriever, questions)
    dense = evaluate(retriever, questions, gathered, replace(weights, lexical=0.0, dense=1.0, site_boost=0.0))
    hybrid = evaluate(retriever, questions, gathered, weights)
    timings = []
    for question in questions[:200]:
        started = time.perf_counter()
        retriever.search(question.text, k=10)
        timings.append((time.perf_counter() - started) * 1000)

    study = replace(settings, corpus_dir=ROOT / "corpus", index_dir=work / f"study-{len(model)}")
    ingest(study, embedder)
    assistant = Assistant.build(BotSettings(index=study, state_db=work / f"state-{len(model)}.sqlite"), embedder)
    outcomes = judge_answers(assistant, read_questions(DEV_ANSWERS) + read_questions(DEV_QUESTIONS))
    answers = score_answers(outcomes)
    assistant.state.close()
    return {
        "model": model,
        "dense alone hit@1 / hit@5 / MRR@10": f"{dense.hit_at_1:.3f} / {dense.hit_at_k:.3f} / {dense.mrr_at_10:.3f}",
        "hybrid hit@1 / hit@5 / MRR@10": f"{hybrid.hit_at_1:.3f} / {hybrid.hit_at_k:.3f} / {hybrid.mrr_at_10:.3f}",
        "dev answers: fact held / refused wrongly / near misses refused":
            f"{answers.holds_fact:.1%} / {answers.wrongly_refused:.1%} / {answers.refused_off_topic:.1%}",
        "ingestion passages/s": f"{report.passages / ingest_seconds:.1f}",
        "search p50 ms": f"{statistics.median(timings):.1f}",
        "start-up s": f"{startup_seconds(model):.2f}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("piaf", nargs="?", type=Path, default=DEFAULT_PIAF)
    parser.add_argument("--questions", type=int, default=100_000, help="PIAF questions used (default: all)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for model in (MULTILINGUAL_MODEL, PACKAGED_MODEL):
            rows.append(measure(model, args.piaf, args.questions, Path(work)))
            print(rows[-1], flush=True)
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(row[header] for header in headers) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
