"""One prediction record for every way the kit classifies a text.

The TF-free runtime (`Classifier.classify`, `albert-tf classify`), the Keras
model (`albert_tf.load(...).predict`, `albert-tf predict`) and the demo give
the same fields, so a pipeline can switch between them without a mapping:

| field | meaning |
|---|---|
| `label` | the most probable label; None when the classifier abstains |
| `score` | its probability |
| `scores` | label -> probability, highest first (the `top_k` most probable) |
| `truncated` | the text was longer than the model's max_length |
| `num_tokens` | tokens the model saw, `[CLS]` and `[SEP]` included |
| `unknown_share` | share of the text's pieces the model cannot read (`<unk>`) |
| `abstained` | None, `"unreadable"` (more than `max_unknown` unknown) or `"low_score"` (best under `score_threshold`) |
| `calls` | only from an adaptive (early-exit) model: the layer calls it made (summed over a long text's pieces) |

A multi-label model gives a `MultiLabelPrediction`: `labels` (every label at or
above `threshold`, the model's own by default) in place of `label` and `score`,
from the Keras model and the runtime alike.
"""

import dataclasses

import numpy as np

# A text more than this share of whose pieces are `<unk>` gets no label: a
# model that read nothing of "👍" or a Chinese sentence answers as it would an
# empty text (the bundled SST-2 model said "positive 0.93" to both), which is
# not an answer. Half: a sentence with one unknown emoji among its words
# ("this film 🤮🤮" is 1/3 unknown) is still read and labelled.
MAX_UNKNOWN = 0.5
# A multi-label model says a label when its sigmoid is at least this: logit 0,
# what training's BinaryAccuracy and `evaluate` count. Exports record it as the
# model's threshold; `threshold=` changes it per call.
MULTI_LABEL_THRESHOLD = 0.5
# Why a prediction has no label (`Prediction.abstained`).
UNREADABLE, LOW_SCORE = "unreadable", "low_score"


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The top label, every label's probability (highest first) and what was cut.

    `label` is None when the classifier abstains (`abstained` says why);
    `score` and `scores` are the model's all the same.
    """

    label: str  # None when abstained
    score: float
    scores: dict  # label -> probability, highest first (top_k of them)
    truncated: bool  # the text was longer than the model's max_length
    num_tokens: int  # tokens the model saw, [CLS] and [SEP] included
    unknown_share: float = 0.0  # share of the text's pieces the model cannot read
    abstained: str = None  # None, "unreadable" or "low_score"
    # Layer calls an adaptive (early-exit) model made for it; None otherwise.
    calls: int = None

    def to_dict(self):
        record = dataclasses.asdict(self)
        if record["calls"] is None:  # a whole-model file: the field says nothing
            del record["calls"]
        return record


@dataclasses.dataclass(frozen=True)
class MultiLabelPrediction:
    """Every label at or above the threshold (none is an answer too), every
    label's probability (highest first) and what was cut. Labels are
    independent: the scores do not sum to 1. `labels` is None when the
    classifier abstains (`abstained="unreadable"`)."""

    labels: list  # at or above the threshold, in the model's label order; None when abstained
    scores: dict  # label -> probability, highest first (top_k of them)
    truncated: bool
    num_tokens: int
    unknown_share: float = 0.0
    abstained: str = None  # None or "unreadable"

    def to_dict(self):
        return dataclasses.asdict(self)


def check_options(top_k=None, num_labels=None, max_unknown=MAX_UNKNOWN, score_threshold=None,
                  threshold=None, multi_label=False):
    """ValueError, naming the value, for options a prediction cannot honour."""
    if multi_label and score_threshold is not None:
        raise ValueError(f"score_threshold={score_threshold!r} is for single-label models; a "
                         "multi-label model takes threshold= (each label at or above it)")
    if not multi_label and threshold is not None:
        raise ValueError(f"threshold={threshold!r} is for multi-label models; a single-label "
                         "model takes score_threshold=")
    if top_k is not None and (not isinstance(top_k, int) or
                              not 1 <= top_k <= (num_labels or top_k)):
        raise ValueError(f"top_k must be an int in [1, {num_labels}], got {top_k!r}")
    for name, value in (("max_unknown", max_unknown), ("score_threshold", score_threshold),
                        ("threshold", threshold)):
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def ranked_scores(probabilities, labels, top_k=None):
    """label -> probability, highest first (ties in label order), the `top_k` best."""
    ranked = np.argsort(-np.asarray(probabilities), kind="stable")[:top_k]
    return {labels[i]: float(probabilities[i]) for i in ranked}


def is_unreadable(unknown_share, max_unknown=MAX_UNKNOWN):
    """The one rule for a text the model cannot read: more than `max_unknown`
    (None: the default) of its pieces `<unk>`. Classifiers abstain on it;
    embedders give it no similarity (`albert_tf.similarity`)."""
    return unknown_share > (MAX_UNKNOWN if max_unknown is None else max_unknown)


def make_prediction(probabilities, labels, truncated, num_tokens, unknown_share, top_k=None,
                    max_unknown=MAX_UNKNOWN, score_threshold=None, calls=None):
    """A `Prediction` from one text's probabilities over `labels`."""
    scores = ranked_scores(probabilities, labels, top_k)
    best = next(iter(scores))
    abstained = None
    if is_unreadable(unknown_share, max_unknown):
        abstained = UNREADABLE
    elif score_threshold is not None and scores[best] < score_threshold:
        abstained = LOW_SCORE
    return Prediction(None if abstained else best, scores[best], scores, bool(truncated),
                      int(num_tokens), round(float(unknown_share), 4), abstained,
                      None if calls is None else int(calls))


def make_multi_label_prediction(probabilities, labels, truncated, num_tokens, unknown_share,
                                threshold=None, top_k=None, max_unknown=MAX_UNKNOWN):
    """A `MultiLabelPrediction` from one text's sigmoid outputs over `labels`."""
    threshold = MULTI_LABEL_THRESHOLD if threshold is None else threshold
    unreadable = is_unreadable(unknown_share, max_unknown)
    chosen = None if unreadable else [
        name for name, p in zip(labels, probabilities) if p >= threshold]
    return MultiLabelPrediction(chosen, ranked_scores(probabilities, labels, top_k),
                                bool(truncated), int(num_tokens),
                                round(float(unknown_share), 4), UNREADABLE if unreadable else None)


def shown_text(text):
    """A text as a JSON record shows it: bytes that are not UTF-8 with U+FFFD."""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def answer_or_refuse(answer, texts):
    """`answer(texts)`'s results, with an `InputError` in the place of each text the
    model refuses (empty, no tokens, not UTF-8) and the others answered.

    Texts are checked before the model runs, and the error names the first bad
    one: record it, drop it, ask again for the rest.
    """
    from albert_tf.errors import InputError

    results, pending = [None] * len(texts), list(range(len(texts)))
    while pending:
        try:
            answers = answer([texts[i] for i in pending])
        except InputError as error:
            if error.index is None or not 0 <= error.index < len(pending):
                raise
            results[pending.pop(error.index)] = error
            continue
        for i, result in zip(pending, answers):
            results[i] = result
        break
    return results


def text_records(answer, texts, pairs=False):
    """One record per text, in order: `{"text": ..., **answer}` (and `text_pair`
    with `pairs`, where each text is a `(text, pair)` tuple), or `{"text": ...,
    "error": "text <reason>"}` for a text the model refuses. `answer(texts)`
    returns a dict per text. The one record rule of `classify`, `predict`,
    `embed` and `albert_tf.runtime.beam`."""
    from albert_tf.errors import InputError

    records = []
    for text, result in zip(texts, answer_or_refuse(answer, texts)):
        shown = ({"text": shown_text(text[0]), "text_pair": shown_text(text[1])} if pairs
                 else {"text": shown_text(text)})
        records.append({**shown, **({"error": f"text {result.reason}"}
                                    if isinstance(result, InputError) else result)})
    return records
