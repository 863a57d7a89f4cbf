"""The transfer set: the texts a teacher labels and a student learns from.

It is the labelled training file, plus unlabelled texts (split into sentences
so their lengths match a sentence-level task), plus optional augmented copies
of the labelled texts in the style of Tang et al. (2019, "Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks"): each word is
dropped with probability `mask_rate`, then with probability `ngram_rate` the
text is replaced by one of its n-grams (n in 1..`max_ngram`). Tang et al.
replace a word by [MASK]; we drop it, so no tokenizer (teacher's or student's)
needs to know a mask token, and the student still learns what a sentence
means without each of its words.

Texts that also appear in the evaluation file are removed (case and spacing
ignored), so the eval accuracy never measures texts the student was taught.
"""

import dataclasses
import os
import random

from albert_tf.errors import DataError
from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.training.pretraining.corpus import read_documents
from albert_tf.text.sentences import split_sentences

NO_LABEL = -1


def normalize(text):
    return " ".join(text.lower().split())


@dataclasses.dataclass
class TransferSet:
    """Texts in training order, with gold class ids (`NO_LABEL` where none)."""

    texts: list
    gold: list
    counts: dict
    files: dict

    def __len__(self):
        return len(self.texts)


def augment(text, rng, mask_rate=0.1, ngram_rate=0.25, max_ngram=5):
    """One augmented copy of `text` (words dropped, maybe cut to an n-gram)."""
    words = text.split()
    kept = [w for w in words if rng.random() >= mask_rate] or words[:1]
    if len(kept) > 1 and rng.random() < ngram_rate:
        n = min(rng.randint(1, max_ngram), len(kept))
        start = rng.randint(0, len(kept) - n)
        kept = kept[start:start + n]
    return " ".join(kept)


# Sentences past this many words are usually run-ons that a splitter missed; whole
# rows (split=False) are kept at any length, since the student truncates them anyway.
MAX_SENTENCE_WORDS = 80


def unlabelled_sentences(paths, text_column=None, split=True):
    """Sentences (or whole rows, `split=False`) of unlabelled files, in file order."""
    for _, document in read_documents(paths, text_column=text_column):
        yield from (split_sentences(document) if split else [" ".join(document.split())])


def build_transfer_set(texts, gold, unlabelled=(), text_column=None, split_sentences=True,
                       min_words=3, max_words=None, max_unlabelled=None, augment_copies=0,
                       mask_rate=0.1, ngram_rate=0.25, max_ngram=5, exclude=(), seed=0):
    """Labelled texts (with their class ids), unlabelled sentences and augmented copies.

    Duplicates are dropped (the first occurrence, labelled ones first, wins),
    and so is every text also in `exclude` (the eval file). Unlabelled texts
    outside `min_words`..`max_words` are dropped and counted; `max_words=None`
    means `MAX_SENTENCE_WORDS` when splitting into sentences, no limit otherwise.
    """
    if max_words is None:
        max_words = MAX_SENTENCE_WORDS if split_sentences else float("inf")
    rng = random.Random(seed)
    excluded = {normalize(t) for t in exclude}
    seen = set()
    counts = {"labelled": 0, "unlabelled": 0, "augmented": 0, "duplicates_dropped": 0,
              "eval_overlap_dropped": 0, "length_dropped": 0}
    out_texts, out_gold = [], []

    def add(text, label, kind):
        key = normalize(text)
        if not key:
            return
        if key in excluded:
            counts["eval_overlap_dropped"] += 1
            return
        if key in seen:
            counts["duplicates_dropped"] += 1
            return
        seen.add(key)
        out_texts.append(text)
        out_gold.append(label)
        counts[kind] += 1

    for text, label in zip(texts, gold):
        add(text, int(label), "labelled")
    for path in unlabelled:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such transfer file")
    sentences = []
    for sentence in unlabelled_sentences(unlabelled, text_column, split_sentences):
        if min_words <= len(sentence.split()) <= max_words:
            sentences.append(sentence)
        else:
            counts["length_dropped"] += 1
    if max_unlabelled is not None and len(sentences) > max_unlabelled:
        sentences = rng.sample(sentences, max_unlabelled)
    for sentence in sentences:
        add(sentence, NO_LABEL, "unlabelled")
    for _ in range(augment_copies):
        for text in texts:
            add(augment(text, rng, mask_rate, ngram_rate, max_ngram), NO_LABEL, "augmented")
    files = {recorded_path(p): {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
             for p in unlabelled}
    return TransferSet(out_texts, out_gold, {**counts, "total": len(out_texts)}, files)
