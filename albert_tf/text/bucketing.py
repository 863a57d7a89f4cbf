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


def plan_group_batches(groups, batch_size, group_size, seed=0, lengths=None,
                       bucket_batches=50):
    """Index arrays, one per batch, each made of runs of `group_size` examples
    that share a group (a cluster of the teacher's space, say), so a batch holds
    a few close neighbours of each of its examples beside unrelated ones.

    Each group's members in random order are cut into runs of `group_size` (its
    last run may be shorter); the runs are shuffled, laid end to end and cut
    into batches, which are shuffled again. Deterministic in `seed`. With
    `lengths`, bucketed as `plan_batches` is, one level up: a group's members
    are sorted by length before they are cut (ties in random order), and each
    window of `bucket_batches` batches' runs is sorted by its longest member, so
    a batch pads to about its own length, not to the longest sentence (without
    this, batches of 64 sentences of 5 to 64 pieces cost twice as long).
    """
    groups = np.asarray(groups)
    if batch_size < 1 or group_size < 1:
        raise ValueError(f"batch_size and group_size must be >= 1, got {batch_size} "
                         f"and {group_size}")
    rng = np.random.default_rng(seed)
    runs = []
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        if lengths is not None:
            members = members[np.argsort(np.asarray(lengths)[members], kind="stable")]
        runs.extend(members[i:i + group_size] for i in range(0, len(members), group_size))
    runs = [runs[i] for i in rng.permutation(len(runs))]
    if lengths is not None:
        longest = np.array([np.asarray(lengths)[run].max() for run in runs])
        window = max(1, batch_size * bucket_batches // group_size)
        runs = [runs[i] for start in range(0, len(runs), window)
                for i in start + np.argsort(longest[start:start + window], kind="stable")]
    order = np.concatenate(runs) if runs else np.zeros(0, np.int64)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
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
