"""Word attributions by occlusion: how much the top label's log-odds
drop when one word is removed.

Log-odds, not probability: for a confident prediction (p = 0.99) removing
a strong word may move p by only 0.001, so every probability difference
reads 0.000, while the log-odds still fall by a nat or more. Log-odds keep
strong words visible at any confidence.

Model-agnostic and exact for what the runtime runs (int8 included), and
fast enough for a demo: the text and its occluded variants go through the
model as one length-sorted batch, so a 20-word review costs one call of 21
texts.
"""

import re

import numpy as np

from albert_tf.errors import InputError

_WORDS = re.compile(r"\S+")
# Probabilities come back as float32, whose spacing next to 1.0 is 6e-8:
# clip there, so a saturated 1.0 reads as log-odds 16 rather than infinity.
_EPSILON = 1e-7


def log_odds(probabilities):
    """log(p / (1 - p)), elementwise, with p clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p) - np.log1p(-p)


def occlusion(classifier, text, max_words=64, pair=None):
    """`(label, [(segment, attribution)])` for one text (of a pair model: its
    first text, words removed with `pair` kept whole).

    Segments cover the whole text (words and the whitespace between them,
    whitespace with attribution None) so they can be rendered in place.
    Attribution: the drop in the predicted label's log-odds when the word is
    removed (> 0: the word supports the label); for a multi-label model, the
    highest-scoring label's own sigmoid log-odds. Words past `max_words` are
    shown with attribution None (not computed).
    """
    if not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive int, got {max_words!r}")
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    spans = [m.span() for m in _WORDS.finditer(text)]
    scored = spans[:max_words]
    variants = [text[:start] + text[end:] for start, end in scored]
    # Removing the only word leaves nothing: its attribution is the whole
    # distance from the uniform guess.
    keep = [i for i, v in enumerate(variants) if v.strip()]
    # The text itself leads the batch (and is validated with it).
    texts = [text] + [variants[i] for i in keep]
    probabilities = classifier.predict_proba(texts, **(
        {} if pair is None else {"pairs": [pair] * len(texts)}))
    label_index = int(np.argmax(probabilities[0]))
    scores = log_odds(probabilities[:, label_index])
    # The guess without evidence: uniform over softmax labels; 0.5 for a sigmoid.
    guess = 0.5 if getattr(classifier, "multi_label", False) else 1 / probabilities.shape[1]
    attributions = [float(scores[0] - log_odds(guess))] * len(scored)
    for i, score in zip(keep, scores[1:]):
        attributions[i] = float(scores[0] - score)
    segments, position = [], 0
    for index, (start, end) in enumerate(spans):
        if start > position:
            segments.append((text[position:start], None))
        segments.append((text[start:end], attributions[index] if index < len(scored) else None))
        position = end
    if position < len(text):
        segments.append((text[position:], None))
    return classifier.labels[label_index], segments
