"""Fetching user-supplied URLs without letting them reach what they should not.

The Telegram bot passes URLs from people here, so every fetch is treated as hostile:

* http and https only, no credentials in the URL;
* the host is resolved once, every address it resolves to must be global (not loopback, private,
  link-local, CGNAT, unique-local, multicast, reserved, or an IPv4-mapped IPv6 spelling of those),
  and the connection goes to the address that was checked — DNS cannot change its answer between
  check and connect. Decimal, hex and octal IP spellings resolve like any name and are checked the
  same way;
* redirects are followed by hand, at most ``max_redirects``, each one checked again;
* connect and read timeouts and an overall deadline; the body is capped both as sent
  (``Content-Length``, bytes on the wire) and as decompressed (a gzip bomb stops at the cap);
* only the content types an article can come in are accepted.

``fetch.allow_private_addresses`` lifts the address check, for tests and intranets; it is off by
default.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from config.errors import SourceError
from config.settings import FetchSettings

ARTICLE_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "application/pdf": "pdf",
    "application/rss+xml": "feed",
    "application/atom+xml": "feed",
    "application/xml": "feed",
    "text/xml": "feed",
}
REDIRECTS = {301, 302, 303, 307, 308}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    kind: str  # html, text, markdown, pdf or feed
    body: bytes
    charset: str | None


class RefusedAddress(SourceError):
    """The URL leads to an address inquote does not fetch from."""


def refused_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched from, or None when it is a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused_reason(address.ipv4_mapped)
    for name, flagged in (
        ("loopback", address.is_loopback),
        ("private", address.is_private),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
    ):
        if flagged:
            return name
    return None if address.is_global else "not global"


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, then connects to the checked one (no second lookup)."""

    def __init__(self, allow_private: bool, exempt: frozenset[IPAddress]) -> None:
        self._allow_private = allow_private
        self._exempt = exempt
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise RefusedAddress(f"{host}: the name does not resolve ({exc})") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for address in addresses:
            reason = refused_reason(address)
            if reason and not self._allow_private and address not in self._exempt:
                raise RefusedAddress(
                    f"{host} resolves to {address}, a {reason} address; inquote only fetches "
                    "from public addresses (fetch.allow_private_addresses allows others)"
                )
        return self._inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise RefusedAddress("unix sockets are never fetched from")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Fetcher:
    """Fetches one URL at a time under the rules in the module docstring."""

    def __init__(self, settings: FetchSettings, *, exempt: Iterable[str] = ()) -> None:
        """``exempt``: addresses treated as public (tests stand in for the internet with them)."""
        self._settings = settings
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),
            network_backend=_GuardedBackend(
                settings.allow_private_addresses,
                frozenset(ipaddress.ip_address(a) for a in exempt),
            ),
            max_connections=4,
            retries=0,
        )

    def fetch(
        self, url: str, accept: frozenset[str] = frozenset(ARTICLE_TYPES.values())
    ) -> Fetched:
        deadline = time.monotonic() + self._settings.deadline_seconds
        for _ in range(self._settings.max_redirects + 1):
            _check_url(url)
            try:
                result = self._get(url, deadline, accept)
            except httpcore.TimeoutException as exc:
                raise SourceError(f"{url}: no answer in time ({exc.__class__.__name__})") from exc
            except httpcore.NetworkError as exc:
                raise SourceError(f"{url}: cannot connect ({exc})") from exc
            except httpcore.ProtocolError as exc:
                raise SourceError(f"{url}: broken HTTP response ({exc})") from exc
            if isinstance(result, Fetched):
                return result
            url = result  # a redirect, checked again on the next round
        raise SourceError(f"{url}: more than {self._settings.max_redirects} redirects")

    def _get(self, url: str, deadline: float, accept: frozenset[str]) -> Fetched | str:
        settings = self._settings
        timeouts = {
            "connect": settings.timeout_seconds,
            "read": settings.timeout_seconds,
            "write": settings.timeout_seconds,
            "pool": settings.timeout_seconds,
        }
        headers = [
            (b"User-Agent", settings.user_agent.encode()),
            (b"Accept-Encoding", b"gzip, deflate"),
            (b"Accept", b"text/html,application/xhtml+xml,application/pdf,application/rss+xml,"
                        b"application/atom+xml,text/plain;q=0.9,*/*;q=0.1"),
        ]  # fmt: skip
        with self._pool.stream(
            "GET", url, headers=headers, extensions={"timeout": timeouts}
        ) as response:
            header = {k.decode().lower(): v.decode("latin-1") for k, v in response.headers}
            if response.status in REDIRECTS and "location" in header:
                return urljoin(url, header["location"])
            if response.status != 200:
                raise SourceError(f"{url}: the server answered {response.status}")
            media, _, params = header.get("content-type", "").partition(";")
            kind = ARTICLE_TYPES.get(media.strip().lower())
            if kind is None or kind not in accept:
                shown = media.strip() or "no content type"
                raise SourceError(f"{url}: {shown} is not an article (HTML, text, PDF or a feed)")
            declared = header.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.max_bytes:
                raise SourceError(
                    f"{url}: {int(declared)} bytes is more than the {settings.max_bytes} allowed"
                )
            body = _read_capped(response.iter_stream(), header.get("content-encoding", ""),
                                settings.max_bytes, deadline, url)  # fmt: skip
            charset = next(
                (
                    p.split("=", 1)[1].strip().strip('"')
                    for p in params.split(";")
                    if "charset=" in p
                ),
                None,
            )
            return Fetched(url, kind, body, charset)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise SourceError(f"{url}: only http and https URLs are fetched")
    if not parts.hostname:
        raise SourceError(f"{url}: no host in the URL")
    if parts.username or parts.password:
        raise SourceError(f"{url}: URLs with credentials are not fetched")


def _read_capped(
    chunks: Iterable[bytes], encoding: str, limit: int, deadline: float, url: str
) -> bytes:
    """The body, decompressed, refusing more than ``limit`` bytes on the wire or decompressed."""
    encoding = encoding.strip().lower()
    decompressor = (
        zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in {"gzip", "x-gzip"}
        else zlib.decompressobj() if encoding == "deflate" else None
    )  # fmt: skip
    raw = out = 0
    parts: list[bytes] = []
    for chunk in chunks:
        raw += len(chunk)
        if time.monotonic() > deadline:
            raise SourceError(f"{url}: the download took too long")
        if raw > limit:
            raise SourceError(f"{url}: more than the {limit} bytes allowed")
        if decompressor is not None:
            chunk = decompressor.decompress(chunk, limit + 1 - out)  # noqa: PLW2901
            if decompressor.unconsumed_tail:
                raise SourceError(f"{url}: decompresses to more than the {limit} bytes allowed")
        out += len(chunk)
        if out > limit:
            raise SourceError(f"{url}: decompresses to more than the {limit} bytes allowed")
        parts.append(chunk)
    return b"".join(parts)
