"""Answers and listings → what users read: Telegram HTML (everything from documents or users escaped) or plain text.

Telegram refuses a message over 4096 UTF-16 code units: `split_message` cuts longer HTML between paragraphs, lines or
words, never inside a tag or an entity. What documents say of themselves (title, section, file name) is shortened in
every line it appears in (`shorten`, `cited`): a 100 KB title must not turn an answer into 28 messages. A /search page
is edited in place by its buttons, so it is never split: it shrinks until it fits one message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from typing import Any

from bot.answer import Answer
from bot.decide import CHECK, SURE
from index.render_text import citation, reference, snippet
from index.types import DocumentInfo, Passage, Site

TELEGRAM_LIMIT = 4096  # UTF-16 code units of the text Telegram shows; measured here on the HTML, which is longer
SHORT_FIELD = 200  # characters of a title, section or file name in a line: real report titles are well under it
STUDY = "la recherche-action « Villes et vivre ensemble » de l’Odas (2015-2017)"


def utf16_len(text: str) -> int:
    """Telegram's measure: UTF-16 code units, so an emoji beyond U+FFFF counts two.

    >>> utf16_len("abc"), utf16_len("é«»"), utf16_len("👍")
    (3, 3, 2)
    """
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, width: int = SHORT_FIELD) -> str:
    """`text` on one line, cut at a word to at most `width` characters, with « … » when something was cut.

    >>> shorten("Étude de cas —\\n Angers", 30)
    'Étude de cas — Angers'
    >>> shorten("Rapport final de la recherche-action, 2017", 25)
    'Rapport final de la…'
    >>> shorten("x" * 50, 10)
    'xxxxxxxxx…'
    """
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat.rfind(" ", 0, width)
    head = flat[:cut] if cut > width // 2 else flat[:width - 1]  # a word that long is cut inside
    return head.rstrip(" ,;:—-") + "…"


def cited(passage: Passage, width: int = SHORT_FIELD) -> str:
    """`citation` with the title and the section shortened to `width` characters each.

    >>> cited(Passage(0, "a.pdf", "Rapport " * 40, "Synthèse", 3, 3, ""), 20)
    'Rapport Rapport…, Synthèse, p. 3'
    """
    return citation(replace(passage, title=shorten(passage.title, width), section=shorten(passage.section, width),
                            also_in=tuple(shorten(title, width) for title in passage.also_in[:3])))


# Atoms of Telegram HTML that a cut must not enter: a tag, an entity; else one character.
_ATOM = re.compile(r"<[^<>]*>|&#?\w+;|.", re.DOTALL)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w-]*)")
_OPEN, _CLOSE, _BLANK, _TEXT = range(4)


def _atom_kind(atom: str) -> tuple[int, str]:
    """What an atom is, and the tag's name for a tag."""
    tag = _TAG.match(atom) if len(atom) > 1 and atom[0] == "<" else None
    if tag:
        return (_CLOSE if tag.group(1) else _OPEN), tag.group(2).lower()
    return (_BLANK if atom.isspace() else _TEXT), ""


def _cut_ranks(atoms: Sequence[str], kinds: Sequence[int]) -> list[int]:
    """How good a cut before each atom is: 3 a paragraph break, 2 a line break, 1 a space, 0 inside a word."""
    ranks = [0] * (len(atoms) + 1)
    run = -1  # where the current run of blanks began
    for i in range(len(atoms) + 1):
        if i < len(atoms) and kinds[i] == _BLANK:
            run = i if run < 0 else run
            continue
        if run >= 0:
            blanks = "".join(atoms[run:i])
            ranks[run] = 3 if blanks.count("\n") > 1 else 2 if "\n" in blanks else 1
            run = -1
    return ranks


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """HTML in pieces of at most `limit` UTF-16 code units, each one valid on its own.

    A piece ends at the last paragraph break that fits in it (past half of it), else at a line break, else between
    words, else inside a word; never inside a tag or an entity. Tags open at a cut are closed at the end of the piece
    and opened again at the start of the next; the blanks at a cut are dropped. Pieces stay under `limit` as long as it
    leaves room for the tags open at a cut and one character.

    >>> split_message("un\\n\\ndeux\\n\\ntrois", limit=9)
    ['un\\n\\ndeux', 'trois']
    >>> split_message("<b>Rapport &amp; bilan</b> final", limit=20)
    ['<b>Rapport &amp;</b>', '<b>bilan</b> final']
    """
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    atoms = _ATOM.findall(text)
    n = len(atoms)
    kinds: list[int] = []
    # before each atom: the UTF-16 units so far, the visible characters so far, the tags open (name, tag as written)
    # and what closing them costs
    units, seen, closes = [0] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    stacks: list[tuple[tuple[str, str], ...]] = [()] * (n + 1)
    stack: tuple[tuple[str, str], ...] = ()
    close = 0
    for i, atom in enumerate(atoms):
        kind, name = _atom_kind(atom)
        kinds.append(kind)
        if kind == _OPEN:
            stack = (*stack, (name, atom))
        elif kind == _CLOSE and any(open_name == name for open_name, _ in stack):
            while stack and stack[-1][0] != name:  # a stray end tag closes what it skips over
                stack = stack[:-1]
            stack = stack[:-1]
        if kind in (_OPEN, _CLOSE):
            close = sum(len(name) + 3 for name, _ in stack)
        one = len(atom) == 1
        units[i + 1] = units[i] + ((2 if ord(atom) > 0xFFFF else 1) if one else utf16_len(atom))
        seen[i + 1] = seen[i] + (kind == _TEXT)
        stacks[i + 1], closes[i + 1] = stack, close
    ranks = _cut_ranks(atoms, kinds)

    def opening(at: int) -> str:
        return "".join(tag for _, tag in stacks[at])

    def closing(at: int) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(stacks[at]))

    def bounds(start: int, cut: int) -> tuple[int, int]:
        """Where a piece cut before atom `cut` really ends, and where the next one starts."""
        end = cut
        while end < n and kinds[end] == _CLOSE:  # an end tag stays with the text it closes
            end += 1
        if end == cut:
            while end > start and kinds[end - 1] in (_BLANK, _OPEN):  # no trailing blank, no empty element
                end -= 1
        after = end
        while after < n and kinds[after] == _BLANK:
            after += 1
        return end, after

    pieces = []
    start = 0
    while start < n and kinds[start] == _BLANK:
        start += 1
    while seen[start] < seen[n]:  # what is left shows something
        base = utf16_len(opening(start)) - units[start]
        best: tuple[tuple[bool, bool, int, int], int, int] | None = None
        cut = start + 1
        while cut <= n and base + units[cut] <= limit:
            end, after = bounds(start, cut)
            size = base + units[end] + closes[end]
            if seen[end] > seen[start] and size <= limit:
                rank = 4 if after >= n else ranks[cut]
                key = (rank > 0, 2 * size >= limit or rank == 4, rank, end)
                if best is None or key > best[0]:
                    best = (key, end, after)
            cut += 1
        if best is None:  # `limit` too small for the open tags: one character, over the limit
            end, after = bounds(start, next(i for i in range(start + 1, n + 1) if seen[i] > seen[start]))
        else:
            _, end, after = best
        pieces.append(opening(start) + "".join(atoms[start:end]) + closing(end))
        start = after
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
    return f"[{marker}] {escape(cited(passage))}"


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


# the fitted decision's band (bot.decide), never its raw probability
BANDS = {SURE: "réponse sûre", CHECK: "à vérifier dans le document"}


def _band(answer: Answer) -> str:
    return f" — {BANDS[answer.band]}" if answer.band in BANDS else ""


def answer_html(answer: Answer) -> str:
    if not answer.found:
        return miss_html(answer)
    note = reading_note(answer)
    band = f" — <i>{BANDS[answer.band]}</i>" if answer.band in BANDS else ""
    lead = (f"D’après le corpus (<b>{escape(shorten(answer.site))}</b>){band} :" if answer.site
            else f"D’après le corpus{band} :")
    lead = f"<i>{escape(shorten(note, 2 * SHORT_FIELD))}</i>\n{lead}" if note else lead
    if any(quote.label for quote in answer.quotes):  # one line per site: a list or a comparison reads better so
        body = "\n".join(f"• <b>{escape(shorten(quote.label))}</b> — « {escape(quote.text)} » [{quote.marker}]"
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
    return (f"{note}\n" if note else "") + f"D’après le corpus{_band(answer)} :\n{body}\nSources :\n{sources}"


def _miss_lines(answer: Answer) -> tuple[str, str]:
    near = ", ".join(answer.near_sites) or ", ".join(f"« {shorten(topic)} »" for topic in answer.near_topics)
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
    return (f"Je n’ai pas trouvé de passage sur « {escape(shorten(answer.question))} » dans les documents de l’étude"
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
    """The whole passage (split into several messages by `split_message` when its text is long)."""
    return f"<b>{escape(cited(passage))}</b>\n\n{escape(passage.text)}\n\n<i>{escape(shorten(passage.source))}</i>"


def _snippet(text: str, query: str, width: int) -> str:
    # `snippet` returns the whole text when its window holds no space: bounded here too
    return shorten(snippet(text, query, width), width + 2)


def more_html(passages: Sequence[Passage], question: str, first_number: int) -> str:
    lines = [f"<b>Autres passages</b> pour « {escape(shorten(question))} » :"]
    for number, passage in enumerate(passages, first_number):
        lines.append(f"{number}. <i>{escape(cited(passage))}</i>\n{escape(_snippet(passage.text, question, 220))}")
    return "\n\n".join(lines)


# A /search page is edited in place by its buttons, so it must be one message: its parts shrink until it fits.
# Echoed query and site, snippet, title and section, in characters; the last row fits 5 passages even when every
# character is escaped into six (&quot;).
PAGE_WIDTHS = ((200, 140, SHORT_FIELD), (100, 100, 100), (50, 60, 50), (24, 40, 24))


def search_page_html(passages: Sequence[Passage], query: str, first_number: int, total: int, site: str,
                     limit: int = TELEGRAM_LIMIT) -> str:
    """One /search page (up to 5 passages), in one message whatever the documents and the query hold."""
    for echo, width, field in PAGE_WIDTHS:
        page = _search_page(passages, query, first_number, total, site, echo, width, field)
        if utf16_len(page) <= limit:
            break
    return page


def _search_page(passages: Sequence[Passage], query: str, first_number: int, total: int, site: str,
                 echo: int, width: int, field: int) -> str:
    where, shown = escape(shorten(site, echo)), escape(shorten(query, echo))
    if not passages:
        return f"Aucun passage trouvé pour « {shown} »" + (f" dans les documents de {where}" if site else "") + "."
    head = f"<b>Recherche</b> « {shown} »" + (f" — {where}" if site else "")
    lines = [f"{head} ({first_number}-{first_number + len(passages) - 1} sur {total}) :"]
    for number, passage in enumerate(passages, first_number):
        lines.append(f"{number}. {escape(_snippet(passage.text, query, width))}\n"
                     f"    <i>{escape(cited(passage, field))}</i>")
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
        lines.append(f"• {escape(shorten(document.title))}{escape(pages)} — <i>{escape(shorten(document.source))}</i>, "
                     f"indexé le {escape(date)}")
    return "\n".join(lines)


def _site_detail(site: Site) -> str:
    return " — ".join(shorten(part) for part in (site.axis, site.subject) if part)


def sites_html(sites: Sequence[Site]) -> str:
    if not sites:
        return "Le corpus ne décrit aucun site."
    lines = [f"<b>Les {len(sites)} sites de l’étude</b> (touchez un site pour ses passages clés) :"]
    for site in sites:
        detail = _site_detail(site)
        lines.append(f"• <b>{escape(shorten(site.name))}</b>" + (f" : {escape(detail)}" if detail else ""))
    return "\n".join(lines)


def site_html(site: Site, passages: Sequence[Passage]) -> str:
    detail = _site_detail(site)
    lines = [f"<b>{escape(shorten(site.name))}</b>" + (f"\n{escape(detail)}" if detail else "")]
    if not passages:
        lines.append("Aucun passage du corpus ne porte sur ce site.")
    for number, passage in enumerate(passages, 1):
        lines.append(f"[{number}] {escape(_snippet(passage.text, site.name, 300))}\n<i>{escape(cited(passage))}</i>")
    return "\n\n".join(lines)


def answer_plain(answer: Answer) -> str:
    """The answer's sentences with their markers, no sources (they travel separately in JSON)."""
    if not answer.found:
        return miss_text(answer)
    note = reading_note(answer)
    return (f"{note} " if note else "") + f"D’après le corpus{_band(answer)} : " + " ".join(
        f"{_labelled(quote.label)}{quote.text} [{quote.marker}]" for quote in answer.quotes)


def inline_html(passage: Passage, query: str) -> str:
    """What an inline result sends into the chat: the passage's part that matches, and where it comes from."""
    return f"« {escape(snippet(passage.text, query, 600))} »\n<i>— {escape(cited(passage))}</i>"


def references_text(passages: Sequence[Passage]) -> str:
    """The references of an answer's sources, one a line, numbered as the answer's markers, in plain text."""
    # each field bounded: the references of eight sources with giant titles still fit one message (4096 units)
    bounded = [replace(passage, title=shorten(passage.title, 150), section=shorten(passage.section, 80),
                       author=shorten(passage.author, 80)) for passage in passages[:10]]
    lines = [f"[{number}] {reference(passage)}" for number, passage in enumerate(bounded, 1)]
    return "Références à citer :\n" + "\n".join(lines)


def sources_json(answer: Answer) -> list[dict[str, Any]]:
    """The sources of an answer as its memory keeps them (feedback export, /stats): where to find each again."""
    return [{"marker": c.marker, "title": c.passage.title, "source": c.passage.source, "section": c.passage.section,
             "page": c.passage.page_label} for c in answer.citations]


def answer_json(answer: Answer) -> dict[str, Any]:
    """The stable shape of `vve ask --json` and `POST /api/ask`; fields may be added, never renamed."""
    return {
        "question": answer.question, "found": answer.found, "answer": answer_plain(answer),
        "band": answer.band, "band_label": BANDS.get(answer.band, ""),
        "understood": {"corrections": [{"typed": typed, "corrected": corrected}
                                       for typed, corrected in answer.corrections],
                       "context": answer.context, "english": answer.english},
        "citations": [{"marker": c.marker, "source": c.passage.source, "title": c.passage.title,
                       "also_in": list(c.passage.also_in), "author": c.passage.author, "year": c.passage.year,
                       "reference": reference(c.passage),
                       "section": c.passage.section, "page": c.passage.page_start, "text": c.passage.text,
                       "site": c.passage.site} for c in answer.citations],
    }
