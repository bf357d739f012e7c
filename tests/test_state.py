"""bot/state.py: questions, feedback and button state survive a restart; button state expires; rate limit."""

import time

import pytest

from bot.state import SCHEMA_VERSION, BotState, RateLimiter
from bot.understand import Turn


def test_questions_feedback_and_buttons_survive_a_restart(tmp_path):
    state = BotState(tmp_path / "bot.sqlite")
    first = state.record_question(7, "Qui a fondé l’Odas ?", True)
    state.record_question(8, "Prix du métro ?", False)
    state.record_question(9, "prix du métro ?", False)
    state.record_feedback(first, 7, False, ["rapport.pdf"])
    state.record_feedback(first, 7, True, ["rapport.pdf"])  # a second tap replaces the first
    key = state.save_buttons({"kind": "answer", "question": "Qui ?"})
    assert len(key) == 8
    state.close()

    again = BotState(tmp_path / "bot.sqlite")
    assert again.load_buttons(key) == {"kind": "answer", "question": "Qui ?"}
    assert again.feedback_of(first) == [(7, 1, ["rapport.pdf"])]
    stats = again.stats()
    assert (stats.questions, stats.answered, stats.thumbs_up, stats.thumbs_down) == (3, 1, 1, 0)
    assert stats.unanswered[0][1] == 2  # the same question, whatever its case
    assert stats.days[0][1:] == (3, 1)


def test_button_state_expires(tmp_path):
    state = BotState(tmp_path / "bot.sqlite", button_ttl_seconds=0.05)
    key = state.save_buttons({"kind": "search"})
    time.sleep(0.1)
    assert state.load_buttons(key) is None
    assert state.load_buttons("inconnu") is None


def test_rate_limiter_counts_a_sliding_minute_per_user():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow(1) and limiter.allow(1) and not limiter.allow(1)
    assert limiter.allow(2)
    now[0] = 61.0
    assert limiter.allow(1)


def test_conversations_are_bounded_in_age_and_in_number(tmp_path, monkeypatch):
    from bot import state as state_module
    from bot.understand import Turn

    monkeypatch.setattr(state_module, "MAX_CONVERSATIONS", 5)
    monkeypatch.setattr(state_module, "PRUNE_EVERY", 4)
    state = BotState(tmp_path / "bot.sqlite", conversation_ttl_seconds=60)
    try:
        for n in range(12):
            state.remember_turn(f"chat-{n}", Turn("Angers", f"sujet {n}"), now=1000.0 + n)
        kept = [n for n in range(12) if state.last_turn(f"chat-{n}", now=1012.0) is not None]
        assert kept == [7, 8, 9, 10, 11]  # pruned at the 12th turn: the five newest
        state.remember_turn("chat-new", Turn("Creil", "accueil"), now=1100.0)  # the others are older than 60 s
        assert [n for n in range(12) if state.last_turn(f"chat-{n}", now=1100.0)] == []
        assert state.last_turn("chat-new", now=1100.0) == Turn("Creil", "accueil")
    finally:
        state.close()


def test_a_locked_memory_costs_the_user_nothing_but_the_memory(shipped_index, embedder, tmp_path):
    """Issue 23: `bot.sqlite` locked by another process while the bot answers: the answer computed goes out (no
    conversation context, not recorded), the fault is logged, nothing raises."""
    import sqlite3

    from bot.assistant import Assistant
    from bot.settings import BotSettings
    from index.config import IndexSettings

    path = tmp_path / "bot.sqlite"
    assistant = Assistant.build(BotSettings(index=IndexSettings(index_dir=shipped_index), state_db=path), embedder)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        answer, question_id = assistant.ask("Quand le Comptoir citoyen a-t-il ouvert ?", 7, conversation="chat:1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.found and any("octobre 2018" in quote.text for quote in answer.quotes)
    assert question_id == 0
    assistant.state.close()


@pytest.mark.parametrize("content", [b"ceci n'est pas une base SQLite" * 40, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_an_unreadable_memory_is_set_aside_and_recreated_saying_so(tmp_path, caplog, content):
    path = tmp_path / "bot.sqlite"
    path.write_bytes(content)
    state = BotState(path)
    state.record_question(1, "Qui ?", True)
    assert state.stats().questions == 1
    state.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("bot.sqlite.illisible-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content  # kept, for whoever wants to look at it
    assert any("mise de côté" in record.getMessage() for record in caplog.records)


# questions and feedback as schemas 0 and 1 wrote them (before answers and sources were kept)
_HISTORY_BEFORE_SCHEMA_2 = """
        CREATE TABLE questions (id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, day TEXT NOT NULL,
            user_id INTEGER NOT NULL, question TEXT NOT NULL, found INTEGER NOT NULL);
        CREATE TABLE feedback (question_id INTEGER NOT NULL, user_id INTEGER NOT NULL, value INTEGER NOT NULL,
            passages TEXT NOT NULL, given_at REAL NOT NULL, PRIMARY KEY (question_id, user_id));
"""


def test_a_memory_of_the_previous_schema_is_upgraded_keeping_history_and_feedback(tmp_path):
    import sqlite3

    path = tmp_path / "bot.sqlite"
    old = sqlite3.connect(path)
    old.executescript(_HISTORY_BEFORE_SCHEMA_2 + """
        CREATE TABLE buttons (id TEXT PRIMARY KEY, created_at REAL NOT NULL, payload TEXT NOT NULL);
        INSERT INTO questions VALUES (1, 0, '2026-01-01', 5, 'Qui dirige l’Odas ?', 1);
        INSERT INTO feedback VALUES (1, 5, 1, '[]', 0);
    """)
    old.commit()
    old.close()
    state = BotState(path)
    assert state.stats().questions == 1 and state.feedback_of(1) == [(5, 1, [])]
    key = state.save_buttons({"kind": "answer"}, 5)
    assert state.load_buttons(key) == {"kind": "answer"}
    state.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_user_s_button_states_are_capped(tmp_path, monkeypatch):
    import bot.state as state_module

    monkeypatch.setattr(state_module, "MAX_BUTTONS_PER_USER", 5)
    state = BotState(tmp_path / "bot.sqlite")
    keys = [state.save_buttons({"n": n}, 9) for n in range(12)]
    other = state.save_buttons({"n": "autre"}, 10)
    assert [state.load_buttons(key) is not None for key in keys] == [False] * 7 + [True] * 5
    assert state.load_buttons(other) == {"n": "autre"}
    state.close()


def test_another_application_s_database_is_left_untouched_and_a_current_memory_opens_without_writing(tmp_path):
    import sqlite3

    from bot.state import StateUnusable

    foreign = tmp_path / "autre.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY, nom TEXT)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(StateUnusable, match="autre application"):
        BotState(foreign)
    assert foreign.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["autre.sqlite"]

    path = tmp_path / "bot.sqlite"
    BotState(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writes: a current memory still opens (reads only)
    try:
        state = BotState(path)
        state.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_memory_of_schema_1_keeps_its_history_and_then_keeps_answers(tmp_path):
    """Schema 2 (issue 24): questions keep their answer text, sources and the question they followed; a schema 1
    memory (conversations without their last question) is upgraded in place, its history and feedback kept."""
    import sqlite3

    path = tmp_path / "bot.sqlite"
    old = sqlite3.connect(path)
    old.executescript(_HISTORY_BEFORE_SCHEMA_2 + """
        CREATE TABLE buttons (id TEXT PRIMARY KEY, created_at REAL NOT NULL, payload TEXT NOT NULL,
            user_id INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE conversations (key TEXT PRIMARY KEY, updated_at REAL NOT NULL, site TEXT NOT NULL,
            subject TEXT NOT NULL);
        INSERT INTO questions VALUES (1, 0, '2026-01-01', 5, 'Qui dirige l’Odas ?', 1);
        INSERT INTO feedback VALUES (1, 5, -1, '[]', 0);
        INSERT INTO conversations VALUES ('chat-5', 0, 'Angers', 'réciprocité');
        PRAGMA user_version = 1;
    """)
    old.commit()
    old.close()
    state = BotState(path)
    try:
        assert [(r.question, r.answer, r.positive) for r in state.rated_answers()] == [("Qui dirige l’Odas ?", "",
                                                                                         False)]
        assert state.last_question("chat-5") == ""
        asked = state.record_question(6, "et à Creil ?", True, answer="D’après le corpus : …",
                                      sources=[{"title": "Étude de cas — Creil", "page": "p. 2"}],
                                      previous="Quel sujet à Angers ?")
        state.record_feedback(asked, 6, True, [])
        state.remember_turn("chat-6", Turn("Creil", "petite enfance"), question="et à Creil ?")
        assert state.last_question("chat-6") == "et à Creil ?"
        newest = state.rated_answers()[-1]
        assert (newest.previous, newest.answer, newest.sources[0]["title"], newest.positive) == (
            "Quel sujet à Angers ?", "D’après le corpus : …", "Étude de cas — Creil", True)
        stats = state.stats()
        assert stats.cited == (("Étude de cas — Creil", 1),) and [r.question for r in stats.disliked] == [
            "Qui dirige l’Odas ?"]
    finally:
        state.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_a_memory_that_cannot_be_written_is_read_as_it_is(tmp_path, monkeypatch, caplog):
    """From the attack: a current memory in a read-only folder (or on a full disk) could not be opened at all —
    SQLite cannot make its -shm file. It is read as it is: history readable, writes skipped by the caller."""
    import sqlite3

    import bot.state as state_module

    path = tmp_path / "bot.sqlite"
    state = BotState(path)
    asked = state.record_question(5, "Qui dirige l’Odas ?", True, answer="D’après le corpus : …")
    state.record_feedback(asked, 5, False, [])
    state.close()

    def cannot_write(_: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(state_module, "_open", cannot_write)
    read_only = BotState(path)
    try:
        assert [r.question for r in read_only.rated_answers()] == ["Qui dirige l’Odas ?"]
        assert "lecture seule" in caplog.text
        with pytest.raises(sqlite3.Error):
            read_only.record_question(6, "Autre ?", True)
    finally:
        read_only.close()
