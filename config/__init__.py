"""Settings and errors shared by the write path (``ingest``) and the read path (``bot``)."""

from config.errors import (
    ArticleNotFoundError,
    BackendError,
    ConfigError,
    EmbeddingMismatchError,
    InquoteError,
    SourceError,
    StoreError,
)
from config.settings import Settings, load_settings

__all__ = [
    "ArticleNotFoundError",
    "BackendError",
    "ConfigError",
    "EmbeddingMismatchError",
    "InquoteError",
    "Settings",
    "SourceError",
    "StoreError",
    "load_settings",
]
