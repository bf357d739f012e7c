"""The document cases (../shared/cases, and tests/cases: the shapes of ../shared/cases-new brought in as their fixes
landed, copied so that a clean clone runs them): each corpus ingested with the real pipeline and model, each question
asked through the answer path of `vve ask --json`, and checked as the cases' README says.

`all`: each inner list has one string in the answer (case and accents ignored); `not`: none of these strings in it;
`section`: the first citation's section contains it; `found`: the answer says it found something.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot import render
from bot.assistant import Assistant
from bot.settings import BotSettings
from index.config import IndexSettings
from index.lexical import fold
from ingest.build import ingest

HERE = Path(__file__).resolve().parent
CASES_DIRS = (HERE.parent.parent / "shared" / "cases", HERE / "cases")


def _questions() -> list[Any]:
    params = []
    cases = [path for folder in CASES_DIRS if folder.is_dir() for path in folder.iterdir()]
    for case in sorted(path for path in cases if (path / "questions.jsonl").is_file()):
        lines = (case / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(line for line in lines if line.strip()):
            params.append(pytest.param(case, json.loads(line), id=f"{case.name}-{number + 1}"))
    return params


QUESTIONS = _questions()
pytestmark = pytest.mark.skipif(not QUESTIONS, reason=f"no document cases in {CASES_DIRS}")


@pytest.fixture(scope="module")
def assistants(tmp_path_factory, embedder) -> Any:
    """One ingested index per case, built on first use and kept for the module (the model loads once)."""
    built: dict[Path, Assistant] = {}

    def get(case: Path) -> Assistant:
        if case not in built:
            root = tmp_path_factory.mktemp(case.name)
            index = IndexSettings(corpus_dir=case / "corpus", index_dir=root / "index")
            report = ingest(index, embedder, full=True)
            assert report.failed == (), report.failed
            built[case] = Assistant.build(BotSettings(index=index, state_db=root / "bot.sqlite"), embedder)
        return built[case]

    yield get
    for assistant in built.values():
        assistant.state.close()


@pytest.mark.parametrize(("case", "question"), QUESTIONS)
def test_case_question_is_answered_from_the_document(assistants, case, question):
    answer, _ = assistants(case).ask(question["question"], record=False)
    reply = render.answer_json(answer)
    text = fold(reply["answer"])
    assert reply["found"] == question.get("found", True), reply
    for group in question["all"]:
        assert any(fold(expected) in text for expected in group), f"none of {group} in: {reply['answer']}"
    for garbled in question.get("not", []):
        assert fold(garbled) not in text, f"« {garbled} » in: {reply['answer']}"
    if "section" in question:
        assert reply["citations"], reply
        assert fold(question["section"]) in fold(reply["citations"][0]["section"]), reply["citations"][0]
