"""The ``inquote`` command line: a thin layer over ``ingest`` and ``bot.answering``."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.bidi import isolate
from config.errors import ArticleNotFoundError, InquoteError, QuestionError, SourceError
from ingest.schema import CHROMA_FOLDER, DEFAULT_LIBRARY, Scope, library_name

if TYPE_CHECKING:
    from bot.answer import Answer
    from bot.app import Library
    from bot.evaluation import EvalReport
    from config.settings import Settings
    from ingest.outcomes import IngestOutcome

# A command imports what only it uses inside itself: `--help`, `--version` and `list` must not wait
# for Chroma or the model to load, `inquote ask` not for the ingest, eval, doctor or Telegram
# machinery (docs/evaluation.md, Speed).

PROGRESS_FROM = 5  # files; fewer get no progress bar
ECHOED_CHARS = 200  # of a refused question, in its JSON error object
CHAT_HELP = "Ask a question. /reset forgets the conversation, /sources lists articles, /quit ends."

log = logging.getLogger(__name__)


def _library(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Checks library names as click reads them (one, or a tuple of them)."""
    try:
        if isinstance(value, tuple):
            return tuple(library_name(name) for name in value)
        return value if value is None else library_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


_DAY = click.DateTime(formats=["%Y-%m-%d"])


def scope_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--library`` (repeatable), ``--since`` and ``--until``: which articles a command reads."""
    for option in reversed(
        [
            click.option(
                "--library", "libraries", multiple=True, callback=_library, metavar="NAME",
                help="Only articles in this library (repeatable; default: retrieval.libraries, "
                "else every library).",
            ),
            click.option("--since", type=_DAY, help="Only articles published on or after DATE."),
            click.option("--until", type=_DAY, help="Only articles published on or before DATE."),
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _scope(
    settings: Settings,
    libraries: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    article_ids: tuple[str, ...] = (),
) -> Scope:
    return Scope(
        libraries=libraries or tuple(settings.retrieval.libraries),
        since=since.date().isoformat() if since else "",
        until=until.date().isoformat() if until else "",
        article_ids=article_ids,
    )


# The group's options, and whether each takes a value: accepted after the command too, as git and
# llm accept theirs (`inquote ask --data-dir DIR "question"`).
GLOBAL_OPTIONS = {"--config": True, "--data-dir": True, "--set": True, "-v": False,
                  "--verbose": False}  # fmt: skip
HELP_FLAGS = ("--help", "-h")


def globals_first(args: list[str], commands: Iterable[str]) -> list[str]:
    """``args`` with the global options written after the command moved before it (up to a
    ``--``, after which everything is the command's)."""
    at = 0
    while at < len(args) and args[at] not in commands:
        takes_value = GLOBAL_OPTIONS.get(args[at], False)
        at += 2 if takes_value else 1
    if at >= len(args):
        return args
    moved: list[str] = []
    rest: list[str] = []
    tail = iter(args[at + 1 :])
    for arg in tail:
        if arg == "--":
            rest += [arg, *tail]
            break
        name = arg.split("=", 1)[0]
        if name not in GLOBAL_OPTIONS:
            rest.append(arg)
            continue
        moved.append(arg)
        if GLOBAL_OPTIONS[name] and "=" not in arg:
            moved.append(next(tail, ""))
    return [*args[:at], *moved, args[at], *rest]


class _Group(click.Group):
    """Takes global options after the command too; turns inquote's own errors into one clean
    line and exit code 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = globals_first(args, self.commands)
        words = args[: args.index("--")] if "--" in args else args
        ctx.meta["help_only"] = any(flag in words for flag in HELP_FLAGS)  # no settings needed
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InquoteError as exc:
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # a library's own error or a Rust panic: one line; -v logs
            log.info("%s failed", ctx.invoked_subcommand, exc_info=True)
            from ingest.chroma_collections import unexpected_fault

            data_dir = getattr(ctx.obj, "data_dir", None)
            raise click.ClickException(unexpected_fault(exc, data_dir)) from exc


@click.group(cls=_Group)
@click.version_option(package_name="inquote", message="%(prog)s %(version)s")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (same layout as config/defaults.toml).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the store lives [env INQUOTE_DATA_DIR; default: the per-user data dir].",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting, e.g. --set retrieval.top_k=8 (repeatable).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
@click.pass_context
def cli(
    ctx: click.Context,
    config_file: Path | None,
    data_dir: Path | None,
    assignments: tuple[str, ...],
    verbose: bool,
) -> None:
    """Ask questions of your articles; every quote shown is checked against its article.

    The options above may also follow the command: inquote ask --data-dir DIR "question".
    """
    ctx.meta["verbose"] = verbose
    if ctx.meta.get("help_only"):
        return
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{assignment}' is not KEY=VALUE", param_hint="--set")
        overrides[key.strip()] = value
    if data_dir is not None:
        overrides["data_dir"] = str(data_dir)
    from bot.logs import configure_logging
    from config.settings import load_settings

    try:
        ctx.obj = load_settings(config_file, os.environ, overrides)
    except InquoteError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(ctx.obj, verbose=verbose)


@cli.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--feed", "feed_urls", multiple=True, metavar="URL",
    help="An RSS or Atom feed: add its entries' articles, and remember it (repeatable).",
)  # fmt: skip
@click.option("--watch", is_flag=True, help="Keep polling every remembered feed.")
@click.option(
    "--interval", type=click.IntRange(min=30), default=900, show_default=True,
    help="Seconds between polls with --watch.",
)  # fmt: skip
@click.option(
    "--library", callback=_library, metavar="NAME",
    help=f"Add the articles (and --feed's) to this library ('{DEFAULT_LIBRARY}' if not named); "
    "an article may be in several.",
)  # fmt: skip
@click.pass_obj
def ingest(
    settings: Settings,
    *,
    sources: tuple[str, ...],
    feed_urls: tuple[str, ...],
    watch: bool,
    interval: int,
    library: str | None,
) -> None:
    """Add or update articles from files, folders and URLs (.txt, .md, .html, .pdf; web pages).

    \b
    Examples:
      inquote ingest seeds/
      inquote ingest --library news https://example.com/story.html report.pdf
      inquote ingest --feed https://example.com/rss.xml --watch
    """
    from ingest.chroma_collections import unexpected_fault
    from ingest.feeds import FeedRegistry, poll_feeds
    from ingest.reading import find_articles

    urls = [source for source in sources if source.startswith(("http://", "https://"))]
    paths = [Path(source) for source in sources if source not in urls]
    files = list(find_articles(paths, settings.ingest.follow_symlinks))
    if paths and not files:
        named = ", ".join(str(path) for path in paths)
        raise SourceError(f"No .txt, .md, .html or .pdf files found in {named}")
    if not (sources or feed_urls or watch):
        raise click.UsageError("Name files, folders or URLs, or a --feed to add.")
    ingestor = _writing(settings).ingestor()
    stored: list[IngestOutcome] = []
    try:
        if len(files) < PROGRESS_FROM:

            def echoed(outcome: IngestOutcome) -> None:
                stored.append(outcome)
                _echo_outcome(outcome)

            report = ingestor.add_paths(files, echoed, library or DEFAULT_LIBRARY)
        else:
            with click.progressbar(length=len(files), label="Ingesting", file=sys.stderr) as bar:

                def counted(outcome: IngestOutcome) -> None:
                    stored.append(outcome)
                    bar.update(1)

                report = ingestor.add_paths(files, counted, library or DEFAULT_LIBRARY)
    except Exception as exc:  # the store failed under the run: say how far it got
        done = sum(outcome.status != "failed" for outcome in stored)
        fault = str(exc) if isinstance(exc, InquoteError) else unexpected_fault(exc, None)
        raise click.ClickException(
            f"{fault}. {done} of {len(files)} files were stored before it; once the store is "
            "back, the same ingest stores the rest (what is stored stays unchanged)"
        ) from exc

    def record(outcome: IngestOutcome) -> None:
        _echo_outcome(outcome)
        report.outcomes.append(outcome)

    for url in urls:
        record(ingestor.add_url(url, library or DEFAULT_LIBRARY))
    if feed_urls or watch:
        poll_feeds(
            FeedRegistry(settings.data_dir),
            feed_urls,
            lambda feed: ingestor.add_feed(feed, record),
            lambda line: click.echo(line, err=True),
            watch=watch,
            interval=interval,
            library=library,
        )
    click.echo(f"{report.summary()} — {ingestor.store.chunk_count()} chunks in the store")
    for outcome in report.failed:
        click.echo(f"  failed: {one_line(outcome.reason)}", err=True)
    if report.failed and not watch:
        sys.exit(1)


@cli.command()
@click.pass_obj
def feeds(settings: Settings) -> None:
    """Show the remembered feeds (add one with `inquote ingest --feed URL`).

    \b
    Examples:
      inquote feeds
    """
    from ingest.feeds import FeedRegistry

    registry = FeedRegistry(settings.data_dir)
    for feed in registry.feeds.values():
        polled = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(feed.last_polled))
            if feed.last_polled
            else "never"
        )
        click.echo(f"{feed.url}  {feed.title}")
        click.echo(
            f"    {len(feed.seen)} entries seen, {feed.articles} articles added, polled {polled}"
        )
        if feed.last_error:
            click.echo(f"    last error: {feed.last_error}")
    click.echo(f"{len(registry.feeds)} feeds")


def _writing(settings: Settings, *, check_fingerprint: bool = True) -> Library:
    """The data directory for a command that changes it: the store's writer lock is held until
    the command ends."""
    from bot.app import Library

    library = Library(settings, write=True, answering=False, check_fingerprint=check_fingerprint)
    click.get_current_context().call_on_close(library.close)
    return library


def _echo_outcome(outcome: IngestOutcome) -> None:
    if outcome.status == "duplicate":
        title, reason = one_line(outcome.title), one_line(outcome.reason)
        click.echo(f"duplicate  {outcome.article_id}  {title}: {reason}", err=True)
    elif outcome.status != "failed":
        click.echo(
            f"{outcome.status:>9}  {outcome.article_id}  {one_line(outcome.title)}", err=True
        )


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", type=click.IntRange(1, 100), help="Chunks to retrieve (retrieval.top_k).")
@click.option(
    "--article", "article_ids", multiple=True, help="Only search this article id (repeatable)."
)
@scope_options
@click.pass_obj
def ask(
    settings: Settings,
    *,
    question: str,
    as_json: bool,
    top_k: int | None,
    article_ids: tuple[str, ...],
    libraries: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Answer QUESTION from the stored articles, with verified quotes.

    With no QUESTION and a pipe on standard input (or QUESTION '-'), answers each of its lines.

    \b
    Examples:
      inquote ask "Who deciphered the hieroglyphs?"
      inquote ask --json --library news --since 2024-01-01 "What did the minister say?"
      cat questions.txt | inquote ask --json
    """
    from bot.answering import checked_question
    from bot.app import Library

    if question is None:
        if sys.stdin.isatty():
            raise click.UsageError("Give a QUESTION, or pipe questions in (one per line).")
        question = "-"
    if question != "-":  # refused before any model loads
        if not question.strip():
            raise click.UsageError("The question is empty: ask something, or '-' to read stdin.")
        checked_question(question, settings.answer.max_question_chars)
    scope = _scope(settings, libraries, since, until, article_ids)
    library = Library(settings)
    answerer = library.answerer()
    log.info("%s", library.backend.summary)  # shown with -v: which backend answers, and why
    batch = question == "-"
    for asked in _stdin_lines() if batch else iter([question]):
        try:
            if as_json:
                answer = answerer.ask(asked, top_k=top_k, scope=scope)
                click.echo(json.dumps(answer.as_json(), ensure_ascii=False))
                continue
            answer = answerer.ask(asked, top_k=top_k, scope=scope, on_text=_stream)
        except QuestionError as exc:
            if not batch:
                raise
            if as_json:  # one line out for every line in, so a batch stays aligned
                click.echo(json.dumps(_refused(asked, str(exc), answerer.backend)))
            elif asked.strip():
                click.echo(f"{exc}\n", err=True)
            continue
        click.echo("\n\n" + render_sources(answer) + ("\n" if batch else ""))


def _stdin_lines() -> Iterator[str]:
    """Standard input a line at a time; a line that isn't UTF-8 comes as lone surrogates, which
    the answerer refuses, so one bad line costs only its own answer."""
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="surrogateescape").rstrip("\r\n")


def _refused(question: str, reason: str, backend: str) -> dict[str, Any]:
    from bot.answer import Answer

    shown = question.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    if len(shown) > ECHOED_CHARS:
        shown = shown[:ECHOED_CHARS] + "…"
    return {**Answer(shown, "", True, (), backend).as_json(), "error": reason}


def _stream(text: str) -> None:
    click.echo(text, nl=False)


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, as `ask --json` prints.")
@click.pass_obj
def summary(settings: Settings, article_id: str, as_json: bool) -> None:
    """What ARTICLE_ID is about: its lead and most central sentences, quoted verbatim.

    \b
    Examples:
      inquote summary rosetta-stone-27a5d058
      inquote summary --json rosetta-stone-27a5d058
    """
    from bot.app import Library

    library = Library(settings)
    article = library.store.get_article(article_id)
    if article is None:
        raise ArticleNotFoundError(
            f"No article with id '{article_id}' — `inquote list` shows the stored ids"
        )
    answer = library.answerer().summary(article)
    if as_json:
        click.echo(json.dumps(answer.as_json(), ensure_ascii=False))
    else:
        click.echo(answer.text + "\n\n" + render_sources(answer))


@cli.command()
@click.option(
    "--since", type=_DAY, required=True, help="Articles added on or after DATE (YYYY-MM-DD)."
)
@click.option(
    "--library", "libraries", multiple=True, callback=_library, metavar="NAME",
    help="Only articles in this library (repeatable).",
)  # fmt: skip
@click.pass_obj
def digest(settings: Settings, since: datetime, libraries: tuple[str, ...]) -> None:
    """What was added since a day: each article's title, date and opening sentence, newest
    first.

    \b
    Examples:
      inquote digest --since 2026-11-25
      inquote digest --since 2026-11-25 --library news
    """
    from bot.app import Library
    from bot.backends import EXTRACTIVE

    answerer = Library(settings).answerer(EXTRACTIVE)  # it reads; it writes no answer
    scope = _scope(settings, libraries, None, None)
    fresh = answerer.added_since(scope, int(since.timestamp() * 1e9))
    for article in fresh:
        lead = answerer.lead_quote(article)
        click.echo(f"{isolate(one_line(article.title))} ({article.published or 'no date'})")
        if lead is not None:
            click.echo(f"    “{isolate(lead.text)}”")
        click.echo(f"    {one_line(article.source)}")
    click.echo(f"{len(fresh)} articles added since {since.date().isoformat()}")


@cli.command()
@scope_options
@click.pass_obj
def chat(
    settings: Settings,
    libraries: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Talk with your articles: follow-up questions understand what came before.

    /reset forgets the conversation, /sources lists the stored articles, /quit (or Ctrl-D) leaves.

    \b
    Examples:
      inquote chat
      inquote chat --library news --since 2026-01-01
    """
    from bot.app import Library
    from bot.conversation import Conversation
    from ingest.chroma_collections import unexpected_fault

    library = Library(settings)
    answerer = library.answerer()
    scope = _scope(settings, libraries, since, until)
    conversation = Conversation(answerer, settings.conversation.history_turns)
    click.echo(f"{library.backend.summary}\n{CHAT_HELP}", err=True)  # once a chat
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        except UnicodeDecodeError:
            click.echo("That line is not UTF-8 text; type the question again.")
            continue
        if line in {"/quit", "/exit"}:
            return
        if line == "/reset":
            conversation.reset()
            click.echo("(conversation forgotten)")
        elif line == "/sources":
            for article in answerer.articles(scope):
                title, source = isolate(one_line(article.title)), one_line(article.source)
                click.echo(f"{article.article_id}  {title}\n    {source}")
        elif line.startswith("/"):
            click.echo(CHAT_HELP)
        elif line:
            click.echo("inquote> ", nl=False)
            try:
                turn = conversation.ask(line, on_text=_stream, scope=scope)
            except QuestionError as exc:  # too long, not text: this question only
                click.echo(f"\n{exc}\n")
                continue
            except Exception as exc:  # the store or the LLM away: say so, keep the chat going
                log.info("the question failed", exc_info=True)
                fault = str(exc) if isinstance(exc, InquoteError) else unexpected_fault(exc, None)
                click.echo(f"\n{fault} — ask again once it is back\n")
                continue
            if turn.standalone != turn.question:
                log.info("asked as: %s", turn.standalone)
            click.echo("\n\n" + render_sources(turn.answer) + "\n")


@cli.command()
@click.pass_obj
def telegram(settings: Settings) -> None:
    """Run the Telegram bot until stopped (token: INQUOTE_TELEGRAM__TOKEN; see docs/telegram.md).

    \b
    Examples:
      INQUOTE_TELEGRAM__TOKEN=123:ABC INQUOTE_TELEGRAM__ALLOWED_USERS=42 inquote telegram
    """
    from bot.app import Library
    from bot.logs import configure_logging

    verbose = bool(click.get_current_context().meta.get("verbose"))
    configure_logging(settings, verbose=verbose, default=logging.INFO)  # an operator's log
    from bot.telegram.token import checked_start

    log.info("starting as @%s", checked_start(settings.telegram))  # before any model loads
    library = Library(settings, write=True)  # admins add documents and links
    log.info("%s", library.backend.summary)
    answerer = library.answerer()
    from bot.telegram.bot import InquoteBot, run_bot

    run_bot(InquoteBot(settings, answerer, library.ingestor()))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every check.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check config, store, LLM backend and Telegram token; say how to fix what fails.

    \b
    Examples:
      inquote doctor
      inquote doctor --json
    """
    config_file = ctx.parent.params.get("config_file") if ctx.parent else None
    from bot.doctor import run_checks

    checks = []
    for check in run_checks(ctx.obj, config_file):  # each shown as soon as it is done
        checks.append(check)
        if not as_json:
            click.echo(f"{check.status:<5} {check.name:<9} {check.detail}")
            if check.fix:
                click.echo(f"{'':16}fix: {check.fix}")
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        report = {"ok": not failed, "checks": [check.as_json() for check in checks]}
        click.echo(json.dumps(report, ensure_ascii=False))
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one voted answer per line.")
@click.pass_obj
def feedback(settings: Settings, as_json: bool) -> None:
    """The 👍 / 👎 Telegram users gave answers (score the current code on them with
    `inquote eval --feedback FILE`).

    \b
    Examples:
      inquote feedback
      inquote feedback --json > feedback.jsonl && inquote eval --feedback feedback.jsonl
    """
    from bot.journal import JOURNAL_FILE, Journal

    path = settings.data_dir / JOURNAL_FILE
    records = Journal(path).feedback() if path.exists() else []
    for record in records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            mark = "👍" if record["vote"] == "up" else "👎"
            reason = f" — {one_line(record['reason'])}" if record["reason"] else ""
            click.echo(f"{mark} {one_line(record['question'])}{reason}")
    if not as_json:
        click.echo(f"{len(records)} answers voted on")


@cli.command(name="eval")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--off-corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Questions about articles NOT ingested (same formats): each should be declined.",
)  # fmt: skip
@click.option("--use-store", is_flag=True, help="Ask the current store instead of FILE's articles.")
@click.option("--every", type=click.IntRange(min=1), default=1, help="Ask every Nth question.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@click.option(
    "--backend", "backends", multiple=True,
    type=click.Choice(["auto", "ollama", "openai", "embedded", "extractive"]),
    help="Answer with this backend (repeat to compare several on the same questions).",
)  # fmt: skip
@click.option(
    "--feedback", "feedback_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score the current code on `inquote feedback --json` output (asks the store).",
)  # fmt: skip
@scope_options
@click.pass_obj
def eval_command(
    settings: Settings,
    *,
    file: Path | None,
    feedback_file: Path | None,
    off_corpus: Path | None,
    use_store: bool,
    every: int,
    as_json: bool,
    backends: tuple[str, ...],
    libraries: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Measure answers on FILE (SQuAD v2 JSON, or JSONL of question/answers/article).

    With --use-store, --library/--since/--until limit the articles questions are answered from.

    \b
    Examples:
      inquote eval squad-v2-dev.json --off-corpus other.json
      inquote eval squad.json --backend extractive --backend ollama --every 8
      inquote eval --use-store --library news questions.jsonl
    """
    from bot.app import Library
    from bot.backends import choose_backend
    from bot.evaluation import (
        backend_table,
        build_library,
        evaluate,
        evaluate_feedback,
        load_eval_file,
        load_feedback,
    )

    if feedback_file is not None:
        voted = evaluate_feedback(Library(settings).answerer(), load_feedback(feedback_file))
        click.echo(json.dumps(voted.as_json()) if as_json else voted.table())
        return
    if file is None:
        raise click.UsageError("Name a question FILE, or --feedback FILE.")
    articles, questions = load_eval_file(file)
    off = load_eval_file(off_corpus)[1][::every] if off_corpus else []
    questions = questions[::every]
    library = Library(settings)
    reports: dict[str, tuple[EvalReport, float] | str] = {}
    with tempfile.TemporaryDirectory() as folder:
        if not use_store:
            dedup = settings.dedup.near_duplicate_threshold
            click.echo(
                f"ingesting {len(articles)} articles into a temporary store "
                f"(near-duplicate threshold {dedup:g}, as configured)",
                err=True,
            )
            library = build_library(articles, Path(folder), settings, library.embedder)
        for name in backends or (settings.llm.backend,):
            chosen = settings.model_copy(
                update={"llm": settings.llm.model_copy(update={"backend": name})}
            )
            try:
                choice = choose_backend(chosen)
            except InquoteError as exc:  # compared with others, a backend that can't run is a row
                if not backends or len(backends) == 1:
                    raise
                reports[name] = f"not run here: {exc}"
                continue
            click.echo(choice.summary, err=True)
            answerer = library.answerer(choice)
            started = time.perf_counter()
            with click.progressbar(
                length=len(questions) + len(off), label=f"Asking ({name})", file=sys.stderr
            ) as bar:
                report = evaluate(
                    answerer,
                    questions,
                    off,
                    progress=lambda: bar.update(1),
                    scope=_scope(settings, libraries, since, until),
                )
            per_question = (time.perf_counter() - started) / max(len(questions) + len(off), 1)
            reports[name] = (report, per_question)
    if as_json:
        runs = {
            name: run if isinstance(run, str) else {**run[0].as_json(), "seconds": run[1]}
            for name, run in reports.items()
        }
        click.echo(json.dumps(next(iter(runs.values())) if len(runs) == 1 else runs))
        return
    for run in reports.values():
        if not isinstance(run, str):
            click.echo(run[0].table() + "\n")
    if len(reports) > 1:
        click.echo(backend_table(reports))


def one_line(text: str) -> str:
    """``text`` for a line of terminal output: control characters (a newline in a file name)
    shown escaped, so one article stays one line."""
    return "".join(
        repr(char)[1:-1] if unicodedata.category(char) == "Cc" else char for char in text
    )


def render_sources(answer: Answer) -> str:
    """Each quote's article and offsets, numbered as the answer cites them.

    A quote one of the answer's claims showed is not printed twice; the closest passages of an
    abstention (no claims) are.
    """
    shown = {number for claim in answer.claims for number in claim.quotes}
    lines = []
    for number, quote in enumerate(answer.quotes, 1):
        dated = f" ({quote.published})" if quote.published else ""
        title = isolate(one_line(quote.title))
        if number in shown:
            lines.append(f"[{number}] {title}{dated}")
        else:
            lines.append(f"[{number}] “{isolate(quote.text)}”")
            lines.append(f"    — {title}{dated}")
        lines.append(f"    {one_line(quote.source)}, characters {quote.start}-{quote.end}")
        lines.append(
            f"    check: inquote show {quote.article_id} --start {quote.start} --end {quote.end}"
        )
    return "\n".join(lines)


@cli.command()
@click.argument("article_id")
@click.option("--start", type=click.IntRange(min=0), help="First character (a citation's start).")
@click.option("--end", type=click.IntRange(min=0), help="End, exclusive (a citation's end).")
@click.pass_obj
def show(settings: Settings, article_id: str, start: int | None, end: int | None) -> None:
    """Print ARTICLE_ID's stored text, or characters START to END of it: the cleaned text every
    quote's offsets point into, so anyone can check a citation.

    \b
    Examples:
      inquote show 5f0c2d1e9a7b4c3d
      inquote show 5f0c2d1e9a7b4c3d --start 771 --end 939
    """
    from bot.app import Library

    article = Library(settings).store.get_article(article_id)
    if article is None:
        raise ArticleNotFoundError(
            f"No article with id '{article_id}' — `inquote list` shows the stored ids"
        )
    first, last = start or 0, len(article.text) if end is None else end
    if not first <= last <= len(article.text):
        raise click.BadParameter(
            f"{first}-{last} is not within the article's {len(article.text)} characters",
            param_hint="--start/--end",
        )
    click.echo(article.text[first:last])


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article per line.")
@click.option("--newest", is_flag=True, help="Newest first (undated articles last).")
@scope_options
@click.pass_obj
def list_articles(
    settings: Settings,
    *,
    as_json: bool,
    newest: bool,
    libraries: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Show the stored articles, by title or newest first.

    \b
    Examples:
      inquote list
      inquote list --newest --library news --since 2026-11-01
      inquote list --json
    """
    from ingest.keyword_index import listing

    scope = _scope(settings, libraries, since, until)
    embedded = settings.store.mode == "embedded"
    articles = listing(settings.data_dir, scope) if embedded else None
    if articles is None:  # the index alone is not known to be the store's: open the store
        from bot.app import Library

        keywords = Library(settings, check_fingerprint=False).keywords
        keywords.catch_up()
        articles = keywords.listed(scope)
    articles.sort(key=lambda a: (a.title.lower(), a.article_id))
    if newest:  # stable: a day's articles stay by title; no date sorts as oldest
        articles.sort(key=lambda a: a.published, reverse=True)
    for article in articles:
        if as_json:
            fields = {k: v for k, v in article.metadata().items() if k != "signature"}
            click.echo(json.dumps(fields, ensure_ascii=False))
            continue
        date = article.published or "no date"
        chunks = f"{article.chunk_count:>4} chunks"
        language = article.language or "?"
        click.echo(
            f"{article.article_id}  {chunks}  {date:<10}  {language:<3} "
            f"{isolate(one_line(article.title))}"
        )
        click.echo(f"    {one_line(article.source)}  [{', '.join(article.libraries)}]")
        if article.duplicate_of:
            click.echo(f"    duplicate of {article.duplicate_of}: the same story, stored once")
    if not as_json:
        merged = sum(bool(article.duplicate_of) for article in articles)
        duplicates = f" ({merged} merged duplicates)" if merged else ""
        total = sum(article.chunk_count for article in articles)
        click.echo(f"{len(articles)} articles{duplicates}, {total} chunks")


@cli.command()
@click.argument("article_ids", nargs=-1, required=True)
@click.option(
    "--library", callback=_library, metavar="NAME",
    help="Take the articles out of this library only (an article in no library is deleted).",
)  # fmt: skip
@click.pass_obj
def remove(settings: Settings, article_ids: tuple[str, ...], library: str | None) -> None:
    """Delete articles (ids as `inquote list` shows them), or take them out of one library.

    \b
    Examples:
      inquote remove rosetta-stone-27a5d058
      inquote remove --library news rosetta-stone-27a5d058
    """
    ingestor = _writing(settings).ingestor()
    for article_id in article_ids:
        article = ingestor.remove(article_id, library)
        title = one_line(article.title)
        if library is not None and article.libraries != (library,):
            click.echo(f"taken out of {library}  {article.article_id}  {title}")
        else:
            click.echo(f"removed  {article.article_id}  {title}")


@cli.command(name="reindex")
@click.option(
    "--from-sources", "from_sources", is_flag=True,
    help="Build the store again by reading every article's source (DATA_DIR/sources.jsonl): "
    "for a store that is lost or damaged. An embedded store's old folder is kept aside.",
)  # fmt: skip
@click.pass_obj
def reindex_command(settings: Settings, from_sources: bool) -> None:
    """Re-chunk and re-embed every article with the configured embedding model and chunk sizes.

    \b
    Examples:
      inquote reindex
      inquote reindex --from-sources
    """
    if from_sources:
        _rebuild_from_sources(settings)
        return
    library = _writing(settings, check_fingerprint=False)
    count = library.ingestor().reindex(
        lambda article: click.echo(f"  {article.article_id}", err=True)
    )
    model = library.embedder.fingerprint.model
    click.echo(f"re-embedded {count} articles with {model}: {library.store.chunk_count()} chunks")


def _rebuild_from_sources(settings: Settings) -> None:
    """A new store holding what the sources hold now, each in the libraries it was in."""
    from ingest.locking import DataDirLock
    from ingest.outcomes import IngestOutcome
    from ingest.sources import SourceLog

    known = SourceLog(settings.data_dir).sources()
    if not known:
        raise click.ClickException(
            f"No sources are noted in {settings.data_dir} (sources.jsonl): only articles stored "
            "since inquote noted them can be read again; restore a backup (`inquote restore`) or "
            "ingest the articles again"
        )
    old = settings.data_dir / CHROMA_FOLDER
    if settings.store.mode == "embedded" and old.exists():
        lock = DataDirLock(settings.data_dir)
        lock.acquire()  # no writer may be using the store we move aside
        try:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = old.with_name(f"{CHROMA_FOLDER}.before-rebuild-{stamp}")
            old.rename(aside)
        finally:
            lock.release()
        click.echo(f"the old store is kept in {aside}", err=True)
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # a client opened before would read the old file
    ingestor = _writing(settings).ingestor()
    failed = 0
    for entry in known:
        for library in entry.libraries:
            if entry.source.startswith(("http://", "https://")):
                outcome = ingestor.add_url(entry.source, library)
            elif Path(entry.source).is_file():
                [outcome] = ingestor.add_paths([Path(entry.source)], library=library).outcomes
            else:
                from ingest.outcomes import IngestOutcome

                gone = f"{entry.source}: can't be read again (an upload, or a file since moved)"
                outcome = IngestOutcome(entry.source, "failed", reason=gone)
            _echo_outcome(outcome)
            if outcome.status == "failed":
                click.echo(f"   failed  {one_line(outcome.reason)}", err=True)
            failed += outcome.status == "failed"
    stored = ingestor.store.article_count()
    click.echo(f"rebuilt from {len(known)} sources: {stored} articles stored, {failed} failed")
    if failed:
        sys.exit(1)


@cli.command(name="backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def backup_command(settings: Settings, destination: Path) -> None:
    """Copy the data directory (store, feeds, bot journal) to DESTINATION, consistently.

    \b
    Examples:
      inquote backup ~/inquote-backup-2026-12-02
    """
    from ingest.backup import backup

    _embedded_only(settings, "backup")
    copied = backup(settings.data_dir, destination)
    click.echo(f"backed up {settings.data_dir} to {destination} ({copied} files)")


@cli.command(name="restore")
@click.argument("source", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.pass_obj
def restore_command(settings: Settings, source: Path) -> None:
    """Put a backup made by `inquote backup` in place of the data directory's contents.

    What was there is moved to a folder beside it, not deleted.

    \b
    Examples:
      inquote restore ~/inquote-backup-2026-12-02
    """
    from ingest.backup import restore

    _embedded_only(settings, "restore")
    aside = restore(source, settings.data_dir)
    click.echo(f"restored {source} into {settings.data_dir}; what was there is in {aside}")


def _embedded_only(settings: Settings, command: str) -> None:
    if settings.store.mode == "server":
        raise click.ClickException(
            f"`inquote {command}` copies an embedded store; in server mode {command} the Chroma "
            "server's own data folder (its --path, or the compose volume) with the server stopped"
        )


def main() -> None:
    try:
        cli(prog_name="inquote")
    except BrokenPipeError:  # the reader of the output went away (`inquote list | head -1`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(1)
