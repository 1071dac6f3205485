"""Articles from the web: safe fetching (SSRF), extraction, PDFs, feeds, one copy per story."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.errors import SourceError
from config.settings import Settings, load_settings
from ingest.fetching import Fetcher
from ingest.pipeline import Ingestor
from ingest.reading import read_article
from ingest.store import ChromaStore
from tests.conftest import FakeEmbedder
from tests.fake_web import (
    FIXTURES,
    FakeSite,
    Page,
    gzip_bomb,
    html,
    redirect,
    serve,
    text_pdf,
)
from tests.test_cli import run

EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def sentinel() -> Iterator[FakeSite]:
    """A private service (127.0.0.1) that nothing may reach; every route answers, and counts."""
    site = FakeSite(routes={"/": (200, {"Content-Type": "text/html"}, b"<p>secret</p>")})
    with serve(site, host="127.0.0.1") as running:
        yield running


@pytest.fixture
def site(sentinel: FakeSite) -> Iterator[FakeSite]:
    routes: dict[str, Page | Callable[[], Page]] = {
        "/news/harbour-bridge": html("harbour-bridge.html"),
        "/culture/library": html("library-reopens.html"),
        "/to-private": redirect(f"{sentinel.url}/"),
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        "/loop": redirect("/loop"),
        "/bomb": gzip_bomb(50_000_000),
        "/big": (200, {"Content-Type": "text/html"}, b"<p>" + b"x" * 300_000 + b"</p>"),
        "/big-undeclared": (
            200,
            {"Content-Type": "text/html", "X-No-Length": "1", "Connection": "close"},
            b"x" * 300_000,
        ),
        "/image": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n"),
        "/slow": (200, {"Content-Type": "text/html"}, b"<p>late</p>"),
        "/report.pdf": (
            200,
            {"Content-Type": "application/pdf"},
            text_pdf(
                [
                    "The tide gauge recorded a surge of 2.1 metres on 4 March.",
                    "The harbour authority closed the north quay for six hours.",
                ],
                title="Tide report",
            ),
        ),
        "/scan.pdf": (200, {"Content-Type": "application/pdf"}, text_pdf(None)),
    }
    with serve(FakeSite(routes=routes, delay={"/slow": 3.0})) as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        overrides={
            "data_dir": str(tmp_path / "data"),
            "fetch.timeout_seconds": "1",
            "fetch.max_bytes": "200000",
        }
    )


def fetcher(settings: Settings) -> Fetcher:
    return Fetcher(settings.fetch, exempt=["127.0.0.2"])  # the fake site stands for the internet


def web_ingestor(settings: Settings, store: ChromaStore, embedder: FakeEmbedder) -> Ingestor:
    return Ingestor(store, embedder, settings, fetcher(settings))


SSRF_TARGETS = [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://127.1:{port}/",
    "http://0x7f000001:{port}/", "http://2130706433:{port}/", "http://017700000001:{port}/",
    "http://0177.0.0.1:{port}/", "http://0x7f.0.0.1:{port}/", "http://127.0.0.1.:{port}/",
    "http://[::1]:{port}/", "http://[::ffff:127.0.0.1]:{port}/",
    "http://[0:0:0:0:0:ffff:7f00:1]:{port}/", "http://0.0.0.0:{port}/", "http://0:{port}/",
    "http://127.0.0.3:{port}/", "http://10.0.0.1/", "http://10.255.255.254/",
    "http://172.16.0.1/", "http://172.31.255.254/", "http://192.168.0.1/",
    "http://192.168.1.254/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
    "http://100.127.255.254/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fe80::1]/",
    "http://224.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/", "http://[::]/",
    "http://192.0.0.1/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
    "file:///etc/passwd", "ftp://127.0.0.1:{port}/", "gopher://127.0.0.1:{port}/",
    "http://user:pass@127.0.0.2:{port}/", "{site}/to-private", "{site}/to-metadata",
]  # fmt: skip


def test_private_targets_are_refused_and_never_reached(
    settings: Settings, site: FakeSite, sentinel: FakeSite
) -> None:
    port = sentinel.url.rsplit(":", 1)[1]
    default = load_settings().fetch
    assert default.allow_private_addresses is False  # the refusal below is the default
    guarded = Fetcher(default, exempt=["127.0.0.2"])
    refused = []
    for target in SSRF_TARGETS:
        url = target.format(port=port, site=site.url)
        with pytest.raises(SourceError) as caught:
            guarded.fetch(url)
        refused.append(str(caught.value))
    assert len(refused) >= 30
    assert sentinel.hits == []
    assert "a loopback address" in refused[0]
    assert "169.254.169.254, a private address" in refused[-1] or "link-local" in refused[-1]


def test_private_addresses_can_be_allowed(settings: Settings, sentinel: FakeSite) -> None:
    allowing = load_settings(overrides={"fetch.allow_private_addresses": "true"}).fetch
    fetched = Fetcher(allowing).fetch(f"{sentinel.url}/")
    assert fetched.body == b"<p>secret</p>"
    assert sentinel.hits == ["/"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/loop", "more than 5 redirects"),
        ("/bomb", "decompresses to more than the 200000 bytes allowed"),
        ("/big", "300007 bytes is more than the 200000 allowed"),
        ("/big-undeclared", "more than the 200000 bytes allowed"),
        ("/image", "image/png is not an article"),
        ("/slow", "no answer in time"),
        ("/missing", "the server answered 404"),
        ("/scan.pdf", "the PDF has no text layer (a scan?)"),
    ],
)
def test_bad_responses_fail_with_one_line_and_store_nothing(
    settings: Settings, site: FakeSite, fake_embedder: FakeEmbedder, path: str, reason: str
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    outcome = web_ingestor(settings, store, fake_embedder).add_url(f"{site.url}{path}")
    assert outcome.status == "failed"
    assert reason in outcome.reason
    assert "\n" not in outcome.reason
    assert store.articles() == []
    assert store.chunk_count() == 0


def test_pages_keep_their_body_and_metadata_and_lose_the_boilerplate(
    settings: Settings, site: FakeSite, fake_embedder: FakeEmbedder
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    for path, name in (("/news/harbour-bridge", "harbour-bridge.html"),
                       ("/culture/library", "library-reopens.html")):  # fmt: skip
        outcome = web_ingestor(settings, store, fake_embedder).add_url(f"{site.url}{path}")
        assert outcome.status == "added", outcome.reason
        article = store.get_article(outcome.article_id)
        assert article is not None
        for sentence in EXPECTED[name]["body"]:
            assert sentence in article.text
        for boilerplate in EXPECTED[name]["boilerplate"]:
            assert boilerplate.lower() not in article.text.lower()
    bridge = next(a for a in store.articles() if "harbour" in a.title)
    # The page names a canonical URL on another site than the one it came from (the loopback
    # stand-in): not believed, so the fetched URL is the source.
    assert bridge.source == f"{site.url}/news/harbour-bridge"
    assert (bridge.title, bridge.published, bridge.author, bridge.site) == (
        "Council votes to rebuild the harbour bridge", "2024-03-05", "Mara Lindqvist",
        "The Coastal Courier",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "name"),
    [("/news/harbour-bridge", "harbour-bridge.html"), ("/culture/library", "library-reopens.html")],
)
def test_a_page_gives_the_same_text_from_a_file_and_from_its_url(
    settings: Settings, site: FakeSite, fake_embedder: FakeEmbedder, path: str, name: str
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    outcome = web_ingestor(settings, store, fake_embedder).add_url(f"{site.url}{path}")
    fetched = store.get_article(outcome.article_id)
    saved = read_article(FIXTURES / name)
    assert fetched is not None
    assert saved.text == fetched.text  # so quote offsets agree, whichever way it came in
    assert (saved.title, saved.published) == (fetched.title, fetched.published)
    for boilerplate in EXPECTED[name]["boilerplate"]:
        assert boilerplate.lower() not in saved.text.lower()


def test_pdfs_from_the_web_and_from_files(
    settings: Settings, site: FakeSite, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    store = ChromaStore.open_persistent(settings.data_dir, fake_embedder.fingerprint)
    outcome = web_ingestor(settings, store, fake_embedder).add_url(f"{site.url}/report.pdf")
    assert outcome.status == "added"
    assert outcome.title == "Tide report"
    article = store.get_article(outcome.article_id)
    assert article is not None
    assert "surge of 2.1 metres" in article.text
    (tmp_path / "scan.pdf").write_bytes(text_pdf(None))
    result = run(tmp_path / "cli", "ingest", str(tmp_path / "scan.pdf"))
    assert result.exit_code == 1
    assert "no text layer" in result.stderr


WIRE = (FIXTURES / "harbour-bridge.html").read_text(encoding="utf-8")


def republished(outlet: str) -> bytes:
    """The same wire story on another site: other chrome, headline, byline, one sentence cut."""
    page = (
        WIRE.replace("The Coastal Courier", outlet)
        .replace(
            "Council votes to rebuild the harbour bridge",
            "Harbour bridge to be rebuilt, council says",
        )
        .replace("By Mara Lindqvist", "By our news desk")
        .replace(
            "<p>Opposition councillors argued that a ferry service would have been cheaper, "
            "but their amendment was defeated by eleven votes to four.</p>",
            "",
        )
        .replace("coastal-courier.example", outlet.lower().replace(" ", "-") + ".example")
    )
    return page.encode()


def test_a_republished_story_is_linked_not_stored_twice(
    settings: Settings, site: FakeSite, tmp_path: Path
) -> None:
    site.routes["/wire/bridge"] = (200, {"Content-Type": "text/html"}, republished("North Post"))
    site.routes["/other"] = html("library-reopens.html")
    env = {"INQUOTE_FETCH__ALLOW_PRIVATE_ADDRESSES": "true"}
    first = run(tmp_path, "ingest", f"{site.url}/news/harbour-bridge", env=env)
    again = run(tmp_path, "ingest", f"{site.url}/news/harbour-bridge", env=env)
    copy = run(tmp_path, "ingest", f"{site.url}/wire/bridge", f"{site.url}/other", env=env)
    assert first.exit_code == again.exit_code == copy.exit_code == 0, copy.output
    assert "1 unchanged" in again.stdout  # same source: the same article
    assert "1 added, 0 updated, 0 unchanged, 1 merged as duplicates, 0 failed" in copy.stdout
    assert "same story as Council votes to rebuild the harbour bridge" in copy.stderr
    listed = run(tmp_path, "list").stdout
    assert "duplicate of harbour-bridge-" in listed
    assert "3 articles (1 merged duplicates)" in listed
    rows = [json.loads(line) for line in run(tmp_path, "list", "--json").stdout.splitlines()]
    [duplicate] = [row for row in rows if row["duplicate_of"]]
    assert duplicate["chunk_count"] == 0
    assert "signature" not in duplicate


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Coastal Courier</title>
<link>{site}/</link><description>News</description>{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{site}{path}</link><guid>{site}{path}</guid></item>"


def test_feeds_ingest_new_entries_and_remember_what_they_saw(
    site: FakeSite, tmp_path: Path
) -> None:
    def feed(*entries: tuple[str, str]) -> tuple[int, dict[str, str], bytes]:
        items = "".join(ITEM.format(title=t, site=site.url, path=p) for t, p in entries)
        body = FEED.format(site=site.url, items=items).encode()
        return 200, {"Content-Type": "application/rss+xml"}, body

    site.routes["/feed.xml"] = feed(("Bridge", "/news/harbour-bridge"), ("Gone", "/missing"))
    env = {"INQUOTE_FETCH__ALLOW_PRIVATE_ADDRESSES": "true"}
    first = run(tmp_path, "ingest", "--feed", f"{site.url}/feed.xml", env=env)
    assert "1 added" in first.stdout
    assert first.exit_code == 1  # the missing entry failed, and says so
    site.routes["/feed.xml"] = feed(
        ("Library", "/culture/library"), ("Bridge", "/news/harbour-bridge"), ("Gone", "/missing")
    )
    site.routes["/missing"] = html("library-reopens.html")  # back, but the same story as Library
    second = run(tmp_path, "ingest", "--feed", f"{site.url}/feed.xml", env=env)
    assert "1 added" in second.stdout, second.output
    assert "1 merged as duplicates" in second.stdout
    assert site.hits.count("/news/harbour-bridge") == 1  # seen entries are not fetched again
    feeds = run(tmp_path, "feeds").stdout
    assert f"{site.url}/feed.xml  Coastal Courier" in feeds
    assert "3 entries seen, 2 articles added" in feeds
    state = json.loads((tmp_path / "feeds.json").read_text(encoding="utf-8"))
    assert len(state[0]["seen"]) == 3


def test_a_feed_that_is_down_is_reported_and_kept(site: FakeSite, tmp_path: Path) -> None:
    env = {"INQUOTE_FETCH__ALLOW_PRIVATE_ADDRESSES": "true"}
    result = run(tmp_path, "ingest", "--feed", f"{site.url}/no-feed.xml", env=env)
    assert "the server answered 404" in result.stderr
    assert f"{site.url}/no-feed.xml" in run(tmp_path, "feeds").stdout
