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


def write_adaptive_saved_model(model, path):
    """The signatures above for a float32 probability model with exit heads."""
    reason = check_adaptive(model)
    if reason:
        raise AlbertTfError(f"no adaptive file: {reason}")
    backbone = model.backbone
    group = backbone.transformer_groups[0]
    hidden_spec = tf.TensorSpec([None, None, backbone.hidden_dim], tf.float32,
                                name=ADAPTIVE_HIDDEN)
    ids_spec = [tf.TensorSpec([None, None], tf.int32, name=n) for n in INPUTS[:2]]
    mask_spec = tf.TensorSpec([None, None], tf.int32, name=INPUTS[2])

    def embed(token_ids, segment_ids):
        return {ADAPTIVE_HIDDEN: backbone.embedding(token_ids, segment_ids, training=False)}

    def layer(hidden, padding_mask):
        mask = backbone.attention_mask(padding_mask)
        for inner in group:
            hidden = inner(hidden, mask, training=False)
        return {ADAPTIVE_HIDDEN: hidden}

    def exit_with(head):
        def run(hidden):
            # The activation is the model's (softmax: `probability_model`).
            return {PROBABILITIES: head(backbone.pooler(hidden))}
        return run

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ADAPTIVE_EMBED, embed, input_signature=ids_spec)
    archive.add_endpoint(ADAPTIVE_LAYER, layer, input_signature=[hidden_spec, mask_spec])
    for number, head in enumerate(exit_heads_in_order(model), start=1):
        archive.add_endpoint(f"{ADAPTIVE_EXIT}{number}", exit_with(head),
                             input_signature=[hidden_spec])
    archive.write_out(path, verbose=False)
    return [ADAPTIVE_EMBED, ADAPTIVE_LAYER] + [
        f"{ADAPTIVE_EXIT}{n}" for n in range(1, model.num_exits + 1)]


def convert_adaptive(saved_model_dir, recipe, signature_keys):
    """Every signature into one `.tflite` (`(bytes, seconds)`); the converter stores
    a constant used by several signatures once. Calibrated recipes (int8) would
    need a representative set per signature (hidden states for `layer`, per
    call): not made, the export says so."""
    from .tflite import convert

    if recipe.calibrated:
        raise AlbertTfError(f"no adaptive {recipe.name} file: calibrated recipes are not "
                            "made for it")
    return convert(saved_model_dir, recipe, signature_key=list(signature_keys))
