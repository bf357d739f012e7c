"""bot/handlers.py: what the admin's chat shows while an ingestion runs; what the bot sends stays within Telegram's
limits whatever the documents hold (the handlers run end to end in test_bot_e2e.py)."""

from bot import handlers, render
from bot.answer import Answer, Citation, Quote
from bot.handlers import ChatProgress
from bot.state import BotState
from index.types import Passage
from ingest.build import IngestReport
from tests.support.fake_telegram import CALLBACK_DATA_LIMIT, TEXT_LIMIT, parse_html

# a document whose title is 100 000 characters and whose heading 50 000, found by a 4 000-character query
HUGE = Passage(3, "rapport.pdf", "Rapport & <bilan> " * 5556, "Section « longue » " * 2632, 4, 5,
               "La Pactotec fédère les acteurs & les habitants depuis 2015. " * 20)
QUERY = "Pactotec & <habitants> " * 174


def test_chat_progress_says_how_long_is_left_while_embedding():
    now = [100.0]
    progress = ChatProgress(clock=lambda: now[0])
    assert progress.line() == "Réindexation en cours — Préparation…"
    progress.file_done("", 0, 1)
    progress.file_done("rapport.pdf", 1, 1)
    assert progress.line() == "Réindexation en cours — Lecture des fichiers : 1/1 fichiers"
    now[0] = 110.0  # reading and cutting took 10 s: not counted in the embedding pace
    progress.embedded(0, 900)
    assert progress.line() == "Réindexation en cours — Calcul des embeddings : 0/900 passages"
    now[0] = 140.0
    progress.embedded(120, 900)
    assert progress.line() == ("Réindexation en cours — Calcul des embeddings : 120/900 passages "
                               "— environ 3 min restantes")
    now[0] = 290.0
    progress.embedded(880, 900)
    assert progress.line().endswith("880/900 passages — moins d’une minute restante")


class _Message:
    """What `_send_search_page` calls on a Telegram message: replies and edits, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    async def reply_text(self, text, parse_mode=None, reply_markup=None):
        self.calls.append(("reply", text, reply_markup))

    async def edit_text(self, text, parse_mode=None, reply_markup=None):
        self.calls.append(("edit", text, reply_markup))


def _fits(text):
    assert render.utf16_len(text) <= TEXT_LIMIT
    return parse_html(text)  # balanced tags, whole entities


def _callback_data(markup):
    return [button.callback_data for row in markup.inline_keyboard for button in row]


async def test_every_search_page_is_one_edited_message_that_fits(tmp_path):
    assert len(HUGE.title) >= 100_000 and len(HUGE.section) >= 50_000 and len(QUERY) >= 4000
    state = BotState(tmp_path / "bot.sqlite")
    key = state.save_buttons({"kind": "search", "query": QUERY, "site": "Angers",
                              "passages": [handlers._stored(HUGE)] * handlers.SEARCH_DEPTH})
    state.close()
    message = _Message()
    for page in range(handlers.SEARCH_DEPTH // handlers.SEARCH_PAGE):
        await handlers._send_search_page(message, key, [HUGE] * handlers.SEARCH_DEPTH, QUERY, "Angers", page, True)
    assert [kind for kind, _, _ in message.calls] == ["edit"] * 6  # never split: one edit per page
    for _, text, markup in message.calls:
        assert "Pactotec & <habitants>" in _fits(text)
        assert all(len(data.encode()) <= CALLBACK_DATA_LIMIT for data in _callback_data(markup))


def test_answer_buttons_stay_under_64_bytes_whatever_the_passages(tmp_path):
    answer = Answer(QUERY, True, tuple(Quote(HUGE.text[:400], n) for n in range(1, 9)),
                    tuple(Citation(n, HUGE) for n in range(1, 9)), (HUGE,) * 20)
    state = BotState(tmp_path / "bot.sqlite")
    key = state.save_buttons(handlers._answer_state(answer, 12345, 7))
    state.close()
    data = _callback_data(handlers._answer_keyboard(answer, key))
    assert data[-1].startswith("r:")  # 8 passages, more, 👍, 👎, 📋 Référence
    assert len(data) == 12 and all(len(item.encode()) <= CALLBACK_DATA_LIMIT for item in data)


def test_an_ingestion_summary_with_many_long_failures_fits_in_a_few_messages():
    failed = tuple((f"dossier/{'sous-dossier/' * 80}annexe-{n:03d}.pdf", "Lecture impossible : « " + "titre " * 2000)
                   for n in range(300))
    pieces = render.split_message(handlers._ingest_summary(IngestReport(failed=failed)))
    visible = "\n".join(_fits(piece) for piece in pieces)
    assert visible.count("• Échec : dossier/") == handlers.FAILURES_SHOWN and len(pieces) <= 3
    assert "… et 280 autres fichiers en échec" in visible
