"""`vve search` (hybrid search, one query or one per line of standard input) and `vve eval` (measure it)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from index.config import index_settings_from_env
from index.embedder import make_embedder
from index.errors import ConfigError, IndexFailure
from index.evaluate import failures_text, judge, read_questions, score, scores_text
from index.normalize import MAX_LINE_CHARS, read_line
from index.render_text import result_json, result_text
from index.retriever import Retriever, parse_site_filter, resolve_site

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="*", help="la recherche ; sans elle, une recherche par ligne lue sur l'entrée")
    parser.add_argument("-k", type=int, default=5, help="nombre de passages (défaut : 5)")
    parser.add_argument("--json", action="store_true", help="un objet JSON par recherche")
    parser.add_argument("--ville", default="", help="ne chercher que dans les documents de ce site")


def _queries(args: argparse.Namespace) -> Iterator[str]:
    if args.query:
        yield " ".join(args.query)
        return
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("Recherche (Ctrl-D pour quitter) > ", end="", file=sys.stderr, flush=True)
        line, too_long = read_line(sys.stdin)
        if not line:
            return
        if too_long:
            print(f"Erreur : recherche trop longue (plus de {MAX_LINE_CHARS} caractères), ignorée.", file=sys.stderr)
        elif line.strip():
            yield line.strip()


def _retriever(args: argparse.Namespace) -> Retriever:
    if not 1 <= args.k <= 100:
        raise ConfigError("-k doit être compris entre 1 et 100.")
    settings = index_settings_from_env()
    return Retriever(settings.index_dir, make_embedder(settings))


def run(args: argparse.Namespace) -> int:
    try:
        retriever = _retriever(args)
        sites = retriever.snapshot.sites()  # fails before reading stdin when there is no index
        # --ville is checked and written as `ville:` is (« havre » is Le Havre, « Lyon » is an error)
        chosen = resolve_site(args.ville, sites) if args.ville else ""
        for raw_query in _queries(args):
            query, site = parse_site_filter(raw_query, sites)
            result = retriever.search(query, k=args.k, site=site or chosen)
            if args.json:
                print(json.dumps(result_json(result), ensure_ascii=False), flush=True)
            else:
                print(result_text(result) + "\n", flush=True)
    except IndexFailure as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 2
    return 0


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="questions : JSON Lines {question, all, found} ou SQuAD (PIAF)")
    parser.add_argument("-k", type=int, default=5, help="profondeur de hit@k (défaut : 5)")
    parser.add_argument("--json", action="store_true", help="les chiffres en un objet JSON (clés stables)")
    parser.add_argument("--hors-sujet", dest="off_topic", action="store_true",
                        help="toutes les questions sont hors sujet pour ce corpus (ex. PIAF contre l'étude)")


def run_eval(args: argparse.Namespace) -> int:
    try:
        retriever = _retriever(args)
        questions = read_questions(args.file, off_topic=args.off_topic)
        depth = max(args.k, 10)  # MRR@10 looks ten deep
        outcomes = [judge(question, retriever.search(question.text, k=depth)) for question in questions]
    except IndexFailure as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 2
    scores = score(outcomes, args.k)
    if args.json:
        print(json.dumps(scores.as_json(), ensure_ascii=False))
    else:
        print(scores_text(scores, str(args.file)))
        print(failures_text(outcomes, args.k))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
