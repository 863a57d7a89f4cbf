"""An adaptive (early-exit) LiteRT file: ALBERT's shared layer stored once, called
by the runtime as many times as a text needs.

One `.tflite` with signatures instead of one whole-model graph:

- `embed`: `token_ids`, `segment_ids` -> `hidden` `[batch, length, H]` (the
  embedding, projected to the hidden width);
- `layer`: `hidden`, `padding_mask` -> `hidden`: one call of the shared layer
  (every inner repetition of ALBERT's one group);
- `exit_1` ... `exit_N`: `hidden` -> `probabilities` `[batch, labels]`: the
  pooler on `[CLS]` and exit `i`'s head (the last is the model's own head),
  softmax included.

Why signatures, not a TFLite `WHILE` around the layer: the runtime decides after
each call (patience, confidence) with the exit rule in Python, any rule, no new
graph; the shared layer's weights are one set of buffers that every call of
`layer` reads, so the file is the size of the whole-model file plus the exit
heads. The cost is an interpreter call per layer call (measured by
`benchmarks/early_exit.py`).

Only for a classifier with exit heads and one layer group (ALBERT's shared
layer); `num_groups > 1` would need a signature per group and is refused.
"""

import keras
import tensorflow as tf

from albert_tf.contract import (ADAPTIVE_EMBED, ADAPTIVE_EXIT, ADAPTIVE_HIDDEN,
                                ADAPTIVE_LAYER, INPUTS, PROBABILITIES)
from albert_tf.errors import AlbertTfError


def check_adaptive(model):
    """One line on why `model` has no adaptive file, or None when it can."""
    if not getattr(model, "exit_heads", None):
        return "the model has no exit heads (train or distill it with --exit-heads)"
    if model.backbone.num_groups != 1:
        return (f"the model has {model.backbone.num_groups} layer groups; the adaptive file "
                "calls one shared layer")
    return None


def exit_heads_in_order(model):
    """The head of every exit, call 1 first: per-call heads then the model's own;
    a shared head is the model's own at every call."""
    if model.exit_heads == "shared":
        return [model.output_dense] * model.num_exits
    return list(model.exit_denses) + [model.output_dense]


class AdaptiveSteps:
    """The three steps the adaptive file's signatures run, as Keras calls on the
    float model: traced into the SavedModel, and run eagerly to make the int8
    calibration samples, so both read one definition."""

    def __init__(self, model):
        reason = check_adaptive(model)
        if reason:
            raise AlbertTfError(f"no adaptive file: {reason}")
        self.backbone = model.backbone
        self.group = model.backbone.transformer_groups[0]
        self.heads = exit_heads_in_order(model)
        self.calls = model.num_exits

    def embed(self, token_ids, segment_ids):
        return self.backbone.embedding(token_ids, segment_ids, training=False)

    def layer(self, hidden, padding_mask):
        mask = self.backbone.attention_mask(padding_mask)
        for inner in self.group:
            hidden = inner(hidden, mask, training=False)
        return hidden

    def exit(self, number, hidden):
        # The activation is the model's (softmax: `probability_model`).
        return self.heads[number - 1](self.backbone.pooler(hidden))


def write_adaptive_saved_model(model, path):
    """The signatures above for a float32 probability model with exit heads."""
    steps = AdaptiveSteps(model)
    hidden_spec = tf.TensorSpec([None, None, steps.backbone.hidden_dim], tf.float32,
                                name=ADAPTIVE_HIDDEN)
    ids_spec = [tf.TensorSpec([None, None], tf.int32, name=n) for n in INPUTS[:2]]
    mask_spec = tf.TensorSpec([None, None], tf.int32, name=INPUTS[2])

    def exit_with(number):
        return lambda hidden: {PROBABILITIES: steps.exit(number, hidden)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ADAPTIVE_EMBED,
                         lambda token_ids, segment_ids: {
                             ADAPTIVE_HIDDEN: steps.embed(token_ids, segment_ids)},
                         input_signature=ids_spec)
    archive.add_endpoint(ADAPTIVE_LAYER,
                         lambda hidden, padding_mask: {
                             ADAPTIVE_HIDDEN: steps.layer(hidden, padding_mask)},
                         input_signature=[hidden_spec, mask_spec])
    for number in range(1, steps.calls + 1):
        archive.add_endpoint(f"{ADAPTIVE_EXIT}{number}", exit_with(number),
                             input_signature=[hidden_spec])
    archive.write_out(path, verbose=False)
    return [ADAPTIVE_EMBED, ADAPTIVE_LAYER] + [
        f"{ADAPTIVE_EXIT}{n}" for n in range(1, steps.calls + 1)]


def adaptive_representative(model, batches):
    """A representative dataset for the int8 adaptive file: `(signature, inputs)`
    samples, the form TFLite's calibrator takes for a file of several signatures.
    `embed` sees the token ids; `layer` and `exit_i` see the float model's hidden
    states before and after every call, so each call's activation ranges are
    calibrated on what that call really receives (the ranges grow with depth;
    one shared layer still gets one range per tensor, the widest over calls).
    `batches`: dicts of padded `INPUTS` arrays, all of one length."""
    steps = AdaptiveSteps(model)

    def dataset():
        for batch in batches:
            ids = {name: batch[name] for name in INPUTS[:2]}
            yield ADAPTIVE_EMBED, ids
            hidden = steps.embed(*ids.values())
            for number in range(1, steps.calls + 1):
                yield ADAPTIVE_LAYER, {ADAPTIVE_HIDDEN: keras.ops.convert_to_numpy(hidden),
                                       INPUTS[2]: batch[INPUTS[2]]}
                hidden = steps.layer(hidden, batch[INPUTS[2]])
                yield f"{ADAPTIVE_EXIT}{number}", {
                    ADAPTIVE_HIDDEN: keras.ops.convert_to_numpy(hidden)}

    return dataset


def convert_adaptive(saved_model_dir, recipe, signature_keys, representative_dataset=None):
    """Every signature into one `.tflite` (`(bytes, seconds)`); the converter stores
    a constant used by several signatures once. A calibrated recipe (int8) takes
    `adaptive_representative`'s samples and keeps the recipe's float ops and
    scopes in float in every signature, as the whole-model file does."""
    from .tflite import convert

    if recipe.calibrated and representative_dataset is None:
        raise AlbertTfError(f"no adaptive {recipe.name} file: it needs a calibration set")
    return convert(saved_model_dir, recipe, representative_dataset,
                   signature_key=list(signature_keys))
