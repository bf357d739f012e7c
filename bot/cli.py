"""The `vve` command: each subcommand is a thin call into its package."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dotenv import load_dotenv

import index.__main__ as search_command
import ingest.__main__ as ingest_command
from bot import render
from bot.assistant import MAX_QUESTION_CHARS, Assistant
from bot.errors import BotApiUnavailable
from bot.settings import BotSettings, bot_settings_from_env
from bot.state import BotState, RatedAnswer
from index.embedder import make_embedder
from index.errors import ConfigError, IndexFailure
from index.normalize import read_line


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries that log every HTTP call would put the bot token (it is in the URL) in the logs.
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# argparse speaks English; the people who type `vve` read French. Its messages go through gettext, looked up at
# call time, so a small table is enough (the strings of Python 3.11-3.13's argparse).
_ARGPARSE_FRENCH = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "afficher cette aide et quitter",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "invalid %(type)s value: %(value)r": "valeur invalide (%(type)s) : %(value)r",
    "expected one argument": "une valeur est attendue",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
}


def _french(message: str) -> str:
    return _ARGPARSE_FRENCH.get(message, message)


argparse._ = _french  # type: ignore[attr-defined]


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
    eval_parser.add_argument("--answers", action="store_true",
                             help="juger le texte des réponses (comme « vve ask --json ») et non les passages")
    eval_parser.set_defaults(handler=run_eval)
    chat_parser = commands.add_parser("chat", help="poser des questions dans le terminal (une par ligne), "
                                                   "en une conversation (« et à Creil ? » suit la question d'avant)")
    chat_parser.add_argument("--json", action="store_true",
                             help="une réponse JSON par ligne (comme « vve ask --json »)")
    chat_parser.set_defaults(handler=run_chat)
    ask_parser = commands.add_parser("ask", help="une question, une réponse citée")
    ask_parser.add_argument("question", nargs="+", help="la question")
    ask_parser.add_argument("--json", action="store_true", help="la réponse en JSON")
    ask_parser.set_defaults(handler=run_ask)
    bot_parser = commands.add_parser("bot", help="le bot Telegram (TELEGRAM_BOT_TOKEN), par polling ou webhook")
    bot_parser.add_argument("--webhook", metavar="URL", default=None,
                            help="mode webhook : l'adresse HTTPS publique (sinon WEBHOOK_URL ; vide = polling)")
    bot_parser.set_defaults(handler=run_bot)
    serve_parser = commands.add_parser("serve", help="le service HTTP : /healthz, /metrics, /api/search, /api/ask "
                                                     "(et le webhook du bot si WEBHOOK_URL est défini)")
    serve_parser.set_defaults(handler=run_serve)
    feedback_parser = commands.add_parser("feedback", help="les avis des utilisateurs (👍/👎) en fichier d'évaluation")
    feedback_parser.add_argument("action", choices=["export"], help="export : les réponses notées, une ligne JSON "
                                 "chacune, au format des fichiers de « vve eval --answers »")
    feedback_parser.add_argument("--out", type=Path, default=None, help="fichier écrit (sinon la sortie standard)")
    feedback_parser.set_defaults(handler=run_feedback)
    main_parser = commands.add_parser("main", help="la tâche principale de « make run » : le bot s'il a un "
                                                   "jeton, sinon « vve chat »")
    main_parser.set_defaults(handler=run_main)
    return parser


def _assistant(settings: BotSettings | None = None) -> Assistant:
    """Built once per command, from the environment unless `settings` are given."""
    settings = settings or bot_settings_from_env()
    return Assistant.build(settings, make_embedder(settings.index))


def feedback_line(rated: RatedAnswer) -> dict[str, object]:
    """A rated answer as a line of an evaluation file: `all` is left for a person to fill (the facts the answer must
    hold; or `found` set to false when the documents do not answer), `vve eval` calls such lines incomplete."""
    line: dict[str, object] = {"question": rated.question, "all": [], "found": rated.found, "kind": "feedback"}
    if rated.previous:
        line["after"] = rated.previous
    line.update({"answer": rated.answer, "sources": list(rated.sources),
                 "rating": "👍" if rated.positive else "👎", "date": rated.date})
    return line


def run_feedback(args: argparse.Namespace) -> int:
    """`vve feedback export`: the rated answers, one JSON line each, no user id."""
    path = bot_settings_from_env().state_db
    rated = []
    if path.exists():  # no memory yet: nothing rated, and nothing created by a command that only reads
        state = BotState(path)
        try:
            rated = state.rated_answers()
        finally:
            state.close()
    lines = "".join(json.dumps(feedback_line(item), ensure_ascii=False) + "\n" for item in rated)
    try:
        if args.out is None:
            sys.stdout.write(lines)
            sys.stdout.flush()
        else:
            args.out.write_text(lines, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"export impossible vers « {args.out or 'la sortie standard'} » "
                          f"({error.strerror or error}) : vérifiez le dossier et la place libre.") from None
    print(f"{len(rated)} réponse(s) notée(s) exportée(s){f' dans {args.out}' if args.out else ''} : remplissez "
          "« all » (ou « found »: false) avant « vve eval --answers ».", file=sys.stderr)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """`vve eval FILE`: the search (index floor); with --answers, the answer text (this floor)."""
    if not args.answers:
        return search_command.run_eval(args)
    from bot.evaluate import answers_report, judge_answers, score_answers
    from index.evaluate import is_squad, read_questions

    if is_squad(args.file):
        return _eval_squad(args)
    questions = read_questions(args.file, off_topic=args.off_topic)
    with tempfile.TemporaryDirectory() as scratch:  # the evaluation's conversations, not the bot's state
        assistant = _assistant(replace(bot_settings_from_env(), state_db=Path(scratch) / "eval.sqlite"))
        outcomes = judge_answers(assistant, questions)
        assistant.state.close()
    scores = score_answers(outcomes)
    if args.json:
        print(json.dumps(scores.as_json(), ensure_ascii=False))
    else:
        print(answers_report(scores, outcomes, str(args.file)))
    return 0


def _eval_squad(args: argparse.Namespace) -> int:
    """`vve eval --answers FILE` on a SQuAD file: its own paragraphs are indexed (once, beside the configured index,
    under eval/), then every question is asked."""
    from bot.evaluate import judge_squad, sha256_of, squad_index, squad_report

    settings = bot_settings_from_env()
    embedder = make_embedder(settings.index)
    model = "".join(c if c.isalnum() else "-" for c in settings.index.embedding_model)[:60]
    folder = settings.index.index_dir.parent / "eval" / f"{sha256_of([args.file])[:12]}-{model}"
    print(f"Indexation des paragraphes de {args.file} dans {folder} (la première fois seulement : quelques minutes "
          "pour PIAF)…", file=sys.stderr)
    corpus = squad_index(args.file, folder, embedder, settings.index)
    with tempfile.TemporaryDirectory() as scratch:
        assistant = Assistant.build(replace(settings, index=corpus, state_db=Path(scratch) / "eval.sqlite"), embedder)
        scores = judge_squad(assistant, args.file)
        assistant.state.close()
    print(json.dumps(scores.as_json(), ensure_ascii=False) if args.json else squad_report(scores, str(args.file)))
    return 0


def run_chat(args: argparse.Namespace) -> int:
    """The question → answer pipeline in the terminal: one question a line on standard input, until its end."""
    assistant = _assistant()
    assistant.warm_up()  # model, index, its words before the first prompt; no index: said before reading questions
    conversation = f"console:{os.getpid()}:{time.time_ns()}"  # one conversation for the whole input
    as_json = getattr(args, "json", False)  # `vve main` has no --json
    interactive = sys.stdin.isatty()
    if interactive:
        print("Posez vos questions sur l'étude « Villes et vivre ensemble » (Ctrl-D pour quitter).", file=sys.stderr)
    while True:
        if interactive:
            print("Question > ", end="", file=sys.stderr, flush=True)
        line, too_long = read_line(sys.stdin, MAX_QUESTION_CHARS)
        if not line:
            return 0
        if too_long:
            line = line + "…"  # over the limit: the assistant answers with its French refusal, read on
        if not line.strip():
            continue
        try:
            answer, _ = assistant.ask(line.strip(), record=False, conversation=conversation)
        except IndexFailure as error:  # an unknown `ville:`, a question too long: say it, read on
            if as_json:
                print(json.dumps({"question": line.strip(), "erreur": str(error)}, ensure_ascii=False), flush=True)
            else:
                print(f"Erreur : {error}\n", flush=True)
            continue
        if as_json:
            print(json.dumps(render.answer_json(answer), ensure_ascii=False), flush=True)
        else:
            print(f"Question : {line.strip()}\n{render.answer_text(answer)}\n", flush=True)


def run_ask(args: argparse.Namespace) -> int:
    answer, _ = _assistant().ask(" ".join(args.question), record=False)
    if args.json:
        print(json.dumps(render.answer_json(answer), ensure_ascii=False))
    else:
        print(render.answer_text(answer))
    return 0


def run_bot(args: argparse.Namespace) -> int:
    """The Telegram bot: polling by default, webhook mode with --webhook or WEBHOOK_URL (served by `serve`)."""
    from bot.application import build_application, reach_bot_api
    from bot.handlers import UPDATES

    settings = bot_settings_from_env()
    webhook = getattr(args, "webhook", None)
    if webhook is not None:
        if not webhook.startswith("https://"):
            raise ConfigError("--webhook doit être une adresse https:// (Telegram n'appelle que des adresses HTTPS).")
        settings = replace(settings, webhook_url=webhook)
    if not settings.token:
        raise ConfigError("TELEGRAM_BOT_TOKEN n'est pas défini : mettez le jeton du bot dans .env "
                          "(voir .env.example), ou utilisez « vve chat » pour poser des questions dans le terminal.")
    if settings.webhook_url:
        return _serve(settings)
    assistant = _assistant(settings)
    assistant.retriever.snapshot  # noqa: B018 - refuse to start without an index, with its message
    asyncio.run(reach_bot_api(settings))
    application = build_application(assistant)
    application.run_polling(allowed_updates=UPDATES)  # warms the model first (post_init)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    return _serve(bot_settings_from_env())


def _serve(settings: BotSettings) -> int:
    """One aiohttp server: health, metrics, API, and the bot's webhook when WEBHOOK_URL and the token are set.
    SIGTERM and Ctrl-C stop it gracefully: requests in flight finish first."""
    from bot.application import build_application
    from bot.web import build_web_app, serve, webhook_path

    assistant = _assistant(settings)
    telegram_application = None
    if settings.webhook_url:
        if not settings.token:
            raise ConfigError("WEBHOOK_URL est défini mais TELEGRAM_BOT_TOKEN ne l'est pas.")
        telegram_application = build_application(assistant, updater=False)
        logging.getLogger(__name__).info("webhook mode: updates expected on %s", webhook_path(settings.webhook_url))
    app = build_web_app(assistant, telegram_application)
    serve(app, settings.host, settings.port, shutdown_timeout=30)
    return 0


def run_main(args: argparse.Namespace) -> int:
    """`make run`: the bot when it has a token, else the console chat reading standard input."""
    if os.environ.get("TELEGRAM_BOT_TOKEN", "").strip():
        return run_bot(args)
    return run_chat(args)


def main(argv: list[str] | None = None) -> int:
    load_dotenv(".env", override=False)  # the environment wins over .env
    parser = build_parser()
    args = parser.parse_args(argv)
    # the bot and the service log their life (INFO); a command a person reads shows only warnings, unless -v
    serving = args.command in ("bot", "serve", "ingest") or (
        args.command == "main" and bool(os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()))
    quiet = getattr(args, "quiet", False) or getattr(args, "json", False) or not serving
    configure_logging(args.verbose)
    if quiet and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # python-telegram-bot 22: durations as timedelta (opt-in)
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in a question printed back is a « ? », not a crash
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    try:
        return int(args.handler(args))
    except IndexFailure as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 2
    except BotApiUnavailable as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return BotApiUnavailable.EXIT_CODE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # « vve search … | head »: the reader has gone; no traceback, no second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
