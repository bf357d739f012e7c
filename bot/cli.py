"""The `vve` command: each subcommand is a thin call into its package."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dotenv import load_dotenv

import index.__main__ as search_command
import ingest.__main__ as ingest_command
from index.errors import IndexFailure


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries that log every HTTP call would put the bot token (it is in the URL) in the logs.
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vve", description="Assistant d'étude « Villes et vivre ensemble » (Odas)")
    parser.add_argument("--verbose", "-v", action="store_true", help="journal détaillé")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    ingest_parser = commands.add_parser("ingest", help="indexer le corpus (seulement ce qui a changé)")
    ingest_command.add_arguments(ingest_parser)
    ingest_parser.set_defaults(handler=ingest_command.run)
    search_parser = commands.add_parser("search", help="rechercher des passages cités")
    search_command.add_arguments(search_parser)
    search_parser.set_defaults(handler=search_command.run)
    eval_parser = commands.add_parser("eval", help="mesurer la recherche sur un fichier de questions")
    search_command.add_eval_arguments(eval_parser)
    eval_parser.set_defaults(handler=search_command.run_eval)
    main_parser = commands.add_parser("main", help="la tâche principale de « make run »")
    main_parser.set_defaults(handler=run_main)
    return parser


def run_main(args: argparse.Namespace) -> int:
    """For now the interactive search prompt: one query a line on standard input, until its end."""
    return search_command.run(argparse.Namespace(query=[], k=5, json=False, ville=""))


def main(argv: list[str] | None = None) -> int:
    load_dotenv(".env", override=False)  # the environment wins over .env
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False) or getattr(args, "json", False)
    configure_logging(args.verbose)
    if quiet:
        logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return int(args.handler(args))
    except IndexFailure as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
