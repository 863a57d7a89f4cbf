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
