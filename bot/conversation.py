"""A conversation over the answering API: history, and follow-ups made to stand alone.

Free of terminal code: ``inquote chat`` and the Telegram bot both drive it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from bot.answer import Turn
from bot.answering import Answerer
from bot.prompts import standalone_messages
from config.errors import BackendError
from ingest.schema import WHOLE_STORE, Scope
from ingest.terms import content_terms

log = logging.getLogger(__name__)

# Words that make a question lean on the one before ("and what did *he* say about sanctions?").
_REFERRING = re.compile(
    r"^(and|but|also|so|then|what about|how about)\b"
    r"|\b(he|she|it|they|him|her|them|his|hers|its|their|theirs|this|that|these|those|there)\b",
    re.IGNORECASE,
)
STANDALONE_MAX_TOKENS = 64
STANDALONE_MAX_CHARS = 300


class Conversation:
    """Questions and answers in order; each follow-up is rewritten to stand alone before retrieval.

    Only a question that leans on what came before (a pronoun, "and …", too few words of its
    own) is rewritten: one that stands alone costs no LLM call. With an LLM the rewrite is the
    model's (checked for sanity); without one, or when the model's rewrite is unusable, it gets
    the names of the previous question.
    """

    def __init__(self, answerer: Answerer, history_turns: int, turns: Sequence[Turn] = ()) -> None:
        self._answerer = answerer
        self._history_turns = history_turns
        self.turns: list[Turn] = list(turns)

    def ask(
        self,
        question: str,
        on_text: Callable[[str], None] | None = None,
        scope: Scope = WHOLE_STORE,
    ) -> Turn:
        """Answers ``question`` from the articles in ``scope`` (given at each question: what a
        chat may read is decided when it asks)."""
        question = " ".join(question.split())
        standalone = self.standalone(question)
        answer = self._answerer.ask(standalone, scope=scope, on_text=on_text)
        turn = Turn(question, standalone, answer)
        self.turns = [*self.turns, turn][-max(self._history_turns, 1) :]
        return turn

    def reset(self) -> None:
        self.turns = []

    def standalone(self, question: str) -> str:
        """``question`` rewritten so retrieval needs no history."""
        history = self.turns[-self._history_turns :] if self._history_turns else []
        if not history:
            return question
        language = next(iter(self._answerer.question_languages(question)), "")
        if not _leans_on_history(question, language):
            return question  # stands alone: no rewrite, and no LLM call for one
        generator = self._answerer.generator
        if generator is not None:
            pairs = [(turn.standalone, turn.answer.text) for turn in history]
            try:
                pieces = generator.generate(
                    standalone_messages(pairs, question), STANDALONE_MAX_TOKENS
                )
                rewritten = _first_line("".join(pieces))
            except BackendError as exc:
                log.warning("could not rewrite the follow-up, using the heuristic: %s", exc)
                rewritten = ""
            if _usable(rewritten, language):
                return rewritten
        topic = _topic_words(history[-1].standalone, question, language)
        return f"{question} ({topic})" if topic else question


def _leans_on_history(question: str, language: str) -> bool:
    """A pronoun or a leading "and …" refers back; fewer than two content words is ellipsis."""
    return bool(_REFERRING.search(question)) or len(content_terms(question, language)) < 2


def _first_line(text: str) -> str:
    for raw in text.splitlines():
        line = re.sub(r"^\s*(standalone|rewritten)?\s*question\s*:\s*", "", raw, flags=re.I)
        if cleaned := line.strip().strip('"“”'):
            return cleaned
    return ""


def _usable(rewritten: str, language: str) -> bool:
    """A rewrite worth retrieving with: one question-sized line, not an answer or a refusal."""
    return (
        3 <= len(rewritten) <= STANDALONE_MAX_CHARS and len(content_terms(rewritten, language)) >= 2
    )


def _topic_words(previous: str, question: str, language: str) -> str:
    """The names in the previous question (capitalised words after its first) the follow-up lacks.

    Only names: the previous question's other words would pull retrieval back to its own answer.
    """
    own = content_terms(question, language)
    names = re.findall(r"(?<!^)\b[A-Z][\w'-]+", previous.strip())
    kept = [name for name in names if (terms := content_terms(name, language)) and not terms <= own]
    return " ".join(dict.fromkeys(kept))
