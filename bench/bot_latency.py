"""Answer latency through Telegram's Bot API for 1 and 50 concurrent users, beside the in-process answer time
measured in the same run.

    .venv/bin/python -m bench.bot_latency [--rounds 5] [--messages-per-second 30]

Three processes, as in production: the tests' Bot API server (`python -m tests.support.fake_telegram`), the bot
itself (`python -m bot bot`, polling it through TELEGRAM_API_BASE_URL, with its rate limiter), and this one, which
plays the users through the server's control routes. Through the bot: from the moment a user's message is queued on
the server to the moment the answer arrives there. In process: `Assistant.ask` for the same questions in this
process, one at a time (1 user) or 50 at once in worker threads timed from submission (50 users). The bot's
overhead is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.assistant import Assistant, use_worker_threads
from bot.settings import BotSettings
from index.config import IndexSettings, index_settings_from_env
from index.embedder import make_embedder
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:BENCH-token"
QUESTIONS = ["Quand le Comptoir citoyen a-t-il ouvert ?", "Comment Bordeaux a-t-elle organisé l’observation "
             "partagée ?", "Qu’est-ce que l’engagement solidaire à Angers ?", "Quels sites travaillaient sur la "
             "politique jeunesse ?", "Qui a fondé l’Odas ?", "Que sont les ateliers citoyens du Havre ?"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _p(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def _in_process(assistant: Assistant, users: int, rounds: int) -> list[float]:
    use_worker_threads(asyncio.get_running_loop())  # the bot's own pool: questions asked together make one batch

    async def one(n: int) -> float:
        started = time.perf_counter()  # waiting for a worker thread counts, as it does for the bot
        await asyncio.to_thread(assistant.ask, QUESTIONS[n % len(QUESTIONS)], 0, False)
        return time.perf_counter() - started

    samples: list[float] = []
    for _ in range(rounds):
        samples += await asyncio.gather(*(one(n) for n in range(users)))
    return samples


async def _through_bot(session: aiohttp.ClientSession, control: str, users: int, rounds: int,
                       first_user: int) -> list[float]:
    async def call(action: str, **body: object) -> dict[str, object]:
        async with session.post(f"{control}/{action}", json=body) as response:
            answer: dict[str, object] = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{action}: {answer}")
            return answer

    async def one(user: int, question: str) -> float:
        mark = (await call("mark"))["mark"]
        started = time.perf_counter()
        await call("say", user=user, text=question)
        await call("reply", chat=user, since=mark, contains="corpus", timeout=120)
        return time.perf_counter() - started

    samples: list[float] = []
    for round_number in range(rounds):
        base = first_user + round_number * 1000
        samples += await asyncio.gather(*(one(base + n, QUESTIONS[n % len(QUESTIONS)]) for n in range(users)))
    return samples


async def run(rounds: int, messages_per_second: int) -> None:
    embedder = make_embedder(index_settings_from_env())
    with tempfile.TemporaryDirectory() as work:
        index = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=Path(work) / "index")
        ingest(index, embedder)
        assistant = Assistant.build(BotSettings(index=index, state_db=Path(work) / "local.sqlite"), embedder)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "tests.support.fake_telegram", "--port", str(port),
                                   "--token", TOKEN], cwd=ROOT)
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}",
               "INDEX_DIR": str(index.index_dir), "CORPUS_DIR": str(index.corpus_dir),
               "STATE_DB": str(Path(work) / "bot.sqlite"), "QUESTIONS_PER_MINUTE": "10000", "WEBHOOK_URL": "",
               "TELEGRAM_MESSAGES_PER_SECOND": str(messages_per_second)}
        log_file = open(Path(work) / "bot.log", "w")  # noqa: SIM115 - closed with the process
        bot = subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=ROOT, env=env, stderr=log_file)
        control = f"http://127.0.0.1:{port}/_control"
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
                for _ in range(600):
                    try:
                        async with session.post(f"{control}/ready", json={}) as response:
                            if (await response.json())["ready"]:
                                break
                    except aiohttp.ClientError:
                        pass
                    if bot.poll() is not None:
                        raise RuntimeError("the bot stopped: " + Path(work, "bot.log").read_text()[-2000:])
                    await asyncio.sleep(0.1)
                await _in_process(assistant, 1, 3)  # warm-up, both sides (the bot loads its model now)
                await _through_bot(session, control, 1, 3, 1)
                for users in (1, 50):
                    count = rounds if users > 1 else rounds * 6
                    local = await _in_process(assistant, users, count)
                    remote = await _through_bot(session, control, users, count, 100_000 * users)
                    local_p50, local_p95 = _p(local)
                    bot_p50, bot_p95 = _p(remote)
                    print(f"{users} user(s) at once, {len(remote)} answers:")
                    print(f"  in process (Assistant.ask): p50 {local_p50:7.1f} ms  p95 {local_p95:7.1f} ms")
                    print(f"  through the bot:            p50 {bot_p50:7.1f} ms  p95 {bot_p95:7.1f} ms")
                    print(f"  bot overhead: p50 +{bot_p50 - local_p50:.1f} ms "
                          f"({(bot_p50 - local_p50) / bot_p50:.0%} of the answer time), "
                          f"p95 +{bot_p95 - local_p95:.1f} ms")
        finally:
            bot.terminate()
            server.terminate()
            bot.wait(timeout=60)
            server.wait(timeout=60)
            assistant.state.close()
            log_file.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages-per-second", type=int, default=30,
                        help="the bot's flood limiter (Telegram's: 30); 0 turns it off to measure what it costs")
    args = parser.parse_args(argv)
    print(f"bot's flood limiter: {args.messages_per_second or 'off'} messages/s")
    asyncio.run(run(args.rounds, args.messages_per_second))
    return 0


if __name__ == "__main__":
    sys.exit(main())
