"""Length bucketing: which examples share a batch.

Keras-free (numpy only), so training, evaluation, export parity and the
TF-free runtime plan their batches the same way.
"""

import numpy as np


def plan_batches(lengths, batch_size, shuffle=False, seed=0, bucket_batches=50):
    """Index arrays, one per batch.

    Shuffled: random order, then each window of `bucket_batches` batches is
    sorted by length before being cut into batches, and the batches are
    shuffled again (randomness across batches, little padding within them).
    Not shuffled: all examples sorted by length (fastest for evaluation;
    callers put predictions back with the returned indices).
    """
    lengths = np.asarray(lengths)
    if shuffle:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(lengths))
        window = batch_size * bucket_batches
        order = np.concatenate([
            chunk[np.argsort(lengths[chunk], kind="stable")]
            for chunk in np.array_split(order, range(window, len(order), window))
        ]) if len(order) else order
    else:
        order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def plan_token_batches(lengths, token_budget, seed=0, multiple=8, window=65536):
    """Index arrays of examples sharing a padded width and a fixed token budget.

    Pretraining wants a steady amount of work per step, not a steady number
    of rows: 256 eight-token sequences cost what 16 full 128-token ones do.
    Each batch holds examples of one width (length rounded up to `multiple`)
    and at most `rows_for_width(width)` of them; callers pad a short last
    batch with empty rows, so a compiled step (XLA) sees one shape per width,
    not one per batch. Random order, examples grouped by width within each
    `window`, batches shuffled; deterministic in `seed`.
    """
    lengths = np.asarray(lengths)
    widths = -(-lengths // multiple) * multiple
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        for width in np.unique(widths[chunk]):
            members = chunk[widths[chunk] == width]
            rows = rows_for_width(token_budget, int(width))
            batches.extend(members[i:i + rows] for i in range(0, len(members), rows))
    rng.shuffle(batches)
    return batches


def rows_for_width(token_budget, width):
    """Rows of a `width`-token batch within `token_budget` (at least one)."""
    return max(1, token_budget // width)
