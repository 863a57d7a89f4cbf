"""TensorFlow graphs of a trained classifier: SavedModel signatures.

`write_saved_model` writes one SavedModel with three signatures:

- `serving_default`: `text` (batch of raw UTF-8 strings; and `text_pair` for a
  model trained on pairs) -> `probabilities`, `label`, `truncated`; a
  multi-label model gives `predicted` (bool, one column per label: probability
  at or above the model's threshold) in place of `label`. Tokenization runs in
  the graph with tensorflow-text's SentencePiece op on the same `spiece.model`,
  reproducing `AlbertTokenizer.encode` id for id (same character cap, same
  longest-first truncation of pairs).
- `token_ids`: the model's three int32 inputs -> `probabilities` and
  `embedding` (the pooled `[CLS]` vector); what the TFLite conversion reads.
- `tokenize`: the same text inputs -> `token_ids`, `segment_ids`,
  `padding_mask`, for debugging and for checking tokenizer parity.

`tf.saved_model.load(path)` is enough to use it (after `import
tensorflow_text` to register the tokenizer op); no albert_tf import needed.
"""

import keras
import tensorflow as tf

from albert_tf.models.tasks import AlbertClassifier
from albert_tf.contract import (INPUTS as MODEL_INPUTS, MEDIAPIPE_PROBABILITY,
                                SAVED_MODEL_TEXT_INPUTS)
from albert_tf.prediction import MULTI_LABEL_THRESHOLD
from albert_tf.text.tokenizer import CHARS_PER_TOKEN_CAP


def probability_model(trained):
    """The loaded classifier with softmax (or sigmoid) outputs, float32."""
    config = trained.model.get_config()
    config["activation"] = "auto"
    config["backbone"]["config"]["dtype"] = "float32"
    model = AlbertClassifier.from_config(config)
    model.set_weights(trained.model.get_weights())
    return model


def int32_specs(names, batch=None, length=None):
    return [tf.TensorSpec([batch, length], tf.int32, name=name) for name in names]


class InGraphTokenizer(tf.Module):
    """`AlbertTokenizer.encode` for texts or text pairs, as TensorFlow ops."""

    def __init__(self, tokenizer, max_length):
        import tensorflow_text

        super().__init__()
        self.sentencepiece = tensorflow_text.SentencepieceTokenizer(
            model=tokenizer.model_proto, out_type=tf.int32)
        self.lowercase = tokenizer.lowercase
        self.strip_accents = tokenizer.strip_accents
        self.replace_quotes = tokenizer.replace_quotes
        self.max_length = max_length
        self.max_chars = max_length * CHARS_PER_TOKEN_CAP
        self.cls_id, self.sep_id = tokenizer.cls_id, tokenizer.sep_id

    def _pieces(self, texts):
        """SentencePiece ids of each text, after the character cap and the
        normalization `AlbertTokenizer._prepare` applies (same order), and
        whether the cap cut it."""
        import tensorflow_text

        cut_chars = tf.strings.length(texts, unit="UTF8_CHAR") > self.max_chars
        texts = tf.strings.substr(texts, 0, self.max_chars, unit="UTF8_CHAR")
        if self.replace_quotes:
            texts = tf.strings.regex_replace(texts, "``|''", '"')
        if self.strip_accents:
            texts = tf.strings.regex_replace(
                tensorflow_text.normalize_utf8(texts, "NFKD"), r"\p{Mn}", "")
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return self.sentencepiece.tokenize(texts), cut_chars

    def __call__(self, texts, pairs=None):
        pieces, truncated = self._pieces(texts)
        batch = tf.shape(texts, out_type=tf.int64)[:1]
        edge = lambda token: tf.RaggedTensor.from_tensor(  # noqa: E731
            tf.fill(tf.concat([batch, [1]], 0), token))
        if pairs is None:
            budget = self.max_length - 2
            truncated = tf.logical_or(truncated, pieces.row_lengths() > budget)
            ids = tf.concat([edge(self.cls_id), pieces[:, :budget], edge(self.sep_id)], axis=1)
            segments = tf.zeros_like(ids)
        else:
            second, cut_second = self._pieces(pairs)
            first, second, cut = self._longest_first(pieces, second)
            truncated = tf.logical_or(tf.logical_or(truncated, cut_second), cut)
            head = tf.concat([edge(self.cls_id), first, edge(self.sep_id)], axis=1)
            tail = tf.concat([second, edge(self.sep_id)], axis=1)
            ids = tf.concat([head, tail], axis=1)
            segments = tf.concat([tf.zeros_like(head), tf.ones_like(tail)], axis=1)
        token_ids = ids.to_tensor(0)
        padding_mask = tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1], tf.int32)
        return {"token_ids": token_ids, "segment_ids": segments.to_tensor(0),
                "padding_mask": padding_mask, "truncated": truncated}

    def _longest_first(self, first, second):
        """`AlbertTokenizer.pack`'s truncation in closed form: its loop drops the
        last piece of the longer text (the first on a tie) until both fit
        `max_length - 3`, so when both are long the first keeps floor(budget/2)
        pieces and the second the rest; otherwise the short one stays whole."""
        budget = tf.constant(self.max_length - 3, tf.int64)
        len_a, len_b = first.row_lengths(), second.row_lengths()
        over = len_a + len_b > budget
        keep_a = tf.where(over, tf.minimum(len_a, tf.maximum(budget - len_b, budget // 2)), len_a)
        keep_b = tf.where(over, budget - keep_a, len_b)
        first = tf.ragged.boolean_mask(first, tf.ragged.range(len_a) < keep_a[:, None])
        second = tf.ragged.boolean_mask(second, tf.ragged.range(len_b) < keep_b[:, None])
        return first, second, over


def write_saved_model(trained, path, threshold=MULTI_LABEL_THRESHOLD):
    """Write the three-signature SavedModel for a `TrainedClassifier`
    (`threshold`: a multi-label model's, for `predicted`)."""
    model = probability_model(trained)
    tokenizer = InGraphTokenizer(trained.tokenizer, trained.max_length)
    label_names = tf.constant(trained.labels.names)
    multi_label = trained.labels.multi_label

    def probabilities_and_embedding(token_ids, segment_ids, padding_mask):
        # The classifier's own call, unrolled so the pooled vector (what
        # `TrainedClassifier.embed` returns) comes out of the same pass.
        # Dropout is the identity at inference, so it is skipped.
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids,
                  "padding_mask": padding_mask}
        pooled = model.backbone(inputs, training=False)["pooled_output"]
        return {"probabilities": model.output_dense(pooled), "embedding": pooled}

    def serve_ids(token_ids, segment_ids, padding_mask):
        return probabilities_and_embedding(token_ids, segment_ids, padding_mask)

    def tokenize(*texts):
        encoded = tokenizer(*texts)
        return {name: encoded[name] for name in MODEL_INPUTS}

    def serve_text(*texts):
        encoded = tokenizer(*texts)
        probs = probabilities_and_embedding(*(encoded[name] for name in MODEL_INPUTS))[
            "probabilities"]
        answer = ({"predicted": probs >= threshold} if multi_label else
                  {"label": tf.gather(label_names, tf.argmax(probs, axis=-1))})
        return {"probabilities": probs, **answer, "truncated": encoded["truncated"]}

    text_spec = [tf.TensorSpec([None], tf.string, name=name)
                 for name in SAVED_MODEL_TEXT_INPUTS[:2 if trained.takes_pairs else 1]]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(tokenizer)
    archive.add_endpoint("serving_default", serve_text, input_signature=text_spec)
    archive.add_endpoint("token_ids", serve_ids, input_signature=int32_specs(MODEL_INPUTS))
    archive.add_endpoint("tokenize", tokenize, input_signature=text_spec)
    archive.write_out(path, verbose=False)
    return model


def write_ids_saved_model(model, path, names=MODEL_INPUTS, batch=None, length=None,
                          output=MEDIAPIPE_PROBABILITY):
    """A SavedModel with only an int32 `serving_default` (for conversion).

    `names` name the three inputs in the model's order (token ids, segment
    ids, mask); MediaPipe wants `ids`, `segment_ids`, `mask`. `output` names
    the model's one output (an embedder's is `embedding`).
    """
    def serve(first, second, third):
        inputs = dict(zip(MODEL_INPUTS, (first, second, third)))
        return {output: model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve,
                         input_signature=int32_specs(names, batch, length))
    archive.write_out(path, verbose=False)
