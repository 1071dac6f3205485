"""Measure the near-duplicate threshold (``dedup.near_duplicate_threshold``) on story pairs.

``python -m benchmarks.near_duplicates`` builds pairs from the seeds and the SQuAD v2 sample:

* same story, republished: a lightly edited copy — another headline and byline, a sentence or two
  cut, a few words changed, the outlet's boilerplate added — which must merge;
* different stories: other articles, and other paragraphs of the same article (same topic, same
  names, different story), which must not merge.

It prints the similarity range of each kind and the false merges and misses at each threshold.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.languages import SQUAD_SAMPLE
from bot.evaluation import load_eval_file
from ingest.dedup import signature, similarity
from ingest.reading import read_article

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def stories() -> list[str]:
    texts = [read_article(path).text for path in sorted(SEEDS.glob("*.*")) if path.name != "NOTICE"]
    if SQUAD_SAMPLE.exists():
        for article in load_eval_file(SQUAD_SAMPLE)[0]:
            paragraphs = article.text.split("\n\n")
            for start in range(0, len(paragraphs) - 3, 4):  # stories of four paragraphs
                texts.append("\n\n".join(paragraphs[start : start + 4]))
    return texts


def republish(text: str, rng: random.Random, cuts: int, edits: int) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    for _ in range(min(cuts, len(sentences) - 2)):
        sentences.pop(rng.randrange(1, len(sentences)))
    words = " ".join(sentences).split(" ")
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(["said", "reported", "the", "new", "local"])
    byline = "By our wire service correspondent. Updated 10:42."
    footer = "Read more stories like this one on our website. Subscribe to our newsletter."
    return f"Breaking: {' '.join(words[:8])}\n\n{byline}\n\n{' '.join(words)}\n\n{footer}"


def main() -> None:
    rng = random.Random(7)
    texts = stories()
    signatures = [signature(text) for text in texts]
    same = []
    for text, sig in zip(texts, signatures, strict=True):
        for cuts, edits in ((0, 0), (1, 3), (2, 6), (3, 10)):
            same.append(similarity(sig, signature(republish(text, rng, cuts, edits))))
    different = [
        similarity(signatures[i], signatures[j])
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
    ]
    print(f"{len(texts)} stories; {len(same)} republished pairs, {len(different)} different pairs")
    print(f"republished: similarity {min(same):.3f} .. {max(same):.3f}")
    print(f"different:   similarity {min(different):.3f} .. {max(different):.3f}")
    print("\n| threshold | misses (republished kept twice) | false merges |\n|---|---|---|")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        misses = sum(score < threshold for score in same)
        merges = sum(score >= threshold for score in different)
        print(f"| {threshold:.1f} | {misses}/{len(same)} | {merges}/{len(different)} |")


if __name__ == "__main__":
    main()
