"""The answer text a reader gets on PIAF, refusals counted, and near misses: the whole answer path, in one run.

    .venv/bin/python -m bench.piaf_answers [PIAF_FILE]

Every PIAF paragraph is a document of one index (the fit's own, cached under var/fit/). Each question is asked as
`vve ask` asks it; the answer holds the gold answer when its quotes and their labels (what the user reads) do and
it was not refused.
Beside it, in the same run: the former hand rules in place of the fitted model (same retrieval, same refusals), the
plain reader (the two sentences of the top 3 passages sharing the most stemmed words; it never refuses), and the top
5 passages (the ceiling). Near misses: the articles are cut into 5 groups; for each, an index without that group's
paragraphs (made from the full one by incremental ingestion: nothing is embedded again) is asked the group's
questions, which it cannot answer: the share answered is the share of near misses answered.
The model was fitted on this file (`bot.sentences.fit`, cross-validated by article): its figure here is not
cross-validated; the cross-validated one is in `bot/sentences/model.json`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bot import answer as answer_stage
from bot.assistant import Assistant
from bot.decide.fit import piaf_questions
from bot.evaluate import holds_gold, plain_reader, quoted, sha256_of
from bot.sentences.fit import CODE, DEFAULT_PIAF, ROOT, build_index
from bot.settings import BotSettings
from index.config import IndexSettings
from ingest.build import ingest

GROUPS = 5


def _assistant(settings: IndexSettings, scratch: Path) -> Assistant:
    from index.embedder import make_embedder

    return Assistant.build(BotSettings(index=settings, state_db=scratch / f"{settings.index_dir.name}.sqlite"),
                           make_embedder(settings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("piaf", nargs="?", type=Path, default=DEFAULT_PIAF)
    options = parser.parse_args(argv)
    started = time.perf_counter()
    cache = ROOT / "var" / "fit" / f"{sha256_of([options.piaf])[:12]}-{sha256_of([ROOT / p for p in CODE])[:12]}"
    settings = build_index(options.piaf, cache)
    questions = piaf_questions(options.piaf)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        assistant = _assistant(settings, scratch)
        model_texts, refused, plain, top5 = [], [], [], []
        for _, _, question, _ in questions:
            answer, _ = assistant.ask(question, record=False)
            model_texts.append(quoted(answer))
            refused.append(not answer.found)
            result = assistant.retriever.search(question, k=10)
            passages = [hit.passage for hit in result.hits]
            plain.append(plain_reader(question, passages))
            top5.append(" ".join(p.text for p in passages[:5]))
        by_model = answer_stage._by_model
        answer_stage._by_model = lambda question, sentences, scorer, scores: answer_stage.hand_choice(  # type: ignore
            question, sentences, scorer)
        try:
            hand_texts = []
            for _, _, question, _ in questions:
                answer, _ = assistant.ask(question, record=False)
                hand_texts.append(quoted(answer))
        finally:
            answer_stage._by_model = by_model
        assistant.state.close()

        answered_near = 0
        for group in range(GROUPS):
            corpus, index = scratch / f"corpus-{group}", scratch / f"index-{group}"
            left_out = {source for article, source, _, _ in questions if article % GROUPS == group}
            shutil.copytree(settings.corpus_dir, corpus, ignore=lambda _, names, out=left_out: [n for n in names
                                                                                                 if n in out])
            shutil.copytree(settings.index_dir, index, symlinks=True, ignore=shutil.ignore_patterns("ingest.lock"))
            near_settings = IndexSettings(corpus_dir=corpus, index_dir=index)
            near = _assistant(near_settings, scratch)
            ingest(near_settings, near.embedder)  # removals only: nothing embedded again
            near.refresh()
            for article, _, question, _ in questions:
                if article % GROUPS == group:
                    answer, _ = near.ask(question, record=False)
                    answered_near += int(answer.found)
            near.state.close()

    count = len(questions)

    def share(texts: list[str]) -> float:
        return sum(holds_gold(text, gold) for text, (_, _, _, gold) in zip(texts, questions, strict=True)) / count

    def length(texts: list[str]) -> float:
        shown = [len(text) for text in texts if text]
        return sum(shown) / len(shown) if shown else 0.0

    print(f"PIAF {options.piaf.name}: {count} questions, whole answer path ({time.perf_counter() - started:.0f} s)")
    print(f"  answer holds the gold, refusals counted as misses: model {share(model_texts):.3f}, "
          f"hand rules {share(hand_texts):.3f}, plain reader {share(plain):.3f}, top-5 passages {share(top5):.3f}")
    print(f"  mean answer length (answered): model {length(model_texts):.0f}, hand rules {length(hand_texts):.0f}, "
          f"plain reader {length(plain):.0f} characters (labels included)")
    print(f"  answerable refused {sum(refused) / count:.3f}; near misses answered {answered_near / count:.3f} "
          f"({GROUPS} groups of articles left out)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
