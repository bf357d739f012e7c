"""`vve eval --answers FILE`: judge the answer text itself, the way a practitioner reads it.

For every question of the file (`{"question", "all", "found", "kind"?, "after"?}` a line), the assistant answers as
`vve ask --json` does, in a conversation of its own where `after` was asked first. An answerable question is right
when the answer's text (`answer`) holds, for every inner list of `all`, one of its strings (without case and
accents); a `found: false` question is right when it is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot import render
from bot.assistant import Assistant
from index.evaluate import Question, comparable


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
