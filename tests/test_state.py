"""bot/state.py: questions, feedback and button state survive a restart; button state expires; rate limit."""

import time

from bot.state import BotState, RateLimiter


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
