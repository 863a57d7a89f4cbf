"""Sentence splitting: one regex, shared by pretraining (sentence-order pairs),
distillation (review sentences as transfer texts) and the runtime (reading a
long document sentence by sentence).

A sentence ends at . ! ? (with closing quotes/brackets) followed by whitespace
and an upper-case letter, digit or opening quote. A regex rather than a trained
splitter (nltk/spaCy): no model download and no dependency for the runtime, and
boundaries only need to be plausible: SOP pairs, transfer sentences and
per-sentence votes all tolerate an occasional wrong cut.
"""

import re

SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text):
    """Sentences of one document (whitespace-normalized, empty ones dropped).

    >>> split_sentences("A fine cast.  But the plot? Dull!")
    ['A fine cast.', 'But the plot?', 'Dull!']
    """
    text = " ".join(text.split())
    return [s for s in SENTENCE_END.split(text) if s.strip()]
