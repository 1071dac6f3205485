"""The ``inquote`` command line: a thin layer over ``ingest`` and ``bot.answering``."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from bot.answering import Answer
from bot.app import build_answerer, open_store
from config.errors import InquoteError, SourceError
from config.settings import Settings, load_settings
from ingest.embedding import make_embedder
from ingest.pipeline import IngestOutcome, ingest_files, reindex
from ingest.reading import find_articles

PROGRESS_FROM = 5  # files; fewer get no progress bar


class _Group(click.Group):
    """Turns inquote's own errors into one clean line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InquoteError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
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
    """Ask questions of your articles; every quote shown is checked against its article."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{assignment}' is not KEY=VALUE", param_hint="--set")
        overrides[key.strip()] = value
    if data_dir is not None:
        overrides["data_dir"] = str(data_dir)
    try:
        ctx.obj = load_settings(config_file, os.environ, overrides)
    except InquoteError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def ingest(settings: Settings, paths: tuple[Path, ...]) -> None:
    """Add or update articles from files and folders (.txt, .md, .html)."""
    files = list(find_articles(paths))
    if not files:
        named = ", ".join(str(path) for path in paths)
        raise SourceError(f"No .txt, .md or .html files found in {named}")
    embedder = make_embedder(settings)
    store = open_store(settings, embedder)
    if len(files) < PROGRESS_FROM:
        report = ingest_files(files, store, embedder, settings.chunking, _echo_outcome)
    else:
        with click.progressbar(length=len(files), label="Ingesting", file=sys.stderr) as bar:
            report = ingest_files(
                files, store, embedder, settings.chunking, lambda _: bar.update(1)
            )
    click.echo(f"{report.summary()} — {store.chunk_count()} chunks in the store")
    for outcome in report.failed:
        click.echo(f"  failed: {outcome.reason}", err=True)
    if report.failed:
        sys.exit(1)


def _echo_outcome(outcome: IngestOutcome) -> None:
    if outcome.status != "failed":
        click.echo(f"{outcome.status:>9}  {outcome.article_id}  {outcome.title}", err=True)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", type=click.IntRange(1, 100), help="Chunks to retrieve (retrieval.top_k).")
@click.option(
    "--article", "article_ids", multiple=True, help="Only search this article id (repeatable)."
)
@click.pass_obj
def ask(
    settings: Settings,
    question: str,
    as_json: bool,
    top_k: int | None,
    article_ids: tuple[str, ...],
) -> None:
    """Answer QUESTION from the stored articles; '-' reads one question per line from stdin."""
    answerer = build_answerer(settings)
    questions = (line for line in sys.stdin) if question == "-" else iter([question])
    for asked in questions:
        if not asked.strip():
            continue
        answer = answerer.ask(asked, top_k=top_k, article_ids=article_ids or None)
        if as_json:
            click.echo(json.dumps(answer.as_json(), ensure_ascii=False))
        else:
            click.echo(render_answer(answer) + ("\n" if question == "-" else ""))


def render_answer(answer: Answer) -> str:
    """The answer for a terminal: text, then each quote's article.

    A quote the answer text already holds word for word is not printed twice; the closest
    passages of an abstention are.
    """
    lines = [answer.text, ""]
    for number, quote in enumerate(answer.quotes, 1):
        dated = f" ({quote.published})" if quote.published else ""
        if quote.text in answer.text:
            lines.append(f"[{number}] {quote.title}{dated}")
        else:
            lines.append(f"[{number}] “{quote.text}”")
            lines.append(f"    — {quote.title}{dated}")
        lines.append(f"    {quote.source}, characters {quote.start}-{quote.end}")
    return "\n".join(lines).rstrip()


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article per line.")
@click.pass_obj
def list_articles(settings: Settings, as_json: bool) -> None:
    """Show the stored articles."""
    store = open_store(settings, make_embedder(settings))
    articles = store.articles()
    for article in articles:
        if as_json:
            click.echo(json.dumps(article.metadata(), ensure_ascii=False))
        else:
            date = article.published or "-"
            chunks = f"{article.chunk_count:>4} chunks"
            click.echo(f"{article.article_id}  {chunks}  {date:<10}  {article.title}")
            click.echo(f"    {article.source}")
    if not as_json:
        click.echo(f"{len(articles)} articles, {store.chunk_count()} chunks")


@cli.command()
@click.argument("article_ids", nargs=-1, required=True)
@click.pass_obj
def remove(settings: Settings, article_ids: tuple[str, ...]) -> None:
    """Delete articles (ids as `inquote list` shows them)."""
    store = open_store(settings, make_embedder(settings))
    for article_id in article_ids:
        article = store.remove_article(article_id)
        click.echo(f"removed  {article.article_id}  {article.title}")


@cli.command(name="reindex")
@click.pass_obj
def reindex_command(settings: Settings) -> None:
    """Re-chunk and re-embed every article with the configured embedding model and chunk sizes."""
    embedder = make_embedder(settings)
    store = open_store(settings, embedder, check_fingerprint=False)
    count = reindex(
        store, embedder, settings.chunking, lambda a: click.echo(f"  {a.article_id}", err=True)
    )
    model = embedder.fingerprint.model
    click.echo(f"re-embedded {count} articles with {model}: {store.chunk_count()} chunks")


def main() -> None:
    cli(prog_name="inquote")
