"""bot/web.py through a real aiohttp server on 127.0.0.1: every route, every refusal, tokens, live reload."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.assistant import Assistant
from bot.settings import BotSettings, Secret
from bot.web import build_web_app
from ingest.build import ingest
from tests.bot_world import ROOT, TOKEN, copy_shipped, running_bot


@pytest.fixture
def index(tmp_path, shipped_index):
    return copy_shipped(tmp_path, shipped_index)


async def _client(index, embedder, tmp_path, **overrides) -> tuple[TestClient, Assistant]:
    settings = replace(BotSettings(index=index, state_db=tmp_path / "bot.sqlite", reload_seconds=0.2), **overrides)
    assistant = Assistant.build(settings, embedder)
    client = TestClient(TestServer(build_web_app(assistant), host="127.0.0.1"))
    await client.start_server()
    return client, assistant


@pytest.fixture
async def client(index, embedder, tmp_path):
    client, assistant = await _client(index, embedder, tmp_path)
    yield client
    await client.close()
    assistant.state.close()


async def test_health_reports_the_served_index(client, embedder):
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["documents"] == 15 and body["passages"] > 50
    assert body["model"] == embedder.name and body["version"].startswith("v-")


async def test_health_says_why_it_is_not_ready(embedder, tmp_path):
    settings_index = replace(BotSettings().index, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "no-index")
    client, assistant = await _client(settings_index, embedder, tmp_path)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        assert "vve ingest" in (await response.json())["raison"]
        search = await client.get("/api/search", params={"q": "réciprocité"})
        assert search.status == 503 and "Aucun index" in (await search.json())["erreur"]
    finally:
        await client.close()
        assistant.state.close()


async def test_search_api_has_the_shape_of_vve_search_json(client):
    response = await client.get("/api/search", params={"q": "ateliers citoyens", "k": "3", "ville": "Le Havre"})
    assert response.status == 200
    body = await response.json()
    assert body["query"] == "ateliers citoyens" and body["site"] == "Le Havre" and len(body["hits"]) <= 3
    assert {"source", "title", "section", "page", "score", "text"} <= set(body["hits"][0])
    assert all(hit["site"] == "Le Havre" for hit in body["hits"])


async def test_ask_api_has_the_shape_of_vve_ask_json(client):
    response = await client.post("/api/ask", json={"question": "Quand le Comptoir citoyen a-t-il ouvert ?"})
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"question", "found", "answer", "understood", "citations"}
    assert body["found"] and "octobre 2018" in body["answer"]
    assert body["citations"][0]["source"] == "cas-angers.pdf"


@pytest.mark.parametrize("method, path, kwargs, status, words", [
    ("GET", "/api/search", {}, 400, "manquant"),
    ("GET", "/api/search", {"params": {"q": "x" * 501}}, 400, "trop long"),
    ("GET", "/api/search", {"params": {"q": "jeunesse", "k": "0"}}, 400, "entre 1 et 50"),
    ("GET", "/api/search", {"params": {"q": "jeunesse", "k": "dix"}}, 400, "nombre entier"),
    ("GET", "/api/search", {"params": {"q": "jeunesse", "ville": "Lyon"}}, 400, "Site inconnu"),
    ("POST", "/api/ask", {"data": "question=x"}, 415, "JSON"),
    ("POST", "/api/ask", {"data": "{pas du json", "headers": {"Content-Type": "application/json"}}, 400, "invalide"),
    ("POST", "/api/ask", {"json": ["question"]}, 400, "objet"),
    ("POST", "/api/ask", {"json": {"question": ""}}, 400, "manquant"),
    ("POST", "/api/ask", {"data": json.dumps({"question": "x" * 20000}),
                          "headers": {"Content-Type": "application/json"}}, 413, "trop volumineux"),
    ("GET", "/api/ask", {}, 405, "Méthode"),
    ("GET", "/nulle-part", {}, 404, "Adresse inconnue"),
])
async def test_bad_requests_get_a_french_json_error(client, method, path, kwargs, status, words):
    response = await client.request(method, path, **kwargs)
    assert response.status == status
    assert words in (await response.json())["erreur"]


async def test_metrics_count_requests_questions_and_index(client):
    await client.get("/api/search", params={"q": "réciprocité"})
    await client.post("/api/ask", json={"question": "Quand le Comptoir citoyen a-t-il ouvert ?"})
    await client.post("/api/ask", json={"question": "Quel est le prix du ticket de métro à Lyon ?"})
    await client.get("/api/search")
    text = await (await client.get("/metrics")).text()
    assert 'vve_http_requests_total{method="GET",route="/api/search",status="200"} 1.0' in text
    assert 'vve_http_requests_total{method="GET",route="/api/search",status="400"} 1.0' in text
    assert 'vve_questions_total{outcome="answered"} 1.0' in text
    assert 'vve_questions_total{outcome="unanswered"} 1.0' in text
    assert "vve_index_documents 15.0" in text and "vve_http_request_seconds_bucket" in text


async def test_api_token_is_required_when_set_and_health_stays_open(index, embedder, tmp_path):
    client, assistant = await _client(index, embedder, tmp_path, api_token=Secret("jeton-api-de-test-123"))
    try:
        assert (await client.get("/api/search", params={"q": "Pactotec"})).status == 401
        wrong = await client.get("/api/search", params={"q": "Pactotec"}, headers={"Authorization": "Bearer faux"})
        assert wrong.status == 401 and "Bearer" in (await wrong.json())["erreur"]
        good = await client.get("/api/search", params={"q": "Pactotec"},
                                headers={"Authorization": "Bearer jeton-api-de-test-123"})
        assert good.status == 200
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()
        assistant.state.close()


async def test_live_reload_under_concurrent_requests(index, embedder, tmp_path, client):
    (index.corpus_dir / "nouveau.md").write_text(
        "# Note nouvelle\n\nLe dispositif Ornithorynque accompagne les jeunes de Creil vers l’emploi.\n",
        encoding="utf-8")
    statuses: list[int] = []
    stop = asyncio.Event()
    before = await (await client.get("/api/search", params={"q": "Ornithorynque"})).json()
    assert not any("Ornithorynque" in hit["text"] for hit in before["hits"])  # the old version is served

    async def hammer() -> None:
        while not stop.is_set():
            response = await client.get("/api/search", params={"q": "jeunesse politique", "k": "5"})
            statuses.append(response.status)
            await response.read()

    workers = [asyncio.create_task(hammer()) for _ in range(8)]
    await asyncio.to_thread(ingest, index, embedder)  # another "process" swaps a new version in
    found = False
    for _ in range(50):  # the service reloads every 0.2 s here
        body = await (await client.get("/api/search", params={"q": "Ornithorynque"})).json()
        if body["hits"] and "Ornithorynque" in body["hits"][0]["text"]:
            found = True
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*workers)
    assert found  # then the new one, without a restart
    # no request failed around the swap; how many ran is the benchmark's business (bench.http_load), not a test's
    assert statuses and set(statuses) == {200}


async def test_webhook_refuses_without_the_secret_and_answers_with_it(index, embedder, tmp_path):
    async with running_bot(index, embedder, tmp_path, updater=False,
                           webhook_url="https://exemple.fr/vve/telegram",
                           webhook_secret=Secret("secret-du-webhook-123")) as world:
        app = build_web_app(world.assistant, world.application)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            registered = await world.server.wait_for(lambda c: c.method == "setWebhook")
            assert registered.params["url"] == "https://exemple.fr/vve/telegram"
            assert registered.params["secret_token"] == "secret-du-webhook-123"
            local = str(client.make_url("/")).rstrip("/")
            assert await world.server.say_through_webhook(777, "Pactotec", local, secret="") == 403
            assert await world.server.say_through_webhook(777, "Pactotec", local, secret="faux") == 403
            garbage_without_secret = await client.post("/vve/telegram", data="{")
            assert garbage_without_secret.status == 403  # refused before the body is parsed
            not_json = await client.post("/vve/telegram", data="{",
                                         headers={"X-Telegram-Bot-Api-Secret-Token": "secret-du-webhook-123"})
            assert not_json.status == 400
            assert not [c for c in world.server.calls if c.method == "sendMessage"]  # refused updates never ran
            mark = world.server.mark()
            status = await world.server.say_through_webhook(777, "Quand le Comptoir citoyen a-t-il ouvert ?", local)
            assert status == 200
            reply = await world.server.reply_to(777, mark, contains="D’après le corpus")
            assert "octobre 2018" in reply.text
        finally:
            await client.close()


def test_no_secret_in_reprs():
    settings = BotSettings(token=Secret(TOKEN), api_token=Secret("jeton-api-123456"))
    assert TOKEN not in repr(settings) and "jeton-api-123456" not in repr(settings)


async def test_serve_finishes_requests_in_flight_on_sigterm(index, tmp_path):
    import os
    import signal
    import socket
    import sys

    import aiohttp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "INDEX_DIR": str(index.index_dir), "CORPUS_DIR": str(index.corpus_dir), "PORT": str(port),
           "STATE_DB": str(tmp_path / "bot.sqlite"), "TELEGRAM_BOT_TOKEN": "", "WEBHOOK_URL": ""}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", cwd=str(ROOT), env=env,
                                                   stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            # the model loads on the first question: these are still in flight when SIGTERM arrives
            asks = [asyncio.create_task(session.post(f"{base}/api/ask", json={"question": "Pactotec Bordeaux"}))
                    for _ in range(5)]
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            responses = await asyncio.gather(*asks)
            assert [response.status for response in responses] == [200] * 5
            bodies = [await response.json() for response in responses]
            assert all(body["found"] for body in bodies)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
