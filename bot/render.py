"""Answers and listings → what users read: Telegram HTML (everything from documents or users escaped) or plain text.

Telegram refuses a message over 4096 characters; `split_message` cuts on paragraph boundaries below that.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from bot.answer import Answer
from index.render_text import citation, snippet
from index.types import DocumentInfo, Passage, Site

TELEGRAM_LIMIT = 4096
STUDY = "la recherche-action « Villes et vivre ensemble » de l’Odas (2015-2017)"


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pieces under `limit`, cut between paragraphs, else between lines, else between words.

    >>> split_message("un\\n\\ndeux\\n\\ntrois", limit=9)
    ['un\\n\\ndeux', 'trois']
    """
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        while len(paragraph) > limit:  # one paragraph too long on its own
            cut = paragraph.rfind("\n", 0, limit)
            cut = cut if cut > 0 else paragraph.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip()
        current = paragraph
    if current:
        pieces.append(current)
    return pieces


def time_left(done: int, total: int, elapsed: float) -> str:
    """The time a stage still needs at the pace it has kept so far, in French; "" until there is a pace to go on.

    >>> time_left(120, 900, 30.0), time_left(300, 900, 150.0), time_left(850, 900, 170.0)
    ('environ 3 min restantes', 'environ 5 min restantes', 'moins d’une minute restante')
    >>> time_left(100, 900, 600.0), time_left(0, 900, 5.0), time_left(900, 900, 200.0)
    ('environ 1 h 20 restantes', '', '')
    """
    if done <= 0 or done >= total or elapsed <= 0:
        return ""
    seconds = elapsed / done * (total - done)
    if seconds < 60:
        return "moins d’une minute restante"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"environ {minutes} min restante{'s' if minutes > 1 else ''}"
    return f"environ {minutes // 60} h {minutes % 60:02d} restantes"


def _source_line(marker: int, passage: Passage) -> str:
    return f"[{marker}] {escape(citation(passage))}"


def _labelled(label: str) -> str:
    return f"{label} — " if label else ""


def reading_note(answer: Answer) -> str:
    """How the question was read, when it was not read as typed: corrections, the conversation's subject.

    >>> from bot.answer import Answer
    >>> reading_note(Answer("sujet de Stasbourg", True, (), (), (), corrections=(("Stasbourg", "Strasbourg"),)))
    '(« Strasbourg » pour « Stasbourg »)'
    """
    parts = [", ".join(f"« {corrected} » pour « {typed} »" for typed, corrected in answer.corrections)]
    if answer.context:
        parts.append(f"à propos de : {answer.context}")
    text = " ; ".join(part for part in parts if part)
    return f"({text})" if text else ""


ENGLISH_MISS = ("Les documents de l’étude sont en français et je n’y ai pas trouvé de réponse à votre question : "
                "posez-la en français si vous le pouvez.")


def answer_html(answer: Answer) -> str:
    if not answer.found:
        return miss_html(answer)
    note = reading_note(answer)
    lead = f"D’après le corpus (<b>{escape(answer.site)}</b>) :" if answer.site else "D’après le corpus :"
    lead = f"<i>{escape(note)}</i>\n{lead}" if note else lead
    if any(quote.label for quote in answer.quotes):  # one line per site: a list or a comparison reads better so
        body = "\n".join(f"• <b>{escape(quote.label)}</b> — « {escape(quote.text)} » [{quote.marker}]"
                         if quote.label else f"• {escape(quote.text)} [{quote.marker}]" for quote in answer.quotes)
    else:
        body = " ".join(f"{escape(quote.text)} [{quote.marker}]" for quote in answer.quotes)
    sources = "\n".join(_source_line(c.marker, c.passage) for c in answer.citations)
    return f"{lead}\n{body}\n\n<b>Sources</b>\n{sources}"


def answer_text(answer: Answer) -> str:
    """The same answer for a terminal (`vve chat`)."""
    if not answer.found:
        return miss_text(answer)
    body = "\n".join(f"  {_labelled(quote.label)}« {quote.text} » [{quote.marker}]" for quote in answer.quotes)
    sources = "\n".join(f"  [{c.marker}] {citation(c.passage)} ({c.passage.source})" for c in answer.citations)
    note = reading_note(answer)
    return (f"{note}\n" if note else "") + f"D’après le corpus :\n{body}\nSources :\n{sources}"


def _miss_lines(answer: Answer) -> tuple[str, str]:
    near = ", ".join(answer.near_sites)
    where = f" sur le site de {answer.site}" if answer.site else ""
    if answer.missing:  # the passages matched the rest of the question: say what they never mention
        # the check reads the best passages only: « aucun passage » would say more than was looked at
        words = ", ".join(f"« {word} »" for word in answer.missing)
        where += f" : aucun des passages les plus proches ne mentionne {words}"
    hint = (f"Les passages les plus proches concernent : {near}. " if near else "")
    return where, hint


def miss_html(answer: Answer) -> str:
    where, hint = _miss_lines(answer)
    if answer.english:
        return escape(ENGLISH_MISS)
    return (f"Je n’ai pas trouvé de passage sur « {escape(answer.question)} » dans les documents de l’étude"
            f"{escape(where)}.\nLe corpus porte sur {escape(STUDY)}.\n"
            f"{escape(hint)}Vous pouvez reformuler, parcourir les sites avec /sites, ou voir les documents avec "
            "/sources.")


def miss_text(answer: Answer) -> str:
    where, hint = _miss_lines(answer)
    if answer.english:
        return ENGLISH_MISS
    return (f"Je n’ai pas trouvé de passage sur « {answer.question} » dans les documents de l’étude{where}.\n"
            f"Le corpus porte sur {STUDY}. {hint}Vous pouvez reformuler votre question.")


def passage_html(passage: Passage) -> str:
    """The whole passage (split into several messages by `split_message` when it is long)."""
    return f"<b>{escape(citation(passage))}</b>\n\n{escape(passage.text)}\n\n<i>{escape(passage.source)}</i>"


def more_html(passages: Sequence[Passage], question: str, first_number: int) -> str:
    lines = [f"<b>Autres passages</b> pour « {escape(question)} » :"]
    for number, passage in enumerate(passages, first_number):
        lines.append(f"{number}. <i>{escape(citation(passage))}</i>\n{escape(snippet(passage.text, question, 220))}")
    return "\n\n".join(lines)


def search_page_html(passages: Sequence[Passage], query: str, first_number: int, total: int, site: str) -> str:
    if not passages:
        where = f" dans les documents de {escape(site)}" if site else ""
        return f"Aucun passage trouvé pour « {escape(query)} »{where}."
    head = f"<b>Recherche</b> « {escape(query)} »" + (f" — {escape(site)}" if site else "")
    lines = [f"{head} ({first_number}-{first_number + len(passages) - 1} sur {total}) :"]
    for number, passage in enumerate(passages, first_number):
        lines.append(f"{number}. {escape(snippet(passage.text, query, 140))}\n    <i>{escape(citation(passage))}</i>")
    return "\n".join(lines)


def start_html(documents: int, sites: int) -> str:
    return (f"Bonjour ! Je réponds à vos questions sur {escape(STUDY)}, en citant les documents de l’étude : "
            f"{documents} documents, {sites} sites.\nPosez votre question en une phrase, par exemple :")


HELP_HTML = (
    "<b>Comment m’utiliser</b>\n"
    "• Posez une question en français, en une phrase : je réponds avec des extraits des documents, chacun suivi "
    "de sa source [1], [2]… Les boutons montrent le passage complet ou d’autres résultats.\n"
    "• Nommez une ville pour cibler ses documents (« à Angers », « les Havrais »).\n"
    "• /search <i>mots</i> : recherche rapide ; <code>ville:Angers</code> limite la recherche à un site.\n"
    "• /sites : les 11 sites et leur sujet · /sources : les documents indexés.\n"
    "• 👍 / 👎 sous une réponse nous aide à améliorer le corpus.\n"
    "Je ne cite que les documents de l’étude : si rien n’y répond, je vous le dis."
)

ADMIN_HELP_HTML = (
    "\n\n<b>Administration</b>\n"
    "• /reingest : réindexer le corpus (les questions restent servies pendant ce temps).\n"
    "• Envoyez un fichier (PDF, DOCX, Markdown, texte, HTML) pour l’ajouter au corpus.\n"
    "• /stats : questions par jour, part de réponses, avis, questions restées sans réponse."
)


def sources_html(documents: Sequence[DocumentInfo]) -> str:
    if not documents:
        return "Aucun document n’est indexé pour l’instant."
    lines = [f"<b>Documents indexés</b> ({len(documents)}) :"]
    for document in documents:
        pages = f", {document.page_count} p." if document.page_count else ""
        date = document.ingested_at[:10]
        lines.append(f"• {escape(document.title)}{escape(pages)} — <i>{escape(document.source)}</i>, "
                     f"indexé le {escape(date)}")
    return "\n".join(lines)


def sites_html(sites: Sequence[Site]) -> str:
    if not sites:
        return "Le corpus ne décrit aucun site."
    lines = [f"<b>Les {len(sites)} sites de l’étude</b> (touchez un site pour ses passages clés) :"]
    for site in sites:
        detail = " — ".join(part for part in (site.axis, site.subject) if part)
        lines.append(f"• <b>{escape(site.name)}</b>" + (f" : {escape(detail)}" if detail else ""))
    return "\n".join(lines)


def site_html(site: Site, passages: Sequence[Passage]) -> str:
    detail = " — ".join(part for part in (site.axis, site.subject) if part)
    lines = [f"<b>{escape(site.name)}</b>" + (f"\n{escape(detail)}" if detail else "")]
    if not passages:
        lines.append("Aucun passage du corpus ne porte sur ce site.")
    for number, passage in enumerate(passages, 1):
        lines.append(f"[{number}] {escape(snippet(passage.text, site.name, 300))}\n<i>{escape(citation(passage))}</i>")
    return "\n\n".join(lines)


def answer_plain(answer: Answer) -> str:
    """The answer's sentences with their markers, no sources (they travel separately in JSON)."""
    if not answer.found:
        return miss_text(answer)
    note = reading_note(answer)
    return (f"{note} " if note else "") + "D’après le corpus : " + " ".join(
        f"{_labelled(quote.label)}{quote.text} [{quote.marker}]" for quote in answer.quotes)


def answer_json(answer: Answer) -> dict[str, Any]:
    """The stable shape of `vve ask --json` and `POST /api/ask`; fields may be added, never renamed."""
    return {
        "question": answer.question, "found": answer.found, "answer": answer_plain(answer),
        "understood": {"corrections": [{"typed": typed, "corrected": corrected}
                                       for typed, corrected in answer.corrections],
                       "context": answer.context, "english": answer.english},
        "citations": [{"marker": c.marker, "source": c.passage.source, "title": c.passage.title,
                       "section": c.passage.section, "page": c.passage.page_start, "text": c.passage.text,
                       "site": c.passage.site} for c in answer.citations],
    }
