"""The store's schema, shared by the write path and the read path.

Two Chroma collections hold everything:

* ``inquote_articles``: one record per article; the document is the full clean article text (the
  text every quote is checked against), the metadata is :class:`Article`'s fields. Articles are
  read by id, never by vector, but Chroma wants a vector per record: they all carry
  :data:`ARTICLE_VECTOR`, so this collection does not depend on the embedding model.
* ``inquote_chunks``: one record per chunk; the document is ``article_text[start:end]``, the
  metadata carries ``article_id``, ``content_hash``, ``start`` and ``end``.

An article record also carries its ``libraries`` (named sets of articles: ``,news,history,``; a
record from before libraries is in :data:`DEFAULT_LIBRARY`) and its publication day as a sortable
number (``published_day``, ``20220224``; 0 when the article has no date), so a question's
:class:`Scope` is resolved before its top-k.

Every article record carries a ``revision``: when it was written (nanoseconds since the epoch).
Readers keep their keyword index (``ingest.keyword_index``) up to date by it.

A chunk id contains its article's content hash, so chunks of a new version of an article never
overwrite the old ones: the article record is the commit point, and chunks whose hash differs from
their article record's are stale (ignored by readers and deleted by the next write).

The chunk collection's metadata records the embedding fingerprint; opening the store with a
different embedding model is refused.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

SCHEMA_VERSION = 1
ARTICLES_COLLECTION = "inquote_articles"
CHUNKS_COLLECTION = "inquote_chunks"
REINDEX_COLLECTION = "inquote_chunks_reindex"
ARTICLE_VECTOR = [1.0]
CHROMA_FOLDER = "chroma"  # an embedded store, in the data directory
CHROMA_DATABASE = "chroma.sqlite3"  # its database, in CHROMA_FOLDER

# Collection-metadata keys of the embedding fingerprint.
FINGERPRINT_MODEL = "inquote:embedding_model"
FINGERPRINT_DIMENSION = "inquote:embedding_dimension"
FINGERPRINT_SCHEMA = "inquote:schema_version"

DEFAULT_LIBRARY = "default"
ALL_LIBRARIES = "*"
_LIBRARY_NAME = re.compile(r"^[\w-]{1,64}$")


@dataclass(frozen=True)
class EmbeddingFingerprint:
    """Which model made a collection's vectors; vectors of different models do not mix."""

    model: str
    dimension: int

    def as_metadata(self) -> dict[str, str | int]:
        return {
            FINGERPRINT_MODEL: self.model,
            FINGERPRINT_DIMENSION: self.dimension,
            FINGERPRINT_SCHEMA: SCHEMA_VERSION,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> EmbeddingFingerprint | None:
        if not metadata or FINGERPRINT_MODEL not in metadata:
            return None
        return cls(str(metadata[FINGERPRINT_MODEL]), int(metadata[FINGERPRINT_DIMENSION]))


@dataclass(frozen=True)
class Article:
    """A clean article and what we know about it. ``text`` is what quotes are checked against."""

    article_id: str
    title: str
    source: str
    text: str
    content_hash: str
    published: str = ""  # ISO date (YYYY-MM-DD) when the source carries one
    chunk_count: int = 0
    author: str = ""
    site: str = ""
    signature: str = ""  # MinHash of the text (ingest.dedup), to find the same story again
    duplicate_of: str = ""  # set when this is another copy of that article: it has no chunks
    language: str = ""  # ISO 639 code detected at ingest (ingest.language); "" if unknown
    revision: int = 0  # when the record was written (time.time_ns()); 0 before it is
    libraries: tuple[str, ...] = (DEFAULT_LIBRARY,)
    # spans of licence lines, bylines, credits, plugs (ingest.boilerplate): never an answer
    boilerplate: tuple[tuple[int, int], ...] = ()

    def metadata(self) -> dict[str, str | int]:
        fields = asdict(self)
        del fields["text"]
        fields["libraries"] = library_field(self.libraries)
        fields["boilerplate"] = ",".join(f"{start}-{end}" for start, end in self.boilerplate)
        fields["published_day"] = day_number(self.published)
        return fields

    @classmethod
    def from_record(cls, text: str, metadata: dict[str, Any]) -> Article:
        return cls(
            article_id=str(metadata["article_id"]),
            title=str(metadata["title"]),
            source=str(metadata["source"]),
            text=text,
            content_hash=str(metadata["content_hash"]),
            published=str(metadata.get("published", "")),
            chunk_count=int(metadata.get("chunk_count", 0)),
            author=str(metadata.get("author", "")),
            site=str(metadata.get("site", "")),
            signature=str(metadata.get("signature", "")),
            duplicate_of=str(metadata.get("duplicate_of", "")),
            language=str(metadata.get("language", "")),
            revision=int(metadata.get("revision", 0)),
            libraries=libraries_of(str(metadata.get("libraries", ""))),
            boilerplate=_spans_of(str(metadata.get("boilerplate", ""))),
        )

    def is_boilerplate(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` overlaps a boilerplate line."""
        return any(
            start < line_end and line_start < end for line_start, line_end in self.boilerplate
        )


@dataclass(frozen=True)
class Chunk:
    """A span of an article: ``text == article.text[start:end]``."""

    chunk_id: str
    article_id: str
    content_hash: str
    index: int
    start: int
    end: int
    text: str

    def metadata(self) -> dict[str, str | int]:
        return {
            "article_id": self.article_id,
            "content_hash": self.content_hash,
            "index": self.index,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk, its score for the question, and its (current) article."""

    chunk: Chunk
    score: float
    article: Article


def content_hash(text: str) -> str:
    """Hash of the clean text: the same content always gives the same hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_id_for(source: str) -> str:
    """A stable, readable id from the source alone (so new content keeps its article's id).

    A slug of the source's last path part plus a hash of the whole source.
    """
    name = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source.rstrip("/").rsplit("/", 1)[-1])
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].rstrip("-") or "article"
    return f"{slug}-{hashlib.sha256(source.encode('utf-8')).hexdigest()[:8]}"


def chunk_id_for(article_id: str, article_hash: str, index: int) -> str:
    """Deterministic chunk id; it names the article version so versions never collide."""
    return f"{article_id}:{article_hash[:12]}:{index:05d}"


@dataclass(frozen=True)
class Scope:
    """Which articles a question is answered from: those in any of ``libraries`` (every library
    when empty), published from ``since`` to ``until`` (ISO days, inclusive; an undated article
    is outside any date range), or only ``article_ids`` when given. The empty scope is the whole
    store."""

    libraries: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    article_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.libraries or self.since or self.until or self.article_ids)

    def describe(self) -> str:
        """The scope in words, for a message saying it holds nothing."""
        parts = []
        if self.libraries:
            parts.append("in the " + ", ".join(self.libraries) + " " + _plural(self.libraries))
        if self.since:
            parts.append(f"published since {self.since}")
        if self.until:
            parts.append(f"published until {self.until}")
        if self.article_ids:
            parts.append("among " + ", ".join(self.article_ids))
        return " ".join(parts)


def _plural(libraries: tuple[str, ...]) -> str:
    return "library" if len(libraries) == 1 else "libraries"


def _spans_of(field: str) -> tuple[tuple[int, int], ...]:
    """The (start, end) spans a metadata string names: ``8007-8114,9000-9050``."""
    pairs = (part.split("-") for part in field.split(",") if part)
    return tuple((int(start), int(end)) for start, end in pairs)


def library_name(name: str) -> str:
    """``name`` checked as a library name (letters, digits, ``_`` and ``-``)."""
    if not _LIBRARY_NAME.match(name):
        raise ValueError(
            f"'{name}' is not a library name: use letters, digits, '_' or '-' (up to 64)"
        )
    return name


def library_field(libraries: tuple[str, ...]) -> str:
    """Libraries as one metadata string, each between commas (``,news,history,``)."""
    return "," + ",".join(sorted(set(libraries) or {DEFAULT_LIBRARY})) + ","


def libraries_of(field: str) -> tuple[str, ...]:
    """The libraries a metadata string names; a record from before libraries is in the default."""
    return tuple(part for part in field.split(",") if part) or (DEFAULT_LIBRARY,)


def day_number(day: str) -> int:
    """An ISO day (``2022-02-24``) as a sortable number (``20220224``); 0 for no date."""
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", day)
    return int("".join(match.groups())) if match else 0


WHOLE_STORE = Scope()
