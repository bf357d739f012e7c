import json
import subprocess
import sys
from pathlib import Path

from bot.cli import main
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent


def _env(settings, monkeypatch):
    monkeypatch.setenv("CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("INDEX_DIR", str(settings.index_dir))


def test_search_json_contract(settings, embedder, monkeypatch, capsys, report_pdf):
    report_pdf(settings.corpus_dir / "rapport.pdf")
    ingest(settings, embedder)
    _env(settings, monkeypatch)
    assert main(["search", "engagement solidaire réciprocité", "-k", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["query"] == "engagement solidaire réciprocité"
    assert 1 <= len(result["hits"]) <= 2
    hit = result["hits"][0]
    assert {"source", "title", "section", "page", "score", "text"} <= hit.keys()
    assert hit["source"] == "rapport.pdf" and hit["section"] == "1.1 Les acteurs" and hit["page"] == 3
    assert hit["title"] == "Rapport d’essai sur la cohésion sociale"
    assert "engagement solidaire" in hit["text"]


def test_search_reads_one_query_a_line_from_stdin(settings, embedder, report_pdf):
    report_pdf(settings.corpus_dir / "rapport.pdf")
    ingest(settings, embedder)
    env = {"CORPUS_DIR": str(settings.corpus_dir), "INDEX_DIR": str(settings.index_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bot", "search", "--json", "-k", "1"], cwd=ROOT, env=env,
                          input="Pactotec\n\nateliers citoyens\n", capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["Pactotec", "ateliers citoyens"]
    assert "Pactotec" in lines[0]["hits"][0]["text"]


def test_a_huge_stdin_line_is_refused_in_french_and_a_closed_pipe_ends_quietly(shipped_index, tmp_path):
    """Issue 23: a 20 MB line on standard input is dropped in bounded pieces (it once cost gigabytes), and
    « vve search … | head -1 » ends without a BrokenPipeError traceback."""
    import resource

    env = {"INDEX_DIR": str(shipped_index), "STATE_DB": str(tmp_path / "bot.sqlite"), "PATH": "/usr/bin:/bin"}
    huge = "cohésion " * 2_300_000 + "\nPactotec\n"
    done = subprocess.run([sys.executable, "-m", "bot", "search", "--json", "-k", "1"], cwd=ROOT, env=env,
                          input=huge, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "recherche trop longue" in done.stderr and "Traceback" not in done.stderr
    assert [json.loads(line)["query"] for line in done.stdout.splitlines()] == ["Pactotec"]
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1_500_000  # kB: not gigabytes
    chat = subprocess.run([sys.executable, "-m", "bot", "chat", "--json"], cwd=ROOT, env=env, input=huge,
                          capture_output=True, text=True, timeout=300)
    assert chat.returncode == 0 and "Traceback" not in chat.stderr
    first, second = (json.loads(line) for line in chat.stdout.splitlines())
    assert "trop longue" in first["erreur"] and second["question"] == "Pactotec"
    piped = subprocess.run(f"'{sys.executable}' -m bot search Pactotec -k 20 | head -c 10", shell=True, cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=180)
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_search_text_output_shows_citation(settings, embedder, monkeypatch, capsys, report_pdf):
    report_pdf(settings.corpus_dir / "rapport.pdf")
    ingest(settings, embedder)
    _env(settings, monkeypatch)
    assert main(["search", "Pactotec"]) == 0
    out = capsys.readouterr().out
    assert "1. Rapport d’essai sur la cohésion sociale, 2. Résultats, p. 4" in out


def test_missing_index_is_a_french_message_and_exit_2(settings, monkeypatch, capsys):
    _env(settings, monkeypatch)
    assert main(["search", "réciprocité"]) == 2
    assert "Aucun index" in capsys.readouterr().err


def test_unknown_site_filter_is_explained(settings, embedder, monkeypatch, capsys):
    (settings.corpus_dir / "sites.toml").write_text('[[site]]\nname = "Angers"\n', encoding="utf-8")
    (settings.corpus_dir / "a.txt").write_text("Angers\n\nRéciprocité.", encoding="utf-8")
    ingest(settings, embedder)
    _env(settings, monkeypatch)
    assert main(["search", "réciprocité ville:Lyon"]) == 2
    assert "Site inconnu : « Lyon »" in capsys.readouterr().err
    assert main(["search", "réciprocité", "--ville", "Lyon"]) == 2  # the option is checked as the filter is
    assert "Site inconnu : « Lyon »" in capsys.readouterr().err
    assert main(["search", "réciprocité", "--ville", "angers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["site"] == "Angers"  # written as the corpus writes it


def test_ingest_exit_codes_and_summary(settings, monkeypatch, capsys):
    _env(settings, monkeypatch)
    (settings.corpus_dir / "ok.txt").write_text("Titre\n\nTexte utile.", encoding="utf-8")
    (settings.corpus_dir / "vide.txt").write_bytes(b"")
    assert main(["ingest", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "Échec : vide.txt — fichier vide" in captured.err
    assert "1 ajouté(s)" in captured.out and "1 en échec" in captured.out
    (settings.corpus_dir / "vide.txt").unlink()
    assert main(["ingest", "--quiet"]) == 0


def _two_notes(corpus: Path) -> None:
    for n in range(2):
        (corpus / f"note-{n}.md").write_text(f"# Note {n}\n\n" + " ".join(
            f"La séance {n}.{k} a porté sur la médiation sociale et l’accès aux droits." for k in range(60)),
            encoding="utf-8")


def test_ingest_draws_no_progress_bar_when_stderr_is_not_a_terminal(settings):
    _two_notes(settings.corpus_dir)
    env = {"CORPUS_DIR": str(settings.corpus_dir), "INDEX_DIR": str(settings.index_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bot", "ingest"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "2 ajouté(s)" in done.stdout
    assert "Lecture des fichiers : 2/2 fichiers" in done.stderr  # the log lines of a run in a pipe, as before
    for garbage in ("\r", "\x1b[", "█", "%|", " 0/"):
        assert garbage not in done.stderr, done.stderr


def test_ingest_in_a_pipe_logs_each_tenth_of_the_embeddings_with_the_time_left(caplog):
    from ingest.__main__ import TerminalProgress

    progress = TerminalProgress(quiet=False)
    progress.bars = False  # as in a pipe
    with caplog.at_level("INFO", logger="ingest.__main__"):
        for done in (0, 32, 64, 96, 100):  # batches of 32 never land on a multiple of 10
            progress.embedded(done, 100)
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" (")[0] for line in lines] == [f"Calcul des embeddings : {n}/100 passages"
                                                       for n in (32, 64, 96, 100)]
    assert all("reste ~" in line for line in lines[:3]) and "reste" not in lines[3]


def test_ingest_on_a_terminal_shows_a_bar_with_the_time_left(settings):
    import fcntl
    import os
    import pty
    import struct
    import termios

    _two_notes(settings.corpus_dir)
    env = {"CORPUS_DIR": str(settings.corpus_dir), "INDEX_DIR": str(settings.index_dir), "PATH": "/usr/bin:/bin"}
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "bot", "ingest"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the command has closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(master)
    out, _ = process.communicate(timeout=180)
    assert process.returncode == 0 and "2 ajouté(s)" in out.decode()
    text = shown.decode("utf-8", "replace")
    assert "Lecture des fichiers" in text and "Calcul des embeddings" in text
    assert "passages" in text and "reste" in text and "écoulé" in text


def test_usage_error_exit_2(capsys):
    try:
        main(["search", "-k", "pas-un-nombre"])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("argparse should have exited")


def test_ask_json_contract(shipped_index, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("INDEX_DIR", str(shipped_index))
    monkeypatch.setenv("STATE_DB", str(tmp_path / "bot.sqlite"))
    assert main(["ask", "--json", "Quand le Comptoir citoyen a-t-il ouvert ?"]) == 0
    shape = json.loads(capsys.readouterr().out)
    assert set(shape) == {"question", "found", "answer", "understood", "citations", "band", "band_label"}
    assert shape["found"] is True and "octobre 2018" in shape["answer"] and "[1]" in shape["answer"]
    # the fitted decision's band, never its raw probability
    assert (shape["band"], shape["band_label"]) in (("sure", "réponse sûre"), ("check", "à vérifier dans le document"))
    assert shape["band_label"] in shape["answer"]
    citation = shape["citations"][0]
    assert {"source", "title", "section", "page", "text"} <= set(citation)
    assert citation["source"] == "cas-angers.pdf" and citation["page"] == 2

    assert main(["ask", "--json", "Quel est le prix du ticket de métro à Lyon ?"]) == 0
    miss = json.loads(capsys.readouterr().out)
    assert miss["found"] is False and miss["citations"] == [] and "Je n’ai pas trouvé" in miss["answer"]
    assert miss["band"] == "" and "probability" not in json.dumps(miss)


def test_chat_answers_each_line_of_stdin_until_its_end(shipped_index, monkeypatch, capsys, tmp_path):
    import io

    monkeypatch.setenv("INDEX_DIR", str(shipped_index))
    monkeypatch.setenv("STATE_DB", str(tmp_path / "bot.sqlite"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("réciprocité Angers\n\njeunesse ville:Lyon\nPactotec\n"))
    assert main(["main"]) == 0  # no token: `make run` chats in the terminal
    out = capsys.readouterr().out
    assert out.count("Question : ") == 2 and out.count("D’après le corpus") == 2
    assert "Site inconnu : « Lyon »" in out
    assert "Sources :" in out and "cas-angers.pdf" in out


def test_bot_without_token_says_what_to_do(monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["bot"]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_chat_json_keeps_one_conversation_for_its_whole_input(tmp_path, shipped_index):
    from tests.bot_world import copy_shipped

    index = copy_shipped(tmp_path, shipped_index)
    env = {"CORPUS_DIR": str(index.corpus_dir), "INDEX_DIR": str(index.index_dir), "PATH": "/usr/bin:/bin",
           "STATE_DB": str(tmp_path / "bot.sqlite")}
    questions = "Quel était le sujet d’accompagnement d’Angers ?\net à Creil ?\n"
    done = subprocess.run([sys.executable, "-m", "bot", "chat", "--json"], cwd=ROOT, env=env, input=questions,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["found"] and not first["understood"]["context"]
    assert second["question"] == "et à Creil ?" and second["found"]
    assert second["understood"]["context"].startswith("Creil")
    assert any(citation["site"] == "Creil" for citation in second["citations"])
    assert {"question", "found", "answer", "understood", "citations"} <= second.keys()


def _bot_env(monkeypatch, index_dir: Path, tmp_path: Path, base_url: str, token: str = "123456:TEST-token") -> None:
    for key, value in {"INDEX_DIR": str(index_dir), "STATE_DB": str(tmp_path / "bot.sqlite"),
                       "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": base_url, "WEBHOOK_URL": ""}.items():
        monkeypatch.setenv(key, value)


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


async def test_bot_without_a_reachable_bot_api_says_so_in_one_french_line(shipped_index, monkeypatch, capsys,
                                                                          caplog, tmp_path):
    import asyncio

    import bot.application
    from tests.support.fake_telegram import FakeTelegram

    monkeypatch.setattr(bot.application, "CONNECT_DELAYS", (0.0,))
    _bot_env(monkeypatch, shipped_index, tmp_path, f"http://127.0.0.1:{_closed_port()}")
    assert await asyncio.to_thread(main, ["bot"]) == 4
    error = capsys.readouterr().err.strip()
    assert error.startswith("Erreur : l’API des bots Telegram") and "injoignable" in error
    assert len(error.splitlines()) == 1

    server = FakeTelegram("123456:the-real-token")
    base_url = await server.start()
    try:
        _bot_env(monkeypatch, shipped_index, tmp_path, base_url, token="123456:a-revoked-token")
        assert await asyncio.to_thread(main, ["bot"]) == 4
        assert "refuse le jeton" in capsys.readouterr().err
    finally:
        await server.stop()
    assert not [record for record in caplog.records if record.exc_info]  # no traceback anywhere


def test_serve_in_webhook_mode_without_a_reachable_bot_api_exits_4(shipped_index, tmp_path):
    import os

    env = {**os.environ, "INDEX_DIR": str(shipped_index), "STATE_DB": str(tmp_path / "bot.sqlite"),
           "TELEGRAM_BOT_TOKEN": "123456:TEST-token", "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
           "WEBHOOK_URL": "https://exemple.fr/vve/telegram", "PORT": str(_closed_port())}
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 4
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Erreur : l’API des bots Telegram")
