"""The sentences an embedding student learns its teacher's vectors on.

Reimers & Gurevych (2020) distil a sentence space by regressing the teacher's
vectors on plain sentences; what the student sees is what it learns, so the
corpus is drawn from every source given, not only the largest: each file is
split into sentences, filtered by length, and sampled to at most `per_file`
sentences, so 10k news headlines are not drowned by a million review
sentences. Duplicates across files are dropped (case and spacing ignored).
A seeded share (`holdout`) is kept apart for measuring the student's
agreement with its teacher on sentences it never learned from.

Which sentences a share draws depends on every file given, so a student
continued on more files would be measured on sentences it learned from in an
earlier stage. `heldout` pins the set instead (an earlier run's `heldout.txt`,
read with `albert_tf.text.data.iter_text_lines`):
those sentences are the held-out set and are left out of training wherever they
occur; no share is drawn.

```python
corpus = build_sentence_corpus(["imdb/unsup.jsonl.gz", "agnews/train.tsv"], per_file=30000)
len(corpus.texts), len(corpus.heldout), corpus.counts
```
"""

import dataclasses
import os
import random

from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.errors import DataError
from albert_tf.training.distillation.transfer import (MAX_SENTENCE_WORDS, normalize,
                                                      unlabelled_sentences)

DEFAULT_HOLDOUT = 0.02


@dataclasses.dataclass
class SentenceCorpus:
    """Training sentences, held-out sentences, per-file counts and file hashes."""

    texts: list
    heldout: list
    counts: dict
    files: dict


def build_sentence_corpus(files, per_file=None, holdout=DEFAULT_HOLDOUT, min_words=3,
                          max_words=MAX_SENTENCE_WORDS, text_column=None, split=True, seed=0,
                          heldout=None):
    if not files:
        raise DataError("an embedding corpus needs at least one file")
    if not 0 <= holdout < 1:
        raise DataError(f"holdout={holdout}: expected a share in [0, 1)")
    if per_file is not None and per_file < 1:
        raise DataError(f"per_file={per_file}: expected a positive count")
    rng = random.Random(seed)
    pinned = _pinned(heldout)
    seen, pooled, counts = set(), [], {}
    for path in files:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such corpus file")
        kept, dropped = [], {"length": 0, "duplicates": 0}
        for sentence in unlabelled_sentences([path], text_column, split):
            if not min_words <= len(sentence.split()) <= max_words:
                dropped["length"] += 1
                continue
            key = normalize(sentence)
            if key in seen:
                dropped["duplicates"] += 1
                continue
            seen.add(key)
            kept.append(sentence)
        if per_file is not None and len(kept) > per_file:
            kept = rng.sample(kept, per_file)
        if pinned is not None:
            # After the sample, so pinning leaves the other sentences (and the teacher
            # vectors a cache holds for them) as they were.
            dropped["heldout"] = len(kept)
            kept = [sentence for sentence in kept if normalize(sentence) not in pinned]
            dropped["heldout"] -= len(kept)
        counts[recorded_path(path)] = {"sentences": len(kept), **{f"{k}_dropped": v
                                                                  for k, v in dropped.items()}}
        pooled.extend(kept)
    rng.shuffle(pooled)
    if pinned is not None:
        heldout, texts = list(pinned.values()), pooled
    else:
        cut = int(round(len(pooled) * holdout))
        heldout, texts = pooled[:cut], pooled[cut:]
    if not texts:
        raise DataError(f"no sentences of {min_words}-{max_words} words in {list(files)}")
    counts = {"files": counts, "train": len(texts), "heldout": len(heldout)}
    hashes = {recorded_path(p): {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
              for p in files}
    return SentenceCorpus(texts, heldout, counts, hashes)


def _pinned(heldout):
    """{normalised key: sentence} of a pinned held-out list, first spelling kept, in
    order; None when nothing is pinned."""
    if heldout is None:
        return None
    pinned = {}
    for sentence in heldout:
        if sentence.strip():
            pinned.setdefault(normalize(sentence), sentence.strip())
    if not pinned:
        raise DataError("the pinned held-out set is empty")
    return pinned

