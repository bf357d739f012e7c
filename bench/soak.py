"""Bounded soak of `vve serve`: 10,000 varied questions, the server's memory before and after (goal: growth ≤ 10 %).

    .venv/bin/python -m bench.soak [--queries 10000] [--warm-up 1000] [--clients 8] [--seed 11]

The server runs in its own process on the sample corpus (ingested into a temporary folder). Every question is new:
words of the corpus mixed with invented words, misspellings, sites, English, a `ville:` filter, conversation ids,
lone surrogates and control characters — what would fill any cache keyed by what users type. Half go to
/api/search, half to /api/ask. RSS is read from /proc/<pid>/status: at ready, after a warm-up of 1,000 questions
(the worker threads, the allocator's arenas and the bounded caches reach their working size: measured, RSS climbs
over the first 2,000-3,000 questions then stays flat), every 2,000 questions, and at the end; the growth counted is
from the warm-up to the end, the growth from ready is printed too. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.http_load import start_service, wait_until_ready
from index.config import IndexSettings, index_settings_from_env
from index.embedder import make_embedder
from index.store import IndexSnapshot
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
SITES = ["Angers", "Bordeaux", "Le Havre", "Creil", "Strasbourg", "Valenciennes", "Clichy-sous-Bois", "Lyon"]
STARTS = ["Comment", "Pourquoi", "Quand", "Qui", "Quel est", "Que fait", "What is", "Où", "Combien de", ""]
GOAL_PERCENT = 10.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def corpus_words(index_dir: Path) -> list[str]:
    """The words of the corpus as the documents write them (the index's own list)."""
    snapshot = IndexSnapshot.open(index_dir)
    try:
        return sorted(word for word in snapshot.words.values() if len(word) > 3)
    finally:
        snapshot.close()


def invented(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéèàç") for _ in range(rng.randint(4, 14)))


def misspelt(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    cut = rng.randrange(1, len(word) - 1)
    return word[:cut] + word[cut + 1:]  # a letter dropped


def question(rng: random.Random, words: list[str], n: int) -> str:
    parts = [rng.choice(STARTS)]
    for _ in range(rng.randint(2, 7)):
        kind = rng.random()
        if kind < 0.45:
            parts.append(rng.choice(words))
        elif kind < 0.7:
            parts.append(invented(rng))  # a term no index holds: the old per-query caches grew on these
        elif kind < 0.85:
            parts.append(misspelt(rng.choice(words), rng))
        else:
            parts.append(rng.choice(SITES))
    if rng.random() < 0.1:
        parts.append(f"ville:{rng.choice(SITES[:7])}")
    if rng.random() < 0.03:
        parts.append(rng.choice(["\ud800", "\x00", "\u200b", "😀"]))
    return f"{' '.join(p for p in parts if p)} {n} ?"


async def soak(base: str, questions: list[str], clients: int, rng: random.Random, pid: int,
               samples: list[float] | None = None) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in enumerate(questions):
        queue.put_nowait(item)
    conversations = [f"soak-{rng.randrange(10**9)}" for _ in range(500)]
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            while not queue.empty():
                n, text = queue.get_nowait()
                if n and n % 2000 == 0 and samples is not None:
                    samples.append(rss_mb(pid))
                began = time.perf_counter()
                if n % 2:
                    request = session.post(f"{base}/api/ask", json={"question": text,
                                                                    "conversation": conversations[n % 500]})
                else:
                    request = session.get(f"{base}/api/search", params={"q": text.encode("utf-8", "replace")
                                                                         .decode("utf-8"), "k": str(1 + n % 10)})
                async with request as response:
                    await response.read()
                    statuses[response.status] += 1
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses


def _summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return (f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.0f}"
            f" ms")


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    embedder = make_embedder(index_settings_from_env())
    with tempfile.TemporaryDirectory() as work:
        corpus, index_dir = Path(work) / "corpus", Path(work) / "index"
        shutil.copytree(ROOT / "corpus", corpus)
        ingest(IndexSettings(corpus_dir=corpus, index_dir=index_dir), embedder)
        words = corpus_words(index_dir)
        warm = [question(rng, words, -n) for n in range(1, args.warm_up + 1)]
        questions = [question(rng, words, n) for n in range(args.queries)]
        server, base, _ = start_service(Path(work), corpus, index_dir)
        try:
            await wait_until_ready(base)
            at_ready = rss_mb(server.pid)
            latencies, _ = await soak(base, warm, args.clients, rng, server.pid)
            before = rss_mb(server.pid)
            print(f"server RSS at ready {at_ready:.0f} MB, after {len(warm)} warm-up questions {before:.0f} MB "
                  f"({_summary(latencies)})")
            started = time.perf_counter()
            samples: list[float] = []
            latencies, statuses = await soak(base, questions, args.clients, rng, server.pid, samples)
            seconds = time.perf_counter() - started
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    growth = (after - before) / before * 100
    print(f"{len(questions)} varied questions, {args.clients} clients, {seconds:.0f} s ({len(questions) / seconds:.0f}"
          f" req/s), {_summary(latencies)}; statuses {dict(sorted(statuses.items()))}")
    print("RSS every 2000 questions (MB): " + ", ".join(f"{sample:.0f}" for sample in samples))
    print(f"server RSS before {before:.0f} MB, after {after:.0f} MB: growth {growth:+.1f} % "
          f"(goal ≤ {GOAL_PERCENT:.0f} %; from ready: {(after - at_ready) / at_ready * 100:+.1f} %)")
    return 0 if growth <= GOAL_PERCENT and set(statuses) <= {200, 400} else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--warm-up", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
