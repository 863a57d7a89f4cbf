"""Run a Keras model over many texts: length-sorted batches, original order out."""

import numpy as np

from albert_tf.contract import DEFAULT_MAX_LENGTH
from albert_tf.text.bucketing import plan_batches
from albert_tf.text.inputs import check_pair, check_text, check_tokens
from albert_tf.text.tokenizer import pad_sequences


def predict_in_batches(model, tokenizer, texts, pairs=None, max_length=DEFAULT_MAX_LENGTH,
                       batch_size=64, token_stats=False):
    """`model` outputs `(n, ...)` for every text, in input order, and truncation flags
    (with `token_stats`, also each text's token count and unknown-piece share).

    Texts are sorted by length so each batch is padded only as far as its
    longest member (rounded to 8), then results are put back in order.
    """
    if isinstance(texts, (str, bytes)):
        texts, pairs = [texts], (None if pairs is None else [pairs])
    texts = list(texts)
    if not texts:
        raise ValueError("no texts given (an empty list)")
    texts = [check_text(i, text) for i, text in enumerate(texts)]
    if pairs is not None:
        pairs = list(pairs)
        if len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
        pairs = [check_pair(i, pair) for i, pair in enumerate(pairs)]
    packed, truncated = tokenizer.encode_unpadded(texts, pairs, max_length)
    for i, (tokens, _) in enumerate(packed):
        check_tokens(i, texts[i], len(tokens))
    results = [None] * len(texts)
    for rows in plan_batches([len(t) for t, _ in packed], batch_size):
        batch = pad_sequences([packed[i] for i in rows], max_length)
        out = np.asarray(model.predict_on_batch(batch), dtype="float32")
        for position, row in enumerate(rows):
            results[row] = out[position]
    if token_stats:
        return (np.stack(results), np.array(truncated), [len(t) for t, _ in packed],
                [tokenizer.unknown_share(t) for t, _ in packed])
    return np.stack(results), np.array(truncated)
