"""bot/render.py: Telegram HTML escaped and split under 4096 characters; plain text and JSON views."""

import pytest

from bot import render
from bot.answer import Answer, Citation, Quote
from index.types import Passage
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
    assert len(pieces) > 1 and all(len(piece) <= render.TELEGRAM_LIMIT for piece in pieces)
    assert "\n\n".join(pieces) == "\n\n".join(paragraphs)  # nothing lost, cut only between paragraphs
    for piece in pieces:
        parse_html(piece)


def test_a_single_huge_paragraph_is_cut_between_words():
    pieces = render.split_message("mot " * 3000)
    assert all(len(piece) <= render.TELEGRAM_LIMIT for piece in pieces)
    assert sum(piece.count("mot") for piece in pieces) == 3000


def test_json_shape_of_an_answer():
    shape = render.answer_json(_answer("La Pactotec date de 2015."))
    assert set(shape) == {"question", "found", "answer", "understood", "citations"}
    assert shape["answer"] == "D’après le corpus : La Pactotec date de 2015. [1]"
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
