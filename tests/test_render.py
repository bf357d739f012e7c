"""bot/render.py: Telegram HTML escaped and split under 4096 UTF-16 units; plain text and JSON views."""

import random
import re
from dataclasses import replace
from html import escape

import pytest

from bot import render
from bot.answer import MAX_QUOTE_CHARS, Answer, Citation, Quote
from index.types import DocumentInfo, Passage, Site
from tests.support.fake_telegram import TelegramError, parse_html

NASTY = "<script>alert('x')</script> & R&D <b>"


def _answer(text=NASTY):
    passage = Passage(0, "n<o>te.md", "Titre & <i>", "Section <1>", 3, 3, text)
    return Answer("Que dit <la> note & co ?", True, (Quote(text, 1),), (Citation(1, passage),), ())


def test_everything_from_documents_and_users_is_escaped():
    html = render.answer_html(_answer())
    visible = parse_html(html)  # Telegram's own rules: it would refuse unescaped tags
    assert NASTY in visible and "Titre & <i>, Section <1>, p. 3" in visible
    miss = render.miss_html(Answer("<b>métro</b> & bus", False, (), (), ()))
    assert "<b>métro</b> & bus" in parse_html(miss)
    assert NASTY in parse_html(render.passage_html(_answer().citations[0].passage))


def test_long_text_is_split_between_paragraphs_under_the_limit():
    paragraphs = [f"<b>Paragraphe {n}</b> " + "mot " * 150 for n in range(40)]
    pieces = render.split_message("\n\n".join(paragraphs))
    assert len(pieces) > 1 and all(render.utf16_len(piece) <= render.TELEGRAM_LIMIT for piece in pieces)
    assert all(piece.startswith("<b>Paragraphe") and piece.endswith("mot") for piece in pieces)
    assert _same_text(_sent(pieces), "\n\n".join(paragraphs))  # nothing lost but the blanks at the cuts


def test_a_single_huge_paragraph_is_cut_between_words():
    pieces = render.split_message("mot " * 3000)
    assert all(render.utf16_len(piece) <= render.TELEGRAM_LIMIT for piece in pieces)
    assert sum(piece.count("mot") for piece in pieces) == 3000


def test_json_shape_of_an_answer():
    shape = render.answer_json(_answer("La Pactotec date de 2015."))
    assert set(shape) == {"question", "found", "answer", "understood", "citations", "band", "band_label"}
    assert shape["answer"] == "D’après le corpus : La Pactotec date de 2015. [1]"  # no band: none was decided
    sure = render.answer_json(replace(_answer("La Pactotec date de 2015."), band="sure"))
    assert sure["answer"] == "D’après le corpus — réponse sûre : La Pactotec date de 2015. [1]"
    assert (sure["band"], sure["band_label"]) == ("sure", "réponse sûre")
    check = render.answer_html(replace(_answer("La Pactotec date de 2015."), band="check"))
    assert check.startswith("D’après le corpus — <i>à vérifier dans le document</i> :")
    assert {"source", "title", "section", "page", "text"} <= set(shape["citations"][0])


@pytest.mark.parametrize("bad", ["<div>x</div>", "a & b", "<b>x", "1 < 2", "<i>x</b>"])
def test_html_parser_of_the_fake_server_refuses_what_telegram_refuses(bad):
    with pytest.raises(TelegramError, match="can't parse entities"):
        parse_html(bad)


@pytest.mark.parametrize(("done", "total", "elapsed", "expected"), [
    (120, 900, 30.0, "environ 3 min restantes"),  # 195 s at 4 passages/s
    (450, 900, 60.0, "environ 1 min restante"),
    (890, 900, 200.0, "moins d’une minute restante"),
    (10, 900, 60.0, "environ 1 h 29 restantes"),
    (0, 900, 12.0, ""),  # no pace yet
    (900, 900, 200.0, ""),  # done
    (5, 900, 0.0, ""),
])
def test_time_left_is_said_in_french_from_the_pace_so_far(done, total, elapsed, expected):
    assert render.time_left(done, total, elapsed) == expected


# Splitting: every piece fits and parses, whatever tags and entities the text holds


def _sent(pieces, limit=render.TELEGRAM_LIMIT):
    """The visible text of each piece, after checking it as Telegram would: size, tags, entities."""
    visible = []
    for piece in pieces:
        assert render.utf16_len(piece) <= limit
        assert piece.count("<") == piece.count(">")  # no tag cut in two (text's own < > are escaped)
        visible.append(parse_html(piece))  # balanced tags, no broken entity
        assert visible[-1].strip(), "an empty message is refused"
    return visible


def _same_text(visible, original):
    """The pieces show the original's text in order, with nothing lost but the blanks at the cuts."""
    pattern = r"\s*" + r"\s*".join(re.escape(text) for text in visible) + r"\s*"
    return re.fullmatch(pattern, parse_html(original)) is not None


_TAGS = ("b", "i", "u", "s", "code", 'a href="https://exemple.fr/?a=1&amp;b=2"', "tg-spoiler")
_CHARACTERS = "aeiouéèàç’«»&<>\"'0123456789" + "👍🇫🇷𝄞"  # astral characters count two UTF-16 units


def _random_text(rng):
    words = ("".join(rng.choice(_CHARACTERS) for _ in range(rng.choice((1, 3, 8, 8, 40, 200))))
             for _ in range(rng.randint(1, 8)))
    return escape("".join(word + rng.choice((" ", " ", " ", "\n", "\n\n", "")) for word in words))


def _random_html(rng, depth=0):
    parts = []
    for _ in range(rng.randint(1, 4)):
        if depth < 3 and rng.random() < 0.35:
            tag = rng.choice(_TAGS)
            parts.append(f"<{tag}>{_random_html(rng, depth + 1)}</{tag.split()[0]}>")
        else:
            parts.append(_random_text(rng))
    return "".join(parts)


def test_random_html_is_split_into_pieces_that_fit_and_parse():
    rng = random.Random(20)
    for _ in range(400):
        html = _random_html(rng)
        if not parse_html(html).strip():
            continue
        limit = rng.randint(160, 700)  # room for three links open at a cut (138 units) and an entity
        pieces = render.split_message(html, limit)
        assert _same_text(_sent(pieces, limit), html), (html, limit, pieces)


def test_a_cut_inside_tags_closes_and_reopens_them():
    html = '<b>Gras <a href="https://exemple.fr/?a=1&amp;b=2">lien &amp; ' + "suite " * 30 + "</a> fin</b>"
    pieces = render.split_message(html, 100)
    assert len(pieces) > 2 and all(p.startswith('<b>') and p.endswith("</b>") for p in pieces)
    assert all('<a href="https://exemple.fr/?a=1&amp;b=2">' in p for p in pieces[1:-1])
    assert _same_text(_sent(pieces, 100), html)


def test_entities_and_emoji_are_never_cut():
    for limit in range(20, 40):
        for text in ("&amp;" * 50, "👍" * 50, "a&quot;👍" * 30):
            pieces = render.split_message(text, limit)
            assert _same_text(_sent(pieces, limit), text)


def test_pieces_are_measured_in_utf16_units():
    pieces = render.split_message("👍 " * 3000)  # 6000 characters, 9000 UTF-16 units
    assert len(pieces) == 3 and _same_text(_sent(pieces), "👍 " * 3000)


# What documents and users put in a message is bounded: real data shapes that once filled many messages

HUGE = Passage(7, "dossier/" + "sous-dossier/" * 300 + "rapport.pdf", "Rapport & bilan <final> " * 4167,
               "Section \"longue\" " * 2942, 12, 13, "La Pactotec date de 2015 & fédère les acteurs.")  # 100 KB, 50 KB


def _one_message(html):
    assert render.split_message(html) == [html]
    _sent([html])
    return parse_html(html)


def test_a_huge_title_and_section_leave_an_answer_in_one_message():
    assert len(HUGE.title) >= 100_000 and len(HUGE.section) >= 50_000
    answer = Answer("Que fédère la Pactotec ?", True, tuple(Quote(HUGE.text, n) for n in range(1, 5)),
                    tuple(Citation(n, HUGE) for n in range(1, 5)), (HUGE,) * 10)
    visible = _one_message(render.answer_html(answer))
    assert "[4] Rapport & bilan <final> Rapport" in visible and "…" in visible
    quotes = tuple(Quote("x " * (MAX_QUOTE_CHARS // 2), n, "Angers") for n in range(1, 9))
    listing = Answer("Quels sites ?", True, quotes, tuple(Citation(n, HUGE) for n in range(1, 9)), ())
    pieces = render.split_message(render.answer_html(listing))  # eight quotes at their longest: their own length
    assert len(pieces) <= 3 and _sent(pieces)
    _one_message(render.passage_html(HUGE))
    _one_message(render.more_html([HUGE] * 5, "Que fédère la Pactotec ?", 5))
    _one_message(render.site_html(Site("Angers", axis="Axe", subject="Sujet"), [HUGE] * 3))
    _one_message(render.miss_html(Answer("métro & <bus> " * 300, False, (), (), ())))


def test_a_long_passage_is_split_with_its_bounded_citation():
    passage = Passage(1, HUGE.source, HUGE.title, HUGE.section, 1, 1, "Une phrase & <une autre>. " * 800)
    pieces = render.split_message(render.passage_html(passage))
    assert _same_text(_sent(pieces), render.passage_html(passage))
    short = replace(passage, title="Rapport", section="Synthèse", source="rapport.pdf")
    assert len(pieces) == len(render.split_message(render.passage_html(short)))  # the title costs no message


def test_a_search_page_is_one_message_whatever_the_query_and_the_documents():
    query = "ville & <métro> " * 250  # 4 000 characters
    assert len(query) == 4000
    for passages in ([HUGE] * 5, [], [HUGE]):
        page = render.search_page_html(passages, query, 26, 30, "Angers")
        visible = _one_message(page)
        assert "ville & <métro>" in visible
    worst = Passage(0, '"' * 1000, '"' * 1000, "'" * 1000, 1234, 1235, '"' * 5000)  # each escaped into 6
    page = render.search_page_html([worst] * 5, '"' * 4000, 9996, 10000, '"' * 1000)
    _one_message(page)
    assert page.count("&quot;") > 100  # shrunk, not emptied


def test_a_search_page_keeps_its_widest_form_when_it_fits():
    passage = Passage(0, "a.pdf", "Étude de cas — Angers", "2. La démarche", 1, 1, "La réciprocité. " * 30)
    page = render.search_page_html([passage], "réciprocité", 1, 1, "")
    assert page == render._search_page([passage], "réciprocité", 1, 1, "", *render.PAGE_WIDTHS[0])


def test_two_hundred_documents_with_long_titles_are_listed_in_pieces_that_fit():
    documents = [DocumentInfo(f"dossier/document-{n:03d}.pdf", f"Titre {n:03d} & <annexe> " + "mot " * 246,
                              "0" * 64, "pdf", 12, 40, "2024-05-01T10:00:00") for n in range(200)]
    assert all(len(document.title) >= 1000 for document in documents)
    pieces = render.split_message(render.sources_html(documents))
    visible = "\n".join(_sent(pieces))
    assert all(f"Titre {n:03d} & <annexe>" in visible for n in range(200))
    assert visible.count("•") == 200 and len(pieces) <= 15


def test_shorten_cuts_at_a_word_with_an_ellipsis():
    assert render.shorten("Rapport " * 100, 30) == "Rapport Rapport Rapport…"
    assert render.shorten("x" * 100_000) == "x" * 199 + "…"
    assert render.shorten("Court") == "Court"
    assert len(render.cited(HUGE)) <= 2 * render.SHORT_FIELD + 20


def test_the_examples_in_the_docstrings_hold():
    import doctest  # bot/ is not among pytest's doctest paths

    assert doctest.testmod(render).failed == 0


def test_references_of_giant_titles_fit_one_message():
    from bot.render import references_text

    giant = Passage(0, "x.pdf", "Titre " * 1000, "Section " * 1000, 3, 3, "", author="Auteur " * 500, year=2017)
    text = references_text([giant] * 8)
    assert len(text.encode("utf-16-le")) // 2 < 4096 and text.count("[") == 8 and "2017, p. 3" in text
