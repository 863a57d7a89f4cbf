"""A trained classifier in memory: the Keras model, its tokenizer and labels together.

What `albert_tf.load` and `albert_tf.train` return; prediction, evaluation and
embeddings all go through the same batched, length-bucketed predict.
"""

import numpy as np

from albert_tf.inference.embedding import embed
from albert_tf.inference.metrics import classification_report, multilabel_report
from albert_tf.inference.predict import predict_in_batches
from albert_tf.text.inputs import check_pairs
from albert_tf.prediction import (MAX_UNKNOWN, check_options, make_multi_label_prediction,
                                  make_prediction)


class TrainedClassifier:
    """A loaded model directory: classifier, tokenizer and labels together.

    Example:
    ```python
    model = albert_tf.load("runs/sst2")
    model.predict(["a gripping, funny film"])[0]["label"]
    vectors = model.embed(["a film", "a movie"], pooling="mean")
    ```
    """

    def __init__(self, model, tokenizer, labels, config, metadata=None, path=None):
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.config = config
        self.metadata = metadata or {}
        self.path = path
        self.max_length = int(config["max_length"])  # written by save_model_dir, always

    @property
    def takes_pairs(self):
        """Whether the model reads text pairs (it was trained with a pair column)."""
        return bool(self.config.get("training", {}).get("text_pair_column"))

    @property
    def backbone(self):
        return self.model.backbone

    def predict_proba(self, texts, pairs=None, batch_size=64):
        """Class probabilities `(n, num_classes)` (softmax, or sigmoid if multi-label)."""
        check_pairs(self.takes_pairs, texts, pairs)
        logits, _ = predict_in_batches(
            self.model, self.tokenizer, texts, pairs, self.max_length, batch_size)
        return self._probs(logits)

    def exit_proba(self, texts, pairs=None, batch_size=64):
        """Every exit's probabilities, `(n, exits, num_classes)`, for a model trained
        with exit heads (`exit_heads=`); the last exit is `predict_proba`'s."""
        if not getattr(self.model, "exit_heads", None):
            raise ValueError("this model has no exit heads (train it with exit_heads=...)")
        check_pairs(self.takes_pairs, texts, pairs)
        logits, _ = predict_in_batches(
            self.model.exit_model(), self.tokenizer, texts, pairs, self.max_length, batch_size)
        return self._probs(logits)

    def predict(self, texts, pairs=None, batch_size=64, threshold=None, top_k=None,
                max_unknown=MAX_UNKNOWN, score_threshold=None):
        """One record per text, the runtime's fields (see `albert_tf.prediction`):
        `label`, `score`, `scores` (highest first, `top_k` of them), `truncated`,
        `num_tokens`, `unknown_share`, `abstained`; a multi-label model gives
        `labels` at or above `threshold` (default 0.5) in place of `label` and
        `score`. A pair model (trained with a text pair column) needs `pairs`,
        and a single-text model refuses them."""
        if isinstance(texts, (str, bytes)):
            texts, pairs = [texts], ([pairs] if pairs is not None else None)
        names = self.labels.names
        check_options(top_k, len(names), max_unknown, score_threshold, threshold,
                      self.labels.multi_label)
        check_pairs(self.takes_pairs, texts, pairs)
        logits, truncated, counts, unknown = predict_in_batches(
            self.model, self.tokenizer, texts, pairs, self.max_length, batch_size,
            token_stats=True)
        rows = zip(self._probs(logits), truncated, counts, unknown)
        if self.labels.multi_label:
            return [make_multi_label_prediction(row, names, cut, count, share, threshold, top_k,
                                                max_unknown).to_dict()
                    for row, cut, count, share in rows]
        return [make_prediction(row, names, cut, count, share, top_k, max_unknown,
                                score_threshold).to_dict()
                for row, cut, count, share in rows]

    def _probs(self, logits):
        if self.labels.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def evaluate(self, examples, batch_size=64):
        """Metrics on labelled `Examples` (see `albert_tf.inference.metrics`)."""
        y_true = self.labels.encode(examples)
        logits, _ = predict_in_batches(self.model, self.tokenizer, examples.texts,
                                       examples.pairs, self.max_length, batch_size)
        if self.labels.multi_label:
            return multilabel_report(y_true, logits > 0.0, self.labels.names)
        return classification_report(y_true, logits.argmax(-1), self.labels.names)

    def embed(self, texts, pooling="cls", batch_size=64):
        return embed(self.backbone, self.tokenizer, texts, pooling=pooling,
                     max_length=self.max_length, batch_size=batch_size)
