"""`vve ingest`: bring the index in line with the corpus folder (only what changed), then print one summary line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from typing import Any

from index.config import index_settings_from_env
from index.embedder import make_embedder
from index.errors import DiskFull, IndexFailure
from index.retriever import weights_for_model
from ingest.build import ingest

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full", action="store_true",
                        help="tout reconstruire (après un changement de modèle ou de découpage)")
    parser.add_argument("--quiet", "-q", action="store_true", help="n'afficher que le résumé et les erreurs")


def _terminal_columns() -> int:
    """The width of the terminal standard error writes to, 0 when it does not say (`script` on a pipe)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 0


class TerminalProgress:
    """A bar with the time left on a terminal (reading the files, then computing the embeddings, the long stage);
    log lines when standard error is not a terminal; nothing with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars = not quiet and sys.stderr.isatty()
        self._bar: Any = None
        self._stage = ""
        self._logged: dict[str, tuple[int, float]] = {}  # stage -> (tenths logged, when the stage began)

    def _update(self, stage: str, label: str, done: int, total: int, unit: str) -> None:
        if self.quiet:
            return
        if not self.bars:  # a line at each tenth reached (batches of 32 step over exact multiples), with the time left
            tenths, began = self._logged.setdefault(stage, (0, time.monotonic()))
            reached = done * 10 // max(total, 1)
            if done and reached > tenths:
                self._logged[stage] = (reached, began)
                elapsed = time.monotonic() - began
                left = f", reste ~{elapsed / done * (total - done):.0f} s" if done < total else ""
                log.info("%s : %d/%d %s (%.0f s%s)", label, done, total, unit, elapsed, left)
            return
        from tqdm import tqdm

        if self._stage != stage:
            self.close()
            # tqdm shows done/total, the elapsed time and, from the pace so far, the time left
            self._bar = tqdm(total=total, desc=label, unit=f" {unit}", file=sys.stderr, leave=True,
                             ncols=None if _terminal_columns() else 80,  # a pty of unknown size: tqdm drew nothing
                             bar_format="{desc} : {percentage:3.0f} %|{bar}| {n_fmt}/{total_fmt}{unit} "
                                        "[{elapsed} écoulé, reste {remaining}]")
            self._stage = stage
        self._bar.update(done - self._bar.n)

    def file_done(self, source: str, done: int, total: int) -> None:
        self._update("files", "Lecture des fichiers", done, total, "fichiers")

    def embedded(self, done: int, total: int) -> None:
        self._update("embed", "Calcul des embeddings", done, total, "passages")

    def logging(self) -> contextlib.AbstractContextManager[None]:
        """While a bar is drawn, log lines are written above it instead of through it."""
        if not self.bars:
            return contextlib.nullcontext()
        from tqdm.contrib.logging import logging_redirect_tqdm

        return logging_redirect_tqdm()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the reading worker is killed, the half-built version removed


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    settings = index_settings_from_env()
    embedder = make_embedder(settings)
    progress = TerminalProgress(args.quiet)
    try:
        with progress.logging():
            report = ingest(settings, embedder, full=args.full, progress=progress)
    except IndexFailure as error:
        progress.close()
        print(f"Erreur : {error}", file=sys.stderr)
        return 3 if isinstance(error, DiskFull) else 2
    except KeyboardInterrupt:
        progress.close()
        print("Ingestion interrompue : l'index précédent est conservé.", file=sys.stderr)
        return 130
    progress.close()
    for source, reason in report.failed:  # names come escaped (ingest.build.display_name): one line each
        print(f"Échec : {source} — {reason}", file=sys.stderr)
    print(report.summary())
    if report.model_loaded and weights_for_model(embedder.name) is None:
        print(f"Attention : le modèle « {embedder.name} » n'a pas de réglages mesurés (fusion, seuil de réponse) ; "
              "ceux par défaut sont utilisés. Vérifiez la qualité sur vos questions avec « vve eval FICHIER » et "
              "« vve eval --answers FICHIER ».", file=sys.stderr)
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
