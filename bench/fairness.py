"""One user's flood against another user's answer time, through the real bot and a Bot API that answers 429 beyond
Telegram's rates (30 messages/s overall, about 1/s per private chat, 20/min per group).

    .venv/bin/python -m bench.fairness [--runs 5] [--actions 300]

Each run starts a fresh bot (the real python-telegram-bot Application polling the tests' Bot API server on
127.0.0.1, production limits: ACTIONS_PER_MINUTE 60, QUESTIONS_PER_MINUTE 10). Quiet: another user asks one question
on an idle bot. Flooded: one user sends `--actions` mixed actions (questions, /sources, /start, site buttons, forged
presses) as fast as the server takes them, then the other user asks the same question. Printed: the median of the
runs for each, their ratio, and the bound of issue 23 (max(3 s, 2 × quiet)); the same, in the same run, with
python-telegram-bot's own pieces in their place (one shared line of 64 updates, AIORateLimiter) as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from telegram.ext import AIORateLimiter, SimpleUpdateProcessor

from bot import application
from bot.assistant import use_worker_threads
from index.config import IndexSettings, index_settings_from_env
from index.embedder import make_embedder
from ingest.build import ingest
from tests.bot_world import running_bot

ROOT = Path(__file__).resolve().parent.parent
FLOODER, OTHER = 5001, 5002
QUESTION = "Quand le Comptoir citoyen a-t-il ouvert ?"


async def _one_run(index: IndexSettings, embedder: object, work: Path, actions: int) -> float:
    async with running_bot(index, embedder, work, telegram_rates=True, questions_per_minute=10,
                           actions_per_minute=60) as world:
        use_worker_threads(asyncio.get_running_loop())
        await world.ask(9999, QUESTION, contains="corpus")  # warm: the first answer loads what it needs
        if actions:
            sites = await world.ask(FLOODER, "/sites", contains="site")
            button = sites.buttons()[0]["callback_data"]
            kinds = [lambda n: world.server.say(FLOODER, f"Pactotec {n}"),
                     lambda n: world.server.say(FLOODER, "/sources"),
                     lambda n: world.server.press_data(FLOODER, sites, button),
                     lambda n: world.server.say(FLOODER, "/start"),
                     lambda n: world.server.press_data(FLOODER, sites, "p:zzzzzzzz:0")]
            for number in range(actions):
                await kinds[number % len(kinds)](number)
        started = time.perf_counter()
        await world.ask(OTHER, QUESTION, contains="D’après le corpus", timeout=300)
        return time.perf_counter() - started


@contextlib.contextmanager
def _ptb_defaults() -> Iterator[None]:
    """The baseline: python-telegram-bot's shared update line and its AIORateLimiter, as before issue 23."""
    saved = application.UserLines, application.ChatPacing
    application.UserLines = lambda workers: SimpleUpdateProcessor(workers)  # type: ignore[assignment,misc]
    application.ChatPacing = lambda overall_per_second, max_retries: AIORateLimiter(  # type: ignore[assignment,misc]
        overall_max_rate=overall_per_second, max_retries=max_retries)
    try:
        yield
    finally:
        application.UserLines, application.ChatPacing = saved


async def run(runs: int, actions: int) -> None:
    embedder = make_embedder(index_settings_from_env())
    with tempfile.TemporaryDirectory() as work:
        index = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=Path(work) / "index")
        ingest(index, embedder)
        for label, pieces in (("ours (bot.pacing)", contextlib.nullcontext()),
                              ("baseline (PTB's line and AIORateLimiter)", _ptb_defaults())):
            quiet: list[float] = []
            flooded: list[float] = []
            with pieces:
                for number in range(runs):
                    for samples, count in ((quiet, 0), (flooded, actions)):
                        run_dir = Path(work) / f"run-{label[:4]}-{number}-{count}"
                        run_dir.mkdir()
                        samples.append(await _one_run(index, embedder, run_dir, count))
            quiet_s, flooded_s = statistics.median(quiet), statistics.median(flooded)
            bound = max(3.0, 2 * quiet_s)
            print(f"{label}: other user's answer, median of {runs} runs: quiet {quiet_s:.2f} s, under a flood of "
                  f"{actions} actions {flooded_s:.2f} s ({flooded_s / quiet_s:.1f}× quiet); bound max(3 s, 2 × quiet)"
                  f" = {bound:.2f} s: {'held' if flooded_s <= bound else 'NOT held'}")
            print(f"  runs quiet: {', '.join(f'{s:.2f}' for s in quiet)}; "
                  f"flooded: {', '.join(f'{s:.2f}' for s in flooded)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actions", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.runs, args.actions))


if __name__ == "__main__":
    main()
