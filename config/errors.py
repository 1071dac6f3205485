"""The one exception family of inquote.

Every message says what went wrong and what to do about it; the CLI prints it as one line.

    InquoteError
     ├── ConfigError               bad or unknown setting
     ├── StoreError                the vector store cannot be opened or used
     │    ├── EmbeddingMismatchError   store built with another embedding model
     │    └── ArticleNotFoundError     no article with that id
     ├── SourceError               an article source cannot be read or parsed
     ├── QuestionError             a question that cannot be asked (empty, too long, not text)
     └── BackendError              an outside service (Ollama) failed
"""


class InquoteError(Exception):
    """Base of every error inquote reports to the user."""


class ConfigError(InquoteError):
    """A setting is unknown or has a bad value."""


class StoreError(InquoteError):
    """The article store cannot be opened, read or written."""


class EmbeddingMismatchError(StoreError):
    """The store was built with a different embedding model than the configured one."""


class ArticleNotFoundError(StoreError):
    """No stored article has the given id."""


class SourceError(InquoteError):
    """An article source could not be read or holds no usable text."""


class QuestionError(InquoteError):
    """A question is empty, too long or not text."""


class BackendError(InquoteError):
    """An outside service inquote depends on failed or cannot be reached."""
