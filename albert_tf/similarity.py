"""Cosine similarity and search over sentence vectors: numpy only.

One place for what every embedder does with its vectors, so the Keras
embedder (`albert_tf.load_embedder`), the TF-free runtime
(`albert_tf.runtime.Embedder`), the command line and the demo rank texts the
same way.

```python
vectors = unit_rows(np.random.rand(5, 8))
search_vectors(vectors[0], vectors, ["a", "b", "c", "d", "e"], top_k=2)[0]["text"]  # "a"
```
"""

import numpy as np

from albert_tf.prediction import is_unreadable

# What Similarity and Search say of a text the embedder cannot read ({what}: which).
UNREADABLE_MESSAGE = ("the embedder cannot read {what} (most of its pieces are unknown to its "
                      "English vocabulary: emoji, another script), so a similarity would "
                      "mean nothing")


def unit_rows(vectors):
    """Rows scaled to length 1 (a zero row stays zero), float32."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def cosine_similarity(a, b):
    """Cosine similarity of two vectors, or the matrix of all pairs of two row sets."""
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    a_unit = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b_unit = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    if a.ndim == 1 and b.ndim == 1:
        return float(a_unit @ b_unit)
    return np.atleast_2d(a_unit) @ np.atleast_2d(b_unit).T


def check_top_k(top_k):
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    return top_k


def search_vectors(query_vector, vectors, texts, top_k=5):
    """The `top_k` texts nearest the query by cosine, best first:
    `[{"text", "index", "score"}]` (ties keep the texts' order)."""
    check_top_k(top_k)
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    scores = cosine_similarity(np.atleast_2d(query_vector), vectors)[0]
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [{"text": texts[i], "index": int(i), "score": float(scores[i])} for i in order]


def pair_similarity(vectors, unknown_shares, max_unknown):
    """Cosine of two unit vectors in [-1, 1]; None when either text is unreadable
    (more than `max_unknown` of its pieces `<unk>`): two runs of `<unk>` (emoji,
    another script) have nearly one vector whatever they mean, so their ~1.0
    would be a confident answer to nothing."""
    if not all(readable_flags(unknown_shares, max_unknown)):
        return None
    return float(np.clip(vectors[0] @ vectors[1], -1.0, 1.0))


def readable_flags(unknown_shares, max_unknown):
    """Whether the model can read each text, from its unknown-piece share."""
    return [not is_unreadable(share, max_unknown) for share in unknown_shares]


def search_readable(vectors, unknown_shares, texts, top_k, max_unknown):
    """`search_vectors` for a query (row 0 of `vectors`, `unknown_shares`) among
    `texts` (the other rows), leaving out texts the model cannot read; nothing
    for an unreadable query. `index` is into `texts`."""
    check_top_k(top_k)
    flags = readable_flags(unknown_shares, max_unknown)
    if not texts or not flags[0]:
        return []
    kept = [i for i, ok in enumerate(flags[1:]) if ok]
    if not kept:
        return []
    found = search_vectors(vectors[0], vectors[1:][kept], [texts[i] for i in kept], top_k)
    return [{**hit, "index": kept[hit["index"]]} for hit in found]


def spearman(a, b):
    """Spearman's rank correlation of two equal-length sequences (ties get their
    mean rank, as scipy's): the measure of semantic-similarity benchmarks."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"spearman needs two 1-D sequences of one length >= 2, got "
                         f"{a.shape} and {b.shape}")
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    # Ties: every member of a run of equal values gets the run's mean rank.
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        if end - start > 1:
            ranks[order[start:end]] = (start + end - 1) / 2.0
    return ranks
