"""`vve eval --answers FILE`: judge the answer text itself, the way a practitioner reads it.

For every question of the file (`{"question", "all", "found", "kind"?, "after"?}` a line), the assistant answers as
`vve ask --json` does, in a conversation of its own where `after` was asked first. An answerable question is right
when the answer's text (`answer`) holds, for every inner list of `all`, one of its strings (without case and
accents); a `found: false` question is right when it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot import answer as answer_stage
from bot import render
from bot.answer import Answer
from bot.assistant import Assistant
from index.config import IndexSettings
from index.embedder import Embedder
from index.evaluate import Question, comparable, squad_questions
from index.lexical import analyze


@dataclass(frozen=True)
class AnswerOutcome:
    question: Question
    found: bool  # the assistant answered (did not refuse)
    text: str  # the answer text judged
    missing: tuple[tuple[str, ...], ...]  # groups of `all` with none of their strings in the text

    @property
    def right(self) -> bool:
        if not self.question.answerable:
            return not self.found
        return self.found and not self.missing


@dataclass(frozen=True)
class AnswerScores:
    questions: int
    answerable: int
    off_topic: int
    holds_fact: float  # answerable questions whose answer text holds every expected group
    wrongly_refused: float  # answerable questions refused
    refused_off_topic: float  # found:false questions refused (the near misses and off-topic ones)
    by_kind: dict[str, tuple[int, int]]  # kind → (right, questions)

    def as_json(self) -> dict[str, object]:
        return {"questions": self.questions, "answerable": self.answerable, "off_topic": self.off_topic,
                "holds_fact": self.holds_fact, "wrongly_refused": self.wrongly_refused,
                "refused_off_topic": self.refused_off_topic,
                "by_kind": {kind: {"right": right, "questions": total}
                            for kind, (right, total) in self.by_kind.items()}}


def missing_groups(question: Question, text: str) -> tuple[tuple[str, ...], ...]:
    """The expected groups none of whose strings is in `text` (compared without case and accents).

    >>> missing_groups(Question("?", (("Bordeaux",), ("Strasbourg", "Pactotec"))), "À BORDEAUX, la pactotec…")
    ()
    """
    folded = comparable(text)
    return tuple(group for group in question.expected if not any(comparable(s) in folded for s in group))


def judge_answers(assistant: Assistant, questions: Sequence[Question]) -> list[AnswerOutcome]:
    outcomes = []
    for number, question in enumerate(questions):
        conversation = f"eval-{number}"
        assistant.forget_conversation(conversation)
        if question.after:
            assistant.ask(question.after, record=False, conversation=conversation)
        answer, _ = assistant.ask(question.text, record=False, conversation=conversation)
        assistant.forget_conversation(conversation)
        text = render.answer_plain(answer)
        outcomes.append(AnswerOutcome(question, answer.found, text, missing_groups(question, text)))
    return outcomes


def score_answers(outcomes: Sequence[AnswerOutcome]) -> AnswerScores:
    answerable = [o for o in outcomes if o.question.answerable]
    off_topic = [o for o in outcomes if not o.question.answerable]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        if outcome.question.kind:
            by_kind[outcome.question.kind][0] += int(outcome.right)
            by_kind[outcome.question.kind][1] += 1

    def share(items: list[AnswerOutcome], test: bool) -> float:
        return round(sum(1 for o in items if test == o.right) / len(items), 4) if items else 0.0

    return AnswerScores(
        questions=len(outcomes), answerable=len(answerable), off_topic=len(off_topic),
        holds_fact=share(answerable, True),
        wrongly_refused=round(sum(1 for o in answerable if not o.found) / len(answerable), 4) if answerable else 0.0,
        refused_off_topic=share(off_topic, True),
        by_kind={kind: (right, total) for kind, (right, total) in sorted(by_kind.items())},
    )


def answers_report(scores: AnswerScores, outcomes: Sequence[AnswerOutcome], path: str, limit: int = 40) -> str:
    """The readable report: the shares, the share per kind, then the questions that went wrong."""
    lines = [f"Évaluation des réponses de {path} : {scores.questions} questions "
             f"({scores.answerable} avec réponse, {scores.off_topic} sans réponse dans le corpus)"]
    if scores.answerable:
        lines.append(f"  le fait attendu est dans la réponse   {scores.holds_fact:6.1%}")
        lines.append(f"  refusées à tort                       {scores.wrongly_refused:6.1%}")
    if scores.off_topic:
        lines.append(f"  sans réponse, bien refusées           {scores.refused_off_topic:6.1%}")
    if scores.by_kind:
        lines.append("  par type : " + ", ".join(f"{kind} {right}/{total}"
                                                 for kind, (right, total) in scores.by_kind.items()))
    wrong = [o for o in outcomes if not o.right]
    if not wrong:
        lines.append("Aucune erreur.")
        return "\n".join(lines)
    lines.append(f"Erreurs ({len(wrong)}) :")
    for outcome in wrong[:limit]:
        question = outcome.question
        asked = f"{question.after} → {question.text}" if question.after else question.text
        kind = f"[{question.kind}] " if question.kind else ""
        if not question.answerable:
            lines.append(f"  - {kind}répondue alors que le corpus ne répond pas : {asked}")
        elif not outcome.found:
            lines.append(f"  - {kind}refusée à tort : {asked}")
        else:
            absent = " ; ".join(" ou ".join(group) for group in outcome.missing)
            lines.append(f"  - {kind}il manque « {absent} » : {asked}\n      {outcome.text[:300]}")
    return "\n".join(lines)


# `vve eval --answers` on a SQuAD file (PIAF, or any French QA file in that format): the file's own paragraphs are the
# corpus, every question is asked as `vve ask` asks it, and the answer text is judged against what a plain reader
# and the top passages would give, in the same run.


@dataclass(frozen=True)
class SquadAnswerScores:
    questions: int
    holds: float  # answer text (quotes and their labels, not the sources' titles) holds a gold answer; refusals miss
    plain_reader: float  # the two sentences of the top 3 passages sharing the most stemmed words with the question
    top5: float  # the top 5 passages (the ceiling)
    refused: float  # every question of the file has an answer in it
    length: float  # mean characters of the answer text as the user reads it (labels, context included), answered
    plain_length: float
    sure_band: float  # answers shown as « réponse sûre »
    cross_validated: dict[str, object]  # when the shipped models were fitted on this file: their figures

    def as_json(self) -> dict[str, object]:
        return {"questions": self.questions, "holds": self.holds, "plain_reader": self.plain_reader, "top5": self.top5,
                "refused": self.refused, "length": self.length, "plain_length": self.plain_length,
                "sure_band": self.sure_band, "cross_validated": self.cross_validated}


def sha256_of(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def squad_corpus(path: Path, corpus_dir: Path) -> None:
    """Each paragraph of a SQuAD file as a Markdown document `piaf-NNNN.md` under its article's title (rewritten only
    when it changed, so that ingestion is incremental)."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    number = 0
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            document = corpus_dir / f"piaf-{number:04d}.md"
            text = f"# {article['title']}\n\n{paragraph['context']}\n"
            if not document.exists() or document.read_text(encoding="utf-8") != text:
                document.write_text(text, encoding="utf-8")
            number += 1


def squad_index(path: Path, folder: Path, embedder: Embedder, base: IndexSettings) -> IndexSettings:
    """The file's own paragraphs, indexed under `folder` (kept: a second run embeds nothing)."""
    from ingest.build import ingest

    settings = replace(base, corpus_dir=folder / "corpus", index_dir=folder / "index")
    squad_corpus(path, settings.corpus_dir)
    ingest(settings, embedder)
    return settings


def plain_reader(question: str, passages: Sequence[object]) -> str:
    """The throwaway reader: the two sentences of the top 3 passages sharing the most stemmed words."""
    wanted = set(analyze(question))
    sentences = [sentence.text for sentence in answer_stage._sentences(passages[:3])]  # type: ignore[arg-type]
    ranked = sorted(range(len(sentences)), key=lambda i: -len(wanted & set(analyze(sentences[i]))))
    return " ".join(sentences[i] for i in sorted(ranked[:2]))


def quoted(answer: Answer) -> str:
    """What an answer says, as the reader reads it: each quote with its label (the sources' titles left out: a SQuAD
    title is its article's name, which often is the gold answer); "" for a refusal."""
    return " ".join(f"{quote.label} {quote.text}".strip() for quote in answer.quotes) if answer.found else ""


def holds_gold(text: str, gold: Sequence[str]) -> bool:
    folded = comparable(text)
    return any(comparable(g) in folded for g in gold)


def _fitted_on(path: Path) -> dict[str, object]:
    """The cross-validated figures of the shipped models, when they were fitted on this very file."""
    from bot.decide.model import shipped_model as decision_model
    from bot.sentences.model import shipped_model as sentence_model

    digest = sha256_of([path])
    found: dict[str, object] = {}
    for name, model in (("sentences", sentence_model()), ("decision", decision_model())):
        if digest in (model.provenance.get("data_sha256"), model.provenance.get("piaf_sha256")):
            found[name] = model.provenance.get("cross_validated", {})
    return found


def judge_squad(assistant: Assistant, path: Path) -> SquadAnswerScores:
    questions = squad_questions(path, lambda number: f"piaf-{number:04d}.md")
    held = plain = top5 = refused = sure = 0
    lengths: list[int] = []
    plain_lengths: list[int] = []
    for number, question in enumerate(questions):
        gold = question.expected[0]
        answer, _ = assistant.ask(question.text, record=False, conversation=f"squad-{number}")
        assistant.forget_conversation(f"squad-{number}")
        text = quoted(answer)
        held += holds_gold(text, gold)
        refused += not answer.found
        sure += answer.band == "sure"
        if answer.found:
            lengths.append(len(text))
        passages = [hit.passage for hit in assistant.read(question.text).result.hits]  # in the ranker's order
        reader = plain_reader(answer.question, passages) if passages else ""
        plain += holds_gold(reader, gold)
        plain_lengths.append(len(reader))
        top5 += holds_gold(" ".join(p.text for p in passages[:5]), gold)
    count = max(len(questions), 1)
    return SquadAnswerScores(len(questions), round(held / count, 4), round(plain / count, 4), round(top5 / count, 4),
                             round(refused / count, 4), round(sum(lengths) / max(len(lengths), 1), 1),
                             round(sum(plain_lengths) / max(len(plain_lengths), 1), 1),
                             round(sure / max(len(lengths), 1), 4), _fitted_on(path))


def squad_report(scores: SquadAnswerScores, path: str) -> str:
    lines = [f"Évaluation des réponses sur {path} (SQuAD, ses propres paragraphes pour corpus) : "
             f"{scores.questions} questions, toutes avec réponse",
             f"  la réponse contient la réponse attendue   {scores.holds:6.1%}  (refus comptés comme manqués)",
             f"  lecteur simple (2 phrases, même run)      {scores.plain_reader:6.1%}",
             f"  5 premiers passages (plafond)             {scores.top5:6.1%}",
             f"  refusées à tort                           {scores.refused:6.1%}",
             f"  longueur moyenne des réponses             {scores.length:.0f} caractères "
             f"(lecteur simple : {scores.plain_length:.0f}, soit ×{scores.length / max(scores.plain_length, 1):.2f})",
             f"  réponses « réponse sûre »                 {scores.sure_band:6.1%}"]
    if scores.cross_validated:
        lines.append("Les modèles livrés ont été ajustés sur ce fichier : les chiffres ci-dessus ne sont pas "
                     "validés croisés ; validation croisée par article (model.json) :")
        for name, figures in scores.cross_validated.items():
            for key, value in (figures.items() if isinstance(figures, dict) else ()):
                if isinstance(value, dict):
                    value = ", ".join(f"{k} {v}" for k, v in value.items())
                lines.append(f"  [{name}] {key} : {value}")
    return "\n".join(lines)
