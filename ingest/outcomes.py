"""What ingesting a source came to: one outcome per source, and the run's report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["added", "updated", "unchanged", "duplicate", "failed"]


@dataclass(frozen=True)
class IngestOutcome:
    source: str
    status: Status
    article_id: str = ""
    title: str = ""
    chunks: int = 0
    reason: str = ""  # why it failed, or which article it repeats


@dataclass
class IngestReport:
    outcomes: list[IngestOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def failed(self) -> list[IngestOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    def summary(self) -> str:
        statuses: tuple[Status, ...] = ("added", "updated", "unchanged", "failed")
        counts = [f"{self.count(status)} {status}" for status in statuses]
        if duplicates := self.count("duplicate"):
            counts.insert(3, f"{duplicates} merged as duplicates")
        return ", ".join(counts)
