"""Fit the decision to answer, cross-validated by article, against today's hand decision and single signals, in one run.

    .venv/bin/pip install -e '.[fit]'            # scikit-learn (only here: never imported at run time)
    .venv/bin/python -m bot.decide.fit [PIAF_FILE] [--write]

Positives: every PIAF question asked of the index of all PIAF paragraphs (`bot.sentences.fit`'s, cached under
var/fit/), and the dev files' answerable questions asked of the sample corpus. Negatives (near misses: the right
output is « not in the documents »): every PIAF question asked of an index without its own article (the articles are
cut into 5 groups, one index per group, made from the full one by incremental ingestion), and the dev files'
`found: false` questions. Each question goes through the assistant's own path (`Assistant.read`, then
`bot.answer.decision_signals`).

Printed, from out-of-fold probabilities (5 folds grouped by article; a dev question is a group of its own): at the
threshold that refuses at most 5 % of PIAF's answerable questions, the share of near misses answered, for the fitted
model, the model without the sentence stage's signals, without the former vetoes, and single signals; today's hand
decision (the retriever's threshold, the topic-noun and missing-figure vetoes) as it stands; the same threshold on the
dev files. The « réponse sûre » band starts where, out of fold, at least SURE_PRECISION of PIAF answers at or above it
hold the gold answer (near misses counting as wrong) and at most SURE_FACT_MISSES of the fact misses reach it.
`--write` refits on everything and writes `model.json` with both thresholds, its provenance (this command, the
checksums of the data and of the code the features depend on) and the cross-validated figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer import decision_signals, select_sentences
from bot.assistant import Assistant
from bot.decide.features import FEATURES, feature_row
from bot.decide.model import MODEL_FILE
from bot.evaluate import holds_gold, missing_groups, sha256_of
from bot.fitted import fit_logistic
from bot.sentences.fit import CODE as READING_CODE
from bot.sentences.fit import DEFAULT_PIAF, ROOT, build_index
from bot.settings import BotSettings
from index.config import IndexSettings
from index.embedder import Embedder, make_embedder
from index.evaluate import Question, comparable, read_questions
from ingest.build import ingest

DEV = tuple(ROOT.parent / "shared" / "eval" / name for name in ("answers-dev.jsonl", "corpus-questions-dev.jsonl"))
GROUPS = 5  # near-miss indexes: the articles of group g are left out of index g
FOLDS = 5
REFUSED_AT_MOST = 0.05  # answerable questions refused
SURE_PRECISION = 0.85
SURE_FACT_MISSES = 0.05
# the fact misses are reported, not fitted: these signals cannot tell them (at weight 1 or 0.3 the fit still answered
# 60 % of them, as the hand decision did, and answered more of the other near misses: 23-24 % against 20 %)
FACT_MISS_WEIGHT = 0.0
# what the model's inputs are defined by: the readers and splitter, its features, the sentence model whose
# probability is one of them (a change means a refit: a test checks this checksum)
CODE = (*READING_CODE, "bot/decide/features.py", "bot/sentences/model.json")
# what the rows are computed by, beyond that: a change means new rows (the cache's key), not necessarily a refit
ROWS_CODE = (*CODE, "bot/answer.py", "bot/assistant.py", "bot/understand.py", "index/retriever.py",
             "index/lexical.py", "index/synonyms.py")
# where a row comes from: a PIAF question asked of PIAF (with or without its article; or without its paragraph only,
# the article's other paragraphs kept: the subject is there, not the fact asked, like « le budget du CCAS »), a dev
# question asked of the sample corpus, or a question asked of the other corpus (far off-topic: the right output is
# « not in the documents »)
ORIGINS = ("piaf", "piaf near miss", "dev", "piaf asked of the study", "dev asked of piaf", "piaf fact miss")
WITHOUT = {
    "without the sentence stage's signals": ("sentence_probability", "sentence_gain", "has_sentence_cosine"),
    "without the former vetoes": ("topics_missing", "type_missing"),
    "cheap signals only (cosine, coverage, names, rare words)": tuple(
        name for name in FEATURES if name not in ("coverage", "dense", "names_held", "gives_names", "rare_held")),
}


@dataclass(frozen=True)
class Rows:
    """One row per (question, index) pair and what is known of it."""

    rows: np.ndarray
    answerable: np.ndarray  # asked of an index that holds its answer
    origin: np.ndarray  # index into ORIGINS
    group: np.ndarray  # the article (PIAF) or the question (dev): folds never split one
    holds: np.ndarray  # the sentences the stage would quote hold the gold answer
    hand: np.ndarray  # today's hand decision answers
    question: np.ndarray  # its text


def _assistant(settings: IndexSettings, embedder: Embedder, scratch: Path) -> Assistant:
    return Assistant.build(BotSettings(index=settings, state_db=scratch / f"{len(list(scratch.iterdir()))}.sqlite"),
                           embedder)


def _near_index(full: IndexSettings, cache: Path, name: str, left_out: set[str], embedder: Embedder) -> IndexSettings:
    """The full PIAF index without the left-out paragraphs: copied, then ingested incrementally (removals only)."""
    folder = cache / name
    settings = IndexSettings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    if not settings.index_dir.exists():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(full.corpus_dir, settings.corpus_dir,
                        ignore=lambda _, names: [name for name in names if name in left_out])
        shutil.copytree(full.index_dir, settings.index_dir, symlinks=True, ignore=shutil.ignore_patterns("ingest.lock"))
    ingest(settings, embedder)
    return settings


def _signals(assistant: Assistant, question: str, conversation: str = "") -> tuple[np.ndarray, str, bool]:
    """The features row, the text the stage would quote, and today's hand decision."""
    reading = assistant.read(question, conversation)
    result = reading.result
    signals, missing = decision_signals(result, reading.sites, reading.known)
    passages = [hit.passage for hit in result.hits]
    chosen = select_sentences(result.query, passages, reading.sites, [hit.sentences for hit in result.hits],
                              [hit.score for hit in result.hits]) if passages else []
    hand = result.found and not missing and not signals.type_missing
    return feature_row(signals), " ".join(s.text for s in chosen), hand


def piaf_questions(piaf: Path) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """(article, paragraph's file, question, gold answers) for every question."""
    data = json.loads(piaf.read_text(encoding="utf-8"))["data"]
    found, number = [], 0
    for article_number, article in enumerate(data):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                found.append((article_number, f"piaf-{number:04d}.md", qa["question"].strip(),
                              tuple(comparable(answer["text"]) for answer in qa["answers"])))
            number += 1
    return found


def collect(piaf: Path, cache: Path) -> Rows:
    full = build_index(piaf, cache)
    embedder = make_embedder(full)
    questions = piaf_questions(piaf)
    rows: list[np.ndarray] = []
    answerable: list[bool] = []
    origins: list[int] = []
    groups: list[int] = []
    holds: list[bool] = []
    hand: list[bool] = []
    texts: list[str] = []

    def add(row: np.ndarray, is_answerable: bool, origin: str, group: int, held: bool, by_hand: bool,
            text: str) -> None:
        rows.append(row)
        answerable.append(is_answerable)
        origins.append(ORIGINS.index(origin))
        groups.append(group)
        holds.append(held)
        hand.append(by_hand)
        texts.append(text)

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        assistant = _assistant(full, embedder, scratch)
        for article, _, asked, gold in questions:
            row, text, by_hand = _signals(assistant, asked)
            folded = comparable(text)
            add(row, True, "piaf", article, any(g in folded for g in gold), by_hand, asked)
        for group in range(GROUPS):
            left_out = {source for article, source, _, _ in questions if article % GROUPS == group}
            near = _assistant(_near_index(full, cache, f"near-{group}", left_out, embedder), embedder, scratch)
            for article, _, asked, _ in questions:
                if article % GROUPS == group:
                    row, _, by_hand = _signals(near, asked)
                    add(row, False, "piaf near miss", article, False, by_hand, asked)
            near.state.close()
        for group in range(GROUPS):
            # the paragraphs of group g left out, their articles' other paragraphs kept
            left_out = {source for _, source, _, _ in questions if int(source[5:9]) % GROUPS == group}
            near = _assistant(_near_index(full, cache, f"fact-{group}", left_out, embedder), embedder, scratch)
            for article, source, asked, gold in questions:
                if source in left_out:
                    reading = near.read(asked)
                    if holds_gold(" ".join(hit.passage.text for hit in reading.result.hits[:5]), gold):
                        continue  # another paragraph gives the answer too: not a miss
                    row, _, by_hand = _signals(near, asked)
                    add(row, False, "piaf fact miss", article, False, by_hand, asked)
            near.state.close()
        sample_settings = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=cache / "sample-index")
        ingest(sample_settings, embedder)
        sample = _assistant(sample_settings, embedder, scratch)
        dev: list[Question] = [q for path in DEV if path.exists() for q in read_questions(path)]
        for number, question in enumerate(dev):
            conversation = f"fit-{number}"
            if question.after:
                sample.ask(question.after, record=False, conversation=conversation)
            row, text, by_hand = _signals(sample, question.text, conversation)
            add(row, question.answerable, "dev", 1_000_000 + number, question.answerable and not missing_groups(
                question, text), by_hand, question.text)
            row, _, by_hand = _signals(assistant, question.text)
            add(row, False, "dev asked of piaf", 1_000_000 + number, False, by_hand, question.text)
        for article, _, asked, _ in questions:
            row, _, by_hand = _signals(sample, asked)
            add(row, False, "piaf asked of the study", article, False, by_hand, asked)
        sample.state.close()
        assistant.state.close()
    return Rows(np.vstack(rows), np.array(answerable), np.array(origins), np.array(groups), np.array(holds),
                np.array(hand), np.array(texts))


def weights(data: Rows) -> np.ndarray:
    """How much each row counts in the fit: FACT_MISS_WEIGHT for the fact misses, 1 for the others."""
    return np.where(data.origin == ORIGINS.index("piaf fact miss"), FACT_MISS_WEIGHT, 1.0)


def out_of_fold(data: Rows, columns: Sequence[int]) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    found = np.zeros(len(data.rows))
    features = tuple(FEATURES[i] for i in columns)
    weight = weights(data)
    for train, test in GroupKFold(n_splits=FOLDS).split(data.rows, groups=data.group):
        model = fit_logistic(data.rows[train][:, columns], data.answerable[train], features, weight[train])
        found[test] = model.probability(data.rows[test][:, columns])
    return found


def threshold_at(probabilities: np.ndarray, data: Rows) -> float:
    """The highest threshold that refuses at most REFUSED_AT_MOST of PIAF's answerable questions."""
    answerable = np.sort(probabilities[data.origin == ORIGINS.index("piaf")])
    return float(answerable[int(np.floor(REFUSED_AT_MOST * len(answerable)))])


def figures(answered: np.ndarray, data: Rows) -> dict[str, float]:
    def share(mask: np.ndarray, values: np.ndarray) -> float:
        return round(float(values[mask].mean()), 4) if mask.any() else 0.0

    origin = {name: data.origin == number for number, name in enumerate(ORIGINS)}
    return {
        "PIAF answerable refused": share(origin["piaf"], ~answered),
        "PIAF near misses answered": share(origin["piaf near miss"], answered),
        "PIAF fact misses answered (article kept, paragraph out)": share(origin["piaf fact miss"], answered),
        "PIAF answer holds the gold (refusals count as misses)": share(origin["piaf"], answered & data.holds),
        "dev answerable refused": share(origin["dev"] & data.answerable, ~answered),
        "dev near misses and off-topic answered": share(origin["dev"] & ~data.answerable, answered),
        "PIAF questions asked of the study answered": share(origin["piaf asked of the study"], answered),
        "dev questions asked of PIAF answered": share(origin["dev asked of piaf"], answered),
    }


def sure_threshold(probabilities: np.ndarray, data: Rows, answer_at: float) -> float:
    """The lowest threshold from which at least SURE_PRECISION of PIAF's answers hold the gold (near misses wrong)
    and at most SURE_FACT_MISSES of the fact misses (the subject in the documents, not the fact: the kind this
    decision tells worst) reach it: « réponse sûre » must not be what a question about a missing fact gets."""
    piaf = data.origin <= ORIGINS.index("piaf near miss")  # one near miss per answerable question: a balanced set
    facts = data.origin == ORIGINS.index("piaf fact miss")
    for candidate in np.unique(np.round(probabilities[piaf & (probabilities >= answer_at)], 3)):
        above = piaf & (probabilities >= candidate)
        facts_above = float((probabilities[facts] >= candidate).mean()) if facts.any() else 0.0
        if above.sum() >= 50 and (data.answerable & data.holds)[above].mean() >= SURE_PRECISION \
                and facts_above <= SURE_FACT_MISSES:
            return float(candidate)
    return 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("piaf", nargs="?", type=Path, default=DEFAULT_PIAF)
    parser.add_argument("--write", action="store_true", help="refit on everything and write model.json")
    options = parser.parse_args(argv)
    started = time.perf_counter()
    data_sha = sha256_of([options.piaf, *(path for path in DEV if path.exists())])
    reading_sha = sha256_of([ROOT / path for path in READING_CODE])
    fit_cache = ROOT / "var" / "fit" / f"{sha256_of([options.piaf])[:12]}-{reading_sha[:12]}"
    code_sha = sha256_of([ROOT / path for path in CODE])
    rows_file = fit_cache / f"decide-{data_sha[:12]}-{sha256_of([ROOT / path for path in ROWS_CODE])[:12]}.npz"
    if rows_file.exists():
        with np.load(rows_file) as stored:
            data = Rows(**{key: stored[key] for key in Rows.__dataclass_fields__})
    else:
        data = collect(options.piaf, fit_cache)
        np.savez(rows_file, **{key: getattr(data, key) for key in Rows.__dataclass_fields__})
    counts = ", ".join(f"{int((data.origin == number).sum())} {name}" for number, name in enumerate(ORIGINS))
    print(f"rows: {counts} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    report: dict[str, dict[str, float]] = {}
    everything = list(range(len(FEATURES)))
    model_probabilities = out_of_fold(data, everything)
    answer_at = threshold_at(model_probabilities, data)
    report["fitted model"] = {"threshold": round(answer_at, 4), **figures(model_probabilities >= answer_at, data)}
    for name, dropped in WITHOUT.items():
        probabilities = out_of_fold(data, [i for i, feature in enumerate(FEATURES) if feature not in dropped])
        threshold = threshold_at(probabilities, data)
        report[name] = {"threshold": round(threshold, 4), **figures(probabilities >= threshold, data)}
    for name in ("coverage", "dense", "sentence_probability"):
        values = data.rows[:, FEATURES.index(name)]
        threshold = threshold_at(values, data)
        report[f"single signal: {name}"] = {"threshold": round(threshold, 4), **figures(values >= threshold, data)}
    report["today's hand decision"] = figures(data.hand, data)
    sure_at = sure_threshold(model_probabilities, data, answer_at)
    answered = (data.origin <= ORIGINS.index("piaf near miss")) & (model_probabilities >= answer_at)
    in_band = answered & (model_probabilities >= sure_at)
    report["fitted model"].update({
        "sure band threshold": round(sure_at, 4),
        "PIAF answers in the sure band": round(float(in_band.sum() / max(answered.sum(), 1)), 4),
        "sure band: answers holding the gold": round(float((data.answerable & data.holds)[in_band].mean()), 4)
        if in_band.any() else 0.0,
        "sure band: fact misses reaching it": round(float((model_probabilities[data.origin == ORIGINS.index(
            "piaf fact miss")] >= sure_at).mean()), 4),
        "check band: answers holding the gold": round(float((data.answerable & data.holds)[answered & ~in_band]
                                                            .mean()), 4) if (answered & ~in_band).any() else 0.0,
    })
    for name, lines in report.items():
        print(name)
        for key, value in lines.items():
            print(f"  {key:<56} {value}")
    dev = data.origin == ORIGINS.index("dev")
    answered_dev = model_probabilities >= answer_at
    for i in np.flatnonzero(dev & (data.answerable != answered_dev)):
        print(f"  dev, {'refused' if data.answerable[i] else 'answered'} at {model_probabilities[i]:.3f}: "
              f"{data.question[i]}")
    if options.write:
        model = fit_logistic(data.rows, data.answerable, FEATURES, weights(data))
        payload = {
            **model.as_json(),
            "thresholds": {"answer_at_least": round(answer_at, 6), "sure_at_least": round(sure_at, 6)},
            "provenance": {
                "command": "python -m bot.decide.fit --write",
                "data": [options.piaf.name, *(path.name for path in DEV if path.exists())],
                "data_sha256": data_sha, "piaf_sha256": sha256_of([options.piaf]), "code_sha256": code_sha,
                "code": list(CODE),
                "rows": len(data.rows), "folds": f"{FOLDS}, grouped by article (a dev question is its own group)",
                "near_misses": f"each PIAF question asked of an index without its article ({GROUPS} groups)",
                "cross_validated": report,
            },
        }
        MODEL_FILE.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written {MODEL_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
