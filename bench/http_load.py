"""Load test of `vve serve` on loopback: 50 concurrent clients on /api/search for 30 s, then the same during a
`vve ingest --full` of the sample corpus; beside the in-process search time measured in the same run.

    .venv/bin/python -m bench.http_load [--clients 50] [--seconds 30] [--max-requests 200000]

The server runs in its own process (as in production); the clients are one aiohttp session in this process. Each
phase stops by itself after --seconds or --max-requests. An error is any answer other than 200 or a failed
connection.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from index.config import IndexSettings, index_settings_from_env
from index.embedder import Embedder, make_embedder
from index.retriever import Retriever
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["réciprocité Angers", "observation partagée Bordeaux", "Pactotec", "ateliers citoyens Le Havre",
           "politique jeunesse Valenciennes", "Qui a fondé l’Odas ?", "préconisations services de l’État",
           "street workout Strasbourg", "gouvernance locale de la cohésion sociale", "Clichy-sous-Bois"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(work: Path, corpus: Path, index_dir: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """`vve serve` in its own process on a free loopback port, without Telegram or API token: (process, base URL,
    its environment). The caller terminates it."""
    port = _free_port()
    env = {**os.environ, "INDEX_DIR": str(index_dir), "CORPUS_DIR": str(corpus), "PORT": str(port),
           "STATE_DB": str(work / "bot.sqlite"), "TELEGRAM_BOT_TOKEN": "", "WEBHOOK_URL": "", "API_TOKEN": ""}
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}", env


async def wait_until_ready(base: str, tries: int = 600) -> None:
    """Until `/healthz` answers 200 (model warm, index read), polling every 0.1 s."""
    async with aiohttp.ClientSession() as session:
        for _ in range(tries):
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


def _summary(name: str, latencies: list[float], errors: int, seconds: float) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000 if ordered else float("nan")
    return (f"{name}: {len(latencies)} requests in {seconds:.1f} s = {len(latencies) / seconds:.1f} req/s, "
            f"errors {errors}, p50 {p50:.1f} ms, p95 {p95:.1f} ms")


async def _load(base: str, clients: int, seconds: float, max_requests: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(number: int) -> None:
            nonlocal errors
            n = number
            while time.monotonic() < deadline and len(latencies) + errors < max_requests:
                query = QUERIES[n % len(QUERIES)]
                n += clients
                began = time.perf_counter()
                try:
                    async with session.get(f"{base}/api/search", params={"q": query, "k": "5"}) as response:
                        await response.read()
                        if response.status == 200:
                            latencies.append(time.perf_counter() - began)
                        else:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1

        await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies, errors, time.monotonic() - started


async def _version(base: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
        return str((await response.json())["version"])


def in_process(index: IndexSettings, embedder: Embedder, rounds: int = 20) -> tuple[float, float]:
    retriever = Retriever(index.index_dir, embedder)
    for query in QUERIES:
        retriever.search(query)
    samples = []
    for n in range(rounds * len(QUERIES)):
        began = time.perf_counter()
        retriever.search(QUERIES[n % len(QUERIES)], k=5)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000, len(samples) / sum(samples)


def encoder_ceiling(embedder: Embedder, rounds: int = 10) -> float:
    """Queries per second the embedding model reaches on the bench's queries when given 50 at a time."""
    batch = (QUERIES * 5)[:50]
    embedder.embed_queries(batch)
    started = time.perf_counter()
    for _ in range(rounds):
        embedder.embed_queries(batch)
    return rounds * len(batch) / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    embedder = make_embedder(index_settings_from_env())
    with tempfile.TemporaryDirectory() as work:
        corpus, index_dir = Path(work) / "corpus", Path(work) / "index"
        shutil.copytree(ROOT / "corpus", corpus)
        index = IndexSettings(corpus_dir=corpus, index_dir=index_dir)
        ingest(index, embedder)
        p50, rate = in_process(index, embedder)
        print(f"in process (Retriever.search, one at a time): p50 {p50:.1f} ms, {rate:.1f} searches/s")
        ceiling = encoder_ceiling(embedder)
        print(f"the encoder alone, these queries in batches of 50 on every core: {ceiling:.1f} queries/s "
              f"({ceiling / rate:.2f}x the one-at-a-time rate: no search rate can exceed it)")
        server, base, env = start_service(Path(work), corpus, index_dir)
        try:
            await wait_until_ready(base)
            await _load(base, 5, 3, 1000)  # warm-up: the model loads on the first search
            latencies, errors, seconds = await _load(base, args.clients, args.seconds, args.max_requests)
            print(_summary(f"{args.clients} clients, /api/search", latencies, errors, seconds))
            print(f"  p50 vs in-process search: {statistics.median(latencies) * 1000 / p50:.1f}x; throughput vs "
                  f"in-process one-at-a-time: {len(latencies) / seconds / rate:.2f}x")
            before = await _version(base)
            ingestion = subprocess.Popen([sys.executable, "-m", "bot", "ingest", "--full", "--quiet"], cwd=ROOT,
                                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            latencies, errors, seconds = await _load(base, args.clients, args.seconds, args.max_requests)
            output = ingestion.communicate(timeout=600)[0].strip()
            await asyncio.sleep(3)
            after = await _version(base)
            print(_summary(f"{args.clients} clients during `vve ingest --full`", latencies, errors, seconds))
            print(f"  ingestion: exit {ingestion.returncode}, {output.splitlines()[-1] if output else ''}")
            swapped = "swapped" if before != after else "NOT swapped"
            print(f"  served version before {before}, after {after} ({swapped})")
        finally:
            server.terminate()
            server.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
