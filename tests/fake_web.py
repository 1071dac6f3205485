"""Loopback web servers for fetching tests: a scripted site, and a sentinel that counts hits.

The site binds 127.0.0.2, which the tests' fetcher treats as a public address; the sentinel binds
127.0.0.1 and stands for everything private that must never be reached.
"""

from __future__ import annotations

import contextlib
import gzip
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.loopback import serving

FIXTURES = Path(__file__).parent / "fixtures" / "web"
Page = tuple[int, dict[str, str], bytes]


@dataclass
class FakeSite:
    routes: dict[str, Page | Callable[[], Page]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    delay: dict[str, float] = field(default_factory=dict)
    url: str = ""

    def page(self, path: str) -> Page:
        self.hits.append(path)
        time.sleep(self.delay.get(path, 0.0))
        route = self.routes.get(path)
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return route() if callable(route) else route


def html(name: str) -> Page:
    body = (FIXTURES / name).read_bytes()
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body


def redirect(to: str) -> Page:
    return 302, {"Location": to}, b""


def gzip_bomb(decompressed: int) -> Page:
    body = gzip.compress(b"<p>" + b"a" * decompressed + b"</p>", compresslevel=9)
    return 200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, body


def text_pdf(lines: list[str] | None, title: str = "") -> bytes:
    """A one-page PDF with ``lines`` as its text layer (None: a page with no text, like a scan)."""
    text = (
        "BT /F1 11 Tf 50 780 Td 14 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
            for line in lines or []
        )
        + " ET"
        if lines
        else "0 0 1 rg 50 50 500 700 re f"
    )
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (" + title.encode("latin-1") + b") >>",
    ]
    return pdf_file(objects, info=6)


def pdf_file(objects: list[bytes], info: int | None = None) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    about = b" /Info %d 0 R" % info if info else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        about,
        xref,
    )
    return bytes(out)


@contextmanager
def serve(site: FakeSite, host: str = "127.0.0.2") -> Iterator[FakeSite]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = site.page(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers and "X-No-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the fetcher may stop reading: that is what caps are for

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler, host=host) as url:
        site.url = url
        yield site
