"""index/evaluate.py: question files of both formats, ranks, metrics; `vve eval` on the shipped corpus."""

import json
from pathlib import Path

import pytest

from bot.cli import main
from index.evaluate import Outcome, Question, QuestionFileError, answer_rank, read_questions, score, squad_questions
from index.types import Passage


def _passage(text: str, source: str = "a.pdf") -> Passage:
    return Passage(0, source, "Titre", "", 1, 1, text)


def test_our_format_is_read_with_groups_and_found(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Qui ?", "all": [["Bordeaux", "Gironde"], ["2016"]], "found": true}\n\n'
                    '{"question": "Prix du métro ?", "all": [], "found": false}\n', encoding="utf-8")
    questions = read_questions(path)
    assert questions == [Question("Qui ?", (("Bordeaux", "Gironde"), ("2016",)), True),
                         Question("Prix du métro ?", (), False)]


def test_squad_format_is_read_and_sources_follow_paragraph_order(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1", "data": [{"title": "Sport", "paragraphs": [
        {"context": "…", "qas": [{"question": "Combien ?", "id": "1", "answers": [{"text": "100 000"}]}]},
        {"context": "…", "qas": [{"question": "Où ?", "id": "2", "answers": [{"text": "Paris"}, {"text": "Paris"}]}]},
    ]}]}), encoding="utf-8")
    assert [q.expected for q in read_questions(path)] == [(("100 000",),), (("Paris",),)]
    assert [q.source for q in squad_questions(path, lambda n: f"p{n}.md")] == ["p0.md", "p1.md"]
    assert all(not q.answerable for q in read_questions(path, off_topic=True))


@pytest.mark.parametrize("content, message", [
    ('{"question": "x"\n', "ligne 1"),
    ('{"question": "x", "all": [], "found": true}\n', "incomplète.*aucune question complète"),
    ('', "Aucune question"),
    ('{"data": [{"paragraphs": [{"qas": [{"answers": [{"text": "x"}]}]}]}]}', "SQuAD mal formé"),
])
def test_bad_question_files_are_named_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QuestionFileError, match=message) as caught:
        read_questions(path)
    assert "bad.jsonl" in str(caught.value)


def test_rank_needs_every_group_without_case_or_accents():
    question = Question("?", (("Garges-lès-Gonesse",), ("jeunesse",)))
    passages = [_passage("rien"), _passage("GARGES-LES-GONESSE"), _passage("la Jeunesse")]
    assert answer_rank(question, passages) == 3
    assert answer_rank(question, passages[:2]) is None
    assert answer_rank(Question("?", (("x",),), source="b.md"), [_passage("y"), _passage("z", "b.md")]) == 2


def test_scores_count_hits_mrr_and_both_error_rates():
    answerable = Question("?", (("x",),))
    off = Question("?", (), False)
    outcomes = [Outcome(answerable, 1, True, 0.9), Outcome(answerable, 4, True, 0.6),
                Outcome(answerable, None, False, 0.1), Outcome(answerable, 12, True, 0.5),
                Outcome(off, None, True, 0.7), Outcome(off, None, False, 0.2)]
    scores = score(outcomes, k=5)
    assert (scores.answerable, scores.off_topic) == (4, 2)
    assert scores.hit_at_1 == 0.25 and scores.hit_at_k == 0.5
    assert scores.mrr_at_10 == round((1 + 1 / 4) / 4, 4)
    assert scores.wrongly_refused == 0.25 and scores.wrongly_answered == 0.5


def test_vve_eval_on_the_shipped_corpus(shipped_index, monkeypatch, capsys):
    monkeypatch.setenv("INDEX_DIR", str(shipped_index))
    assert main(["eval", "tests/data/corpus-questions-dev.jsonl", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"questions", "answerable", "off_topic", "k", "hit_at_1", "hit_at_k", "mrr_at_10",
                            "wrongly_refused", "wrongly_answered"}
    assert figures["answerable"] == 14 and figures["off_topic"] == 3
    assert figures["hit_at_k"] == 1.0
    # the search is the first of two refusal layers: what passes it is checked again by the answer (next test)
    assert figures["wrongly_refused"] == 0.0 and figures["wrongly_answered"] <= 0.34
    assert main(["eval", "tests/data/corpus-questions-dev.jsonl", "-k", "3"]) == 0
    text = capsys.readouterr().out
    assert "hit@3" in text and "MRR@10" in text and "réponse à tort" in text


def test_vve_eval_reports_a_missing_file_in_french(shipped_index, monkeypatch, capsys):
    monkeypatch.setenv("INDEX_DIR", str(shipped_index))
    assert main(["eval", "nulle-part.jsonl"]) == 2
    assert "Fichier de questions illisible" in capsys.readouterr().err


def test_vve_eval_answers_on_the_dev_files_meets_the_targets(shipped_index, tmp_path, monkeypatch, capsys):
    """The dev questions of both files, judged on the answer text, follow-ups asked after their first question."""
    monkeypatch.setenv("INDEX_DIR", str(shipped_index))
    monkeypatch.setenv("STATE_DB", str(tmp_path / "bot.sqlite"))
    both = tmp_path / "dev.jsonl"
    both.write_text(Path("tests/data/answers-dev.jsonl").read_text(encoding="utf-8")
                    + Path("tests/data/corpus-questions-dev.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["eval", str(both), "--answers", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["answerable"] == 41 and figures["off_topic"] == 8
    assert figures["holds_fact"] >= 0.85 and figures["wrongly_refused"] <= 0.05
    # the fitted decision answers 3 of the 8 (the subject is in the documents, not the fact asked: README, « Whether
    # to answer »); the former hand veto refused them all and 9 of 40 held-out answerable questions with them
    assert figures["refused_off_topic"] >= 0.6
    assert {"follow-up", "typo", "demonym", "english", "near-miss"} <= set(figures["by_kind"])
    assert main(["eval", str(both), "--answers"]) == 0
    assert "par type :" in capsys.readouterr().out


def test_vve_eval_answers_on_a_squad_file_indexes_its_paragraphs_and_compares_in_one_run(tmp_path, monkeypatch,
                                                                                       capsys):
    """Any French QA file in SQuAD's format: its own paragraphs become the corpus (indexed once, under eval/ beside
    the configured index), every question is asked, and the answer text is judged beside the plain reader and the
    top passages, with refusals and lengths."""
    squad = {"data": [
        {"title": "Lyon", "paragraphs": [{"context": "Lyon est une ville française. Le métro de Lyon a ouvert en "
                                                    "1978 et compte quatre lignes. La ville est traversée par deux "
                                                    "fleuves, le Rhône et la Saône.",
                                         "qas": [{"question": "En quelle année le métro de Lyon a-t-il ouvert ?",
                                                  "answers": [{"text": "1978", "answer_start": 0}]},
                                                 {"question": "Quels fleuves traversent Lyon ?",
                                                  "answers": [{"text": "le Rhône et la Saône", "answer_start": 0}]}]}]},
        {"title": "Brest", "paragraphs": [{"context": "Brest est un port militaire de Bretagne. Son téléphérique, "
                                                     "inauguré en 2016, franchit la Penfeld.",
                                          "qas": [{"question": "Quelle rivière le téléphérique de Brest franchit-il ?",
                                                   "answers": [{"text": "la Penfeld", "answer_start": 0}]}]}]},
    ]}
    path = tmp_path / "mini-squad.json"
    path.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "var" / "index"))
    monkeypatch.setenv("STATE_DB", str(tmp_path / "bot.sqlite"))
    assert main(["eval", str(path), "--answers", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["questions"] == 3
    assert figures["top5"] == 1.0  # three paragraphs: every answer is in the top passages
    assert figures["holds"] >= 2 / 3 and figures["refused"] <= 1 / 3
    assert figures["plain_length"] > 0 and figures["length"] > 0
    assert figures["cross_validated"] == {}  # the shipped models were not fitted on this file
    built = list((tmp_path / "var" / "eval").iterdir())
    assert len(built) == 1 and (built[0] / "corpus" / "piaf-0000.md").exists()
    assert main(["eval", str(path), "--answers"]) == 0  # the second run embeds nothing
    report = capsys.readouterr().out
    assert "lecteur simple" in report and "plafond" in report and "refusées à tort" in report


def test_a_line_separator_inside_a_question_is_no_line_end(tmp_path):
    """From the attack: exported feedback keeps U+2028 as it was typed; JSON lines end at « \\n » only."""
    from index.evaluate import read_questions

    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "Qui\u2028dirige\u0085l’Odas ?", "all": [["odas"]], "found": True},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert len(read_questions(path)) == 1
