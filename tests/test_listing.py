"""`inquote list` on an embedded store reads the keyword index alone when the index is known to be
the store's, and opens the store otherwise: after a write cut short, or another database file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from config.settings import Settings
from ingest.keyword_index import KEYWORDS_FOLDER, WRITE_MARK, KeywordIndex, listing
from ingest.pipeline import Ingestor
from ingest.schema import WHOLE_STORE, Scope

LISTS_AND_SAYS_WHAT_IT_IMPORTED = """
import sys
from bot.cli import main
sys.argv = ["inquote", "list"]
try:
    main()
except SystemExit:
    pass
print("imported chromadb" if "chromadb" in sys.modules else "no chromadb", file=sys.stderr)
"""


def listed(data_dir: Path) -> str:
    env = {"INQUOTE_DATA_DIR": str(data_dir)}
    result = CliRunner().invoke(cli, ["list"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_list_after_a_write_reads_the_index_alone(writer: Ingestor, settings: Settings) -> None:
    from_store = {a.article_id: a for a in writer.store.article_summaries()}
    writer.store.close()
    from_index = listing(settings.data_dir, WHOLE_STORE)
    assert from_index is not None
    assert {a.article_id: a.title for a in from_index} == {
        i: a.title for i, a in from_store.items()
    }
    assert {a.article_id: a.chunk_count for a in from_index} == {
        i: a.chunk_count for i, a in from_store.items()
    }
    assert listing(settings.data_dir, Scope(libraries=("news",))) == []
    in_default = listing(settings.data_dir, Scope(libraries=("default",)))
    assert in_default is not None
    assert len(in_default) == len(from_store)
    process = subprocess.run(
        [sys.executable, "-c", LISTS_AND_SAYS_WHAT_IT_IMPORTED],
        env={**os.environ, "INQUOTE_DATA_DIR": str(settings.data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "5 articles" in process.stdout
    assert process.stderr.strip() == "no chromadb"


def test_a_write_cut_short_sends_the_list_to_the_store(
    writer: Ingestor, settings: Settings, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the store's commit and the index's update: the new article is stored,
    the index does not hold it, and only the mark says so."""

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    (seeds_copy / "cloves.md").write_text(
        "# Cloves\n\nThe clove harvest fell by a third this year.\n", encoding="utf-8"
    )
    monkeypatch.setattr(KeywordIndex, "catch_up", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.add_paths([seeds_copy / "cloves.md"])
    monkeypatch.undo()
    writer.store.close()
    assert (settings.data_dir / KEYWORDS_FOLDER / WRITE_MARK).exists()
    assert listing(settings.data_dir, WHOLE_STORE) is None
    assert "Cloves" in listed(settings.data_dir)  # from the store, caught up
    assert "6 articles" in listed(settings.data_dir)


def test_another_database_file_is_not_listed_from_the_old_index(
    writer: Ingestor, settings: Settings
) -> None:
    """A store restored or rebuilt in place is another file: its old index says nothing of it."""
    writer.store.close()
    assert listing(settings.data_dir, WHOLE_STORE) is not None
    database = settings.data_dir / "chroma" / "chroma.sqlite3"
    shutil.copy(database, database.with_name("copy"))
    database.with_name("copy").replace(database)
    assert listing(settings.data_dir, WHOLE_STORE) is None
    assert "5 articles" in listed(settings.data_dir)
    assert listing(settings.data_dir, WHOLE_STORE) is not None  # the list caught the index up
