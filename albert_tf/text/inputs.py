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
