"""Word attributions by occlusion: how much the top label's probability
drops when one word is removed.

Model-agnostic and exact for what the runtime runs (int8 included), and
fast enough for a demo: the text and its occluded variants go through the
model as one length-sorted batch, so a 20-word review costs one call of 21
texts.
"""

import re

import numpy as np

from albert_tf.errors import InputError

_WORDS = re.compile(r"\S+")


def occlusion(classifier, text, max_words=64):
    """`(label, [(segment, attribution)])` for one text.

    Segments cover the whole text (words and the whitespace between them,
    whitespace with attribution None) so they can be rendered in place.
    Attribution > 0: the word supports the predicted label. Words past
    `max_words` are shown with attribution None (not computed).
    """
    if not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive int, got {max_words!r}")
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    spans = [m.span() for m in _WORDS.finditer(text)]
    scored = spans[:max_words]
    variants = [text[:start] + text[end:] for start, end in scored]
    # Removing the only word leaves nothing: its attribution is the full score.
    keep = [i for i, v in enumerate(variants) if v.strip()]
    # The text itself leads the batch (and is validated with it).
    probabilities = classifier.predict_proba([text] + [variants[i] for i in keep])
    label_index = int(np.argmax(probabilities[0]))
    score = float(probabilities[0][label_index])
    attributions = [score] * len(scored)
    for i, row in zip(keep, probabilities[1:]):
        attributions[i] = float(score - row[label_index])
    segments, position = [], 0
    for index, (start, end) in enumerate(spans):
        if start > position:
            segments.append((text[position:start], None))
        segments.append((text[start:end], attributions[index] if index < len(scored) else None))
        position = end
    if position < len(text):
        segments.append((text[position:], None))
    return classifier.labels[label_index], segments
