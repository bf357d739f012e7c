"""Measure retrieval on a question file: hit@1, hit@k, MRR@10 and both no-answer error rates.

Two formats are read:
- ours, one JSON object a line: {"question": "...", "all": [["a", "b"], ["c"]], "found": true}; the top passages
  together must hold, for every inner list, one of its strings (without case or accents);
- SQuAD (PIAF): {"data": [{"title", "paragraphs": [{"context", "qas": [{"question", "answers": [{"text"}]}]}]}]};
  a hit is a passage that holds one of the answer texts (or, when the question knows it, comes from its source).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from index.errors import IndexFailure
from index.lexical import fold
from index.types import Passage, SearchResult

log = logging.getLogger(__name__)

MRR_DEPTH = 10


class QuestionFileError(IndexFailure):
    """A question file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Question:
    text: str
    expected: tuple[tuple[str, ...], ...]  # every group needs one of its strings in the top passages
    answerable: bool = True
    source: str = ""  # a passage from this document counts as a hit (PIAF: the question's own paragraph)
    kind: str = ""  # the answers file's kind (synonym, list, typo, follow-up…), for a share per kind
    after: str = ""  # the question asked just before, in the same conversation (a follow-up)


@dataclass(frozen=True)
class Outcome:
    question: Question
    rank: int | None  # first rank at which the passages so far hold the answer; None when they never do
    found: bool  # what the search said
    confidence: float


@dataclass(frozen=True)
class Scores:
    """The figures `vve eval` prints; the JSON keys are stable."""

    questions: int
    answerable: int
    off_topic: int
    k: int
    hit_at_1: float
    hit_at_k: float
    mrr_at_10: float
    wrongly_refused: float  # answerable questions said to have no answer
    wrongly_answered: float  # off-topic questions answered anyway

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


def read_questions(path: Path, off_topic: bool = False) -> list[Question]:
    """Questions of either format; `off_topic` marks them all unanswerable (PIAF run against the study)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the first line
    except FileNotFoundError:
        raise QuestionFileError(f"Fichier de questions illisible : {path} (fichier introuvable).") from None
    except UnicodeDecodeError:
        raise QuestionFileError(f"Fichier de questions illisible : {path} (pas en UTF-8).") from None
    except OSError as error:
        reason = "accès refusé" if isinstance(error, PermissionError) else "lecture impossible"
        raise QuestionFileError(f"Fichier de questions illisible : {path} ({reason}).") from None
    questions = _squad(raw, path) if _looks_squad(raw) else _lines(raw, path)
    if not questions:
        raise QuestionFileError(f"Aucune question dans {path}.")
    if off_topic:
        questions = [replace(q, answerable=False) for q in questions]
    return questions


def _lines(raw: str, path: Path) -> list[Question]:
    questions = []
    incomplete = []  # answerable lines whose `all` is empty: exported feedback not yet filled in by a person
    for number, line in enumerate(raw.split("\n"), 1):  # not splitlines(): U+2028 inside a question is no line end
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, raw_groups = item["question"], item.get("all", [])
            answerable, kind, after = item.get("found", True), item.get("kind", ""), item.get("after", "")
            # the types checked, not coerced: « "all": "petite enfance" » would make each letter a fact
            if not (isinstance(text, str) and isinstance(answerable, bool) and isinstance(kind, str)
                    and isinstance(after, str) and isinstance(raw_groups, list)
                    and all(isinstance(group, list) and group and all(isinstance(s, str) and s for s in group)
                            for group in raw_groups)):
                raise TypeError
            groups = tuple(tuple(group) for group in raw_groups)
        except (ValueError, KeyError, TypeError):
            raise QuestionFileError(
                f"{path}, ligne {number} : attendu un objet JSON {{\"question\": texte, \"all\": [[textes]], "
                f"\"found\": vrai ou faux}}.") from None
        if answerable and not groups:
            incomplete.append(number)
            continue
        questions.append(Question(text.strip(), groups, answerable, "", kind, after))
    if incomplete:
        shown = ", ".join(map(str, incomplete[:10])) + (" …" if len(incomplete) > 10 else "")
        message = (f"{path} : {len(incomplete)} ligne(s) incomplète(s), sans les faits attendus (« all » vide, à "
                   f"remplir, ou « found »: false) : ligne(s) {shown}")
        if not questions:
            raise QuestionFileError(message + " ; aucune question complète à mesurer.")
        log.warning("%s ; elles sont ignorées.", message)
    return questions


def _squad(raw: str, path: Path, source_of: Callable[[int], str] | None = None) -> list[Question]:
    try:
        data = json.loads(raw)["data"]
        questions = []
        paragraph_number = 0
        for article in data:
            for paragraph in article["paragraphs"]:
                source = source_of(paragraph_number) if source_of else ""
                paragraph_number += 1
                for qa in paragraph["qas"]:
                    answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip()))
                    if answers:
                        questions.append(Question(qa["question"].strip(), (answers,), True, source))
    except (ValueError, KeyError, TypeError):
        raise QuestionFileError(f"{path} : fichier SQuAD mal formé (attendu data → paragraphs → qas).") from None
    return questions


def is_squad(path: Path) -> bool:
    """Whether a questions file is in SQuAD's format (one JSON object with « data ») rather than JSON Lines."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8-sig", errors="replace")
    except OSError:
        return False  # read_questions names the problem
    return _looks_squad(head)


def _looks_squad(raw: str) -> bool:
    return raw.lstrip().startswith("{") and '"data"' in raw[:200]


def squad_questions(path: Path, source_of: Callable[[int], str]) -> list[Question]:
    """SQuAD questions whose paragraph number n was indexed as the document `source_of(n)` (the PIAF bench)."""
    return _squad(path.read_text(encoding="utf-8"), path, source_of)


def comparable(text: str) -> str:
    """Text as the judges compare it: without case or accents, one apostrophe (’ and ' are the same).

    >>> comparable("Comité d’Experts") == comparable("comite d'experts")
    True
    """
    return fold(text).replace("’", "'").replace("ʼ", "'")


def answer_rank(question: Question, passages: Sequence[Passage]) -> int | None:
    """The first rank r at which passages 1..r hold every expected group (or one passage comes from the source).

    >>> p = lambda text: Passage(0, "a.pdf", "T", "", 1, 1, text)
    >>> answer_rank(Question("?", (("Bordeaux",), ("Strasbourg",))), [p("à bordeaux"), p("x"), p("Strasbourg")])
    3
    """
    remaining = [tuple(comparable(s) for s in group) for group in question.expected]
    for position, passage in enumerate(passages, 1):
        if question.source and passage.source == question.source:
            return position
        text = comparable(passage.text)
        remaining = [group for group in remaining if not any(s in text for s in group)]
        if not remaining:
            return position
    return None


def judge(question: Question, result: SearchResult) -> Outcome:
    rank = answer_rank(question, [hit.passage for hit in result.hits]) if question.answerable else None
    return Outcome(question, rank, result.found, result.confidence)


def score(outcomes: Iterable[Outcome], k: int) -> Scores:
    outcomes = list(outcomes)
    answerable = [o for o in outcomes if o.question.answerable]
    off_topic = [o for o in outcomes if not o.question.answerable]

    def share(items: list[Outcome], test: Callable[[Outcome], bool]) -> float:
        return round(sum(1 for o in items if test(o)) / len(items), 4) if items else 0.0

    return Scores(
        questions=len(outcomes), answerable=len(answerable), off_topic=len(off_topic), k=k,
        hit_at_1=share(answerable, lambda o: o.rank == 1),
        hit_at_k=share(answerable, lambda o: o.rank is not None and o.rank <= k),
        mrr_at_10=round(sum(1 / o.rank for o in answerable if o.rank and o.rank <= MRR_DEPTH) / len(answerable), 4)
        if answerable else 0.0,
        wrongly_refused=share(answerable, lambda o: not o.found),
        wrongly_answered=share(off_topic, lambda o: o.found),
    )


def scores_text(scores: Scores, path: str) -> str:
    """The readable report of `vve eval`."""
    lines = [f"Évaluation de {path} : {scores.questions} questions "
             f"({scores.answerable} avec réponse, {scores.off_topic} hors sujet)"]
    if scores.answerable:
        lines += [
            f"  hit@1           {scores.hit_at_1:6.1%}   bon passage en première position",
            f"  hit@{scores.k:<2}          {scores.hit_at_k:6.1%}   bon passage parmi les {scores.k} premiers",
            f"  MRR@10          {scores.mrr_at_10:6.3f}   moyenne de 1/rang du bon passage (1 = toujours premier)",
            f"  refus à tort    {scores.wrongly_refused:6.1%}   questions avec réponse jugées sans réponse",
        ]
    if scores.off_topic:
        lines.append(f"  réponse à tort  {scores.wrongly_answered:6.1%}   questions hors sujet auxquelles on répond")
    return "\n".join(lines)


def failures_text(outcomes: Iterable[Outcome], k: int, limit: int = 20) -> str:
    """The questions that went wrong, so an admin sees what the corpus or the search misses."""
    lines = []
    for outcome in outcomes:
        question = outcome.question
        if question.answerable and (outcome.rank is None or outcome.rank > k):
            lines.append(f"  - pas dans les {k} premiers : {question.text}")
        elif question.answerable and not outcome.found:
            lines.append(f"  - refusée à tort (confiance {outcome.confidence:.2f}) : {question.text}")
        elif not question.answerable and outcome.found:
            lines.append(f"  - hors sujet mais répondue (confiance {outcome.confidence:.2f}) : {question.text}")
    if not lines:
        return "Aucune erreur."
    shown = lines[:limit]
    more = f"\n  … et {len(lines) - limit} autres" if len(lines) > limit else ""
    return f"Erreurs ({len(lines)}) :\n" + "\n".join(shown) + more
