"""bot/handlers.py: what the admin's chat shows while an ingestion runs (the handlers run end to end in
test_bot_e2e.py)."""

from bot.handlers import ChatProgress


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
