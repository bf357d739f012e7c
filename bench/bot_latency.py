"""Answer latency through the Bot API (our fake server on loopback), for 1 and 50 concurrent users, beside the
in-process answer time measured in the same run.

    .venv/bin/python -m bench.bot_latency [--rounds 5]

Through the bot: from the moment a user's message is queued on the server to the moment the answer arrives there
(getUpdates long polling, handler, retrieval in a worker thread, sendChatAction + sendMessage through PTB's
AIORateLimiter). In process: `Assistant.ask` for the same questions, one at a time (1 user) or 50 at once in
worker threads (50 users), timed from submission. The bot's overhead is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from index.config import IndexSettings
from index.embedder import SentenceTransformerEmbedder
from ingest.build import ingest
from tests.bot_world import running_bot

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PTB_TIMEDELTA", "1")  # python-telegram-bot 22: durations as timedelta (opt-in)
QUESTIONS = ["Quand le Comptoir citoyen a-t-il ouvert ?", "Comment Bordeaux a-t-elle organisé l’observation "
             "partagée ?", "Qu’est-ce que l’engagement solidaire à Angers ?", "Quels sites travaillaient sur la "
             "politique jeunesse ?", "Qui a fondé l’Odas ?", "Que sont les ateliers citoyens du Havre ?"]


def _p(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def _in_process(world: object, users: int, rounds: int) -> list[float]:
    assistant = world.assistant  # type: ignore[attr-defined]

    async def one(n: int) -> float:
        started = time.perf_counter()  # waiting for a worker thread counts, as it does for the bot
        await asyncio.to_thread(assistant.ask, QUESTIONS[n % len(QUESTIONS)], 0, False)
        return time.perf_counter() - started

    samples: list[float] = []
    for _ in range(rounds):
        samples += await asyncio.gather(*(one(n) for n in range(users)))
    return samples


async def _through_bot(world: object, users: int, rounds: int) -> list[float]:
    server = world.server  # type: ignore[attr-defined]
    samples: list[float] = []

    async def one(user: int, question: str) -> float:
        mark = server.mark()
        started = time.perf_counter()
        await server.say(user, question)
        await server.reply_to(user, mark, timeout=120, contains="corpus")
        return time.perf_counter() - started

    for round_number in range(rounds):
        base = 10_000 + round_number * 1000
        samples += await asyncio.gather(*(one(base + n, QUESTIONS[n % len(QUESTIONS)]) for n in range(users)))
    return samples


async def run(rounds: int) -> None:
    embedder = SentenceTransformerEmbedder(IndexSettings().embedding_model)
    with tempfile.TemporaryDirectory() as work:
        index = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=Path(work) / "index")
        ingest(index, embedder)
        for rate_limited in (True, False):
            print("with PTB's AIORateLimiter (as shipped: Telegram allows about 30 messages a second)" if rate_limited
                  else "without the rate limiter (the code's own overhead)")
            await _measure(index, embedder, Path(work), rounds, rate_limited)


async def _measure(index: IndexSettings, embedder: SentenceTransformerEmbedder, work: Path, rounds: int,
                   rate_limited: bool) -> None:
    state = work / f"bot-{rate_limited}"
    state.mkdir()
    async with running_bot(index, embedder, state, questions_per_minute=10_000, rate_limited=rate_limited) as world:
        await _in_process(world, 1, 2)  # warm-up
        await _through_bot(world, 1, 2)
        for users in (1, 50):
            local = await _in_process(world, users, rounds if users > 1 else rounds * 6)
            bot = await _through_bot(world, users, rounds if users > 1 else rounds * 6)
            local_p50, local_p95 = _p(local)
            bot_p50, bot_p95 = _p(bot)
            print(f"{users} user(s) at once, {len(bot)} answers:")
            print(f"  in process (Assistant.ask): p50 {local_p50:7.1f} ms  p95 {local_p95:7.1f} ms")
            print(f"  through the bot:            p50 {bot_p50:7.1f} ms  p95 {bot_p95:7.1f} ms")
            print(f"  bot overhead: p50 +{bot_p50 - local_p50:.1f} ms ({(bot_p50 - local_p50) / bot_p50:.0%} of "
                  f"the answer time), p95 +{bot_p95 - local_p95:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    asyncio.run(run(args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
