"""Files become clean articles: text, title, date, stable id; bad files fail with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import SourceError
from ingest.reading import find_articles, markdown_to_text, parse_date, read_article
from tests.conftest import SEEDS


def test_html_keeps_the_article_body_and_drops_the_chrome() -> None:
    article = read_article(SEEDS / "apollo-11-moon-landing.html")
    assert article.title == "Apollo 11: the first crewed Moon landing"
    assert article.published == "2025-11-20"
    assert "Neil Armstrong" in article.text
    for chrome in ("Sign up for our newsletter", "Home", "window.analytics", "font-family"):
        assert chrome not in article.text


def test_markdown_front_matter_gives_title_and_date() -> None:
    article = read_article(SEEDS / "mehr-news-donbas-recognition-2022.md")
    assert article.title.startswith("Putin recognises Donetsk and Lugansk")
    assert article.published == "2022-02-22"
    assert article.text.startswith("TEHRAN-Russian President Vladimir Putin")
    assert "---" not in article.text
    assert "license:" not in article.text


def test_text_file_title_is_its_first_line_and_date_is_found_in_the_text() -> None:
    article = read_article(SEEDS / "great-molasses-flood-1919.txt")
    assert article.title == "The Great Molasses Flood of 1919"
    assert article.published == "1919-01-15"


def test_markdown_markup_is_removed_but_words_stay() -> None:
    markdown = (
        "# Heading\n\nSome **bold** and _italic_ text with a [link](http://x.example/a).\n\n"
        "- item one\n1. item two\n> quoted\n\n```\ncode **kept**\n```\n"
    )
    assert markdown_to_text(markdown).split("\n") == [
        "Heading",
        "",
        "Some bold and italic text with a link.",
        "",
        "item one",
        "item two",
        "quoted",
        "",
        "code **kept**",
        "",
    ]


def test_ids_are_stable_and_hashes_follow_content(tmp_path: Path) -> None:
    path = tmp_path / "Story Ünïcode.txt"
    path.write_text("A story\n\nIt happened.", encoding="utf-8")
    first = read_article(path)
    path.write_text("A story\r\n\r\n\r\n\r\nIt happened.  \n", encoding="utf-8")
    same = read_article(path)
    path.write_text("A story\n\nIt happened again.", encoding="utf-8")
    changed = read_article(path)
    assert first.article_id == same.article_id == changed.article_id
    assert first.article_id.startswith("story-unicode-")
    assert first.content_hash == same.content_hash  # line ends and blank lines are cleaned
    assert first.content_hash != changed.content_hash
    assert first.source == str(path.resolve())


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.pdf", b"%PDF-1.7", "not a readable PDF"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
        ("empty.txt", b"", "holds no text"),
        ("blank.md", b"---\ntitle: x\n---\n\n   \n", "holds no text"),
        ("binary.txt", b"abc\x00\x01\x02", "looks binary"),
        ("latin1.txt", "café".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_bad_files_fail_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=reason) as caught:
        read_article(path)
    assert str(path) in str(caught.value)


def test_html_in_a_declared_legacy_charset_is_decoded(tmp_path: Path) -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "<title>Café “news”</title></head><body><p>Señor Müller paid 5 €.</p></body></html>"
    )
    path = tmp_path / "legacy.html"
    path.write_bytes(page.encode("windows-1252"))
    article = read_article(path)
    assert article.title == "Café “news”"
    assert article.text == "Señor Müller paid 5 €."


def test_html_in_an_undeclared_legacy_charset_fails(tmp_path: Path) -> None:
    path = tmp_path / "legacy.html"
    path.write_bytes("<p>Señor Müller</p>".encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8 text"):
        read_article(path)
    path.write_bytes('<meta charset="no-such-codec"><p>Señor</p>'.encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8 text"):
        read_article(path)


def test_missing_file_fails_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_article(tmp_path / "gone.txt")


def test_folders_are_searched_recursively_for_supported_files(tmp_path: Path) -> None:
    for name in ("a.txt", "sub/b.md", "sub/deeper/c.HTML", "sub/skip.docx", ".hidden/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = [path.relative_to(tmp_path).as_posix() for path in find_articles([tmp_path])]
    assert found == ["a.txt", "sub/b.md", "sub/deeper/c.HTML"]
    # a file named directly is taken as it is, so its error can be reported
    assert list(find_articles([tmp_path / "sub/skip.docx"])) == [tmp_path / "sub/skip.docx"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Published 2022-02-22 in Tehran", "2022-02-22"),
        ("Boston, 15 January 1919. Shortly", "1919-01-15"),
        ("On July 20, 1969 the crew landed", "1969-07-20"),
        ("2022-02-30 is no date, but 1 March 2022 is", "2022-03-01"),
        ("No date here, just 1919 and 12 items", ""),
    ],
)
def test_parse_date(text: str, expected: str) -> None:
    assert parse_date(text) == expected
