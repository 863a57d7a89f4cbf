"""What counts as a text to classify or embed: one rule for every entry point
(`TrainedClassifier.predict`/`embed`, the runtime's `Classifier`, the CLI's
arguments and stdin lines, the demo).

A text is a str (or UTF-8 bytes) with at least one visible character, and
at least one token once normalized. Anything else is an `InputError` that
names the text's position: an empty text has no answer, and a silent default
(a prediction for "", or a skipped line) would put wrong numbers in a user's
results.
"""

from albert_tf.errors import InputError


def _refuse(index, reason):
    return InputError(f"text {index} {reason}", reason=reason, index=index)


def check_text(index, text, max_chars=None):
    """`text` as a str (at most `max_chars + 1` characters), or `InputError`."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise _refuse(index, f"is not valid UTF-8: {error.reason} at byte "
                                 f"{error.start}") from None
    elif not isinstance(text, str):
        raise _refuse(index, f"must be a str or UTF-8 bytes, got {type(text).__name__}: "
                             f"{text!r:.60}")
    if max_chars is not None:
        # One character past the cap keeps the tokenizer's `truncated` flag
        # right while bounding everything after this, whatever the input size.
        text = text[:max_chars + 1]
    if not text.strip():
        raise _refuse(index, "is empty or whitespace only")
    return text


def check_tokens(index, text, num_tokens):
    """A text that normalizes to nothing packs to `[CLS] [SEP]` only."""
    if num_tokens <= 2:
        raise _refuse(index, "has no tokens after normalization (only control or "
                             f"invisible characters): {text!r:.60}")


def check_pair(index, text, max_chars=None):
    """A pair's second text, checked as a first one is (`InputError` naming its index)."""
    try:
        return check_text(index, text, max_chars)
    except InputError as error:
        reason = f"pair {error.reason}"
        raise InputError(f"text {index}'s {reason}", reason=reason, index=index) from None


def check_pairs(takes_pairs, texts, pairs):
    """ValueError, in one line, for pairs a model cannot take: a pair model given
    single texts, a single-text model given pairs, or as many pairs as texts not."""
    if takes_pairs and pairs is None:
        raise ValueError("this model reads text pairs (it was trained with a text pair column): "
                         "pass pairs= (on the command line, --text-pair-column or TEXT<TAB>PAIR)")
    if not takes_pairs and pairs is not None:
        raise ValueError("this model reads single texts, not pairs (it was trained without a "
                         "text pair column)")
    if pairs is not None and not isinstance(texts, (str, bytes)) and len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
