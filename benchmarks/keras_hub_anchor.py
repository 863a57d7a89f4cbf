"""The path a user would otherwise take: keras-hub's ALBERT exported by Keras.

keras-hub `AlbertBackbone` of the same shape + a dense softmax head,
`model.export(format="litert")` with static `[1, 128]` inputs (what
MediaPipe-style serving pads to), float32 and dynamic-range int8. Random
weights: latency does not depend on them. Needs TensorFlow and keras-hub
(`pip install keras-hub==0.32.0`); used by `runtime_bench.py`.
"""

import os

ANCHOR_LENGTH = 128
ANCHOR_INPUTS = ("token_ids", "padding_mask", "segment_ids")


def build_anchor_files(out_dir, vocabulary_size, num_layers=12, hidden_dim=768,
                       embedding_dim=128, num_heads=12, intermediate_dim=3072,
                       num_classes=2):
    """Write `keras_hub_{float32,dynamic_int8}.tflite` into `out_dir` (cached)."""
    paths = {r: os.path.join(out_dir, f"keras_hub_{r}.tflite")
             for r in ("float32", "dynamic_int8")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_hub
    import tensorflow as tf

    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
        embedding_dim=embedding_dim, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim, max_sequence_length=512)
    inputs = [keras.Input((ANCHOR_LENGTH,), dtype="int32", name=n) for n in ANCHOR_INPUTS]
    pooled = backbone(dict(zip(ANCHOR_INPUTS, inputs)))["pooled_output"]
    probabilities = keras.layers.Dense(num_classes, activation="softmax")(pooled)
    model = keras.Model(inputs, probabilities)
    # One structure holding the list of three inputs (see ../shared/NOTES.md).
    signature = [[tf.TensorSpec([1, ANCHOR_LENGTH], tf.int32, name=n) for n in ANCHOR_INPUTS]]
    os.makedirs(out_dir, exist_ok=True)
    model.export(paths["float32"], format="litert", input_signature=signature, verbose=False)
    model.export(paths["dynamic_int8"], format="litert", input_signature=signature,
                 optimizations=[tf.lite.Optimize.DEFAULT], verbose=False)
    return paths


def anchor_feed(interpreter_runner, token_ids):
    """Inputs for a keras-hub file's signature runner, matched by name."""
    import numpy as np

    details = interpreter_runner.get_input_details()
    values = {"token_ids": token_ids, "padding_mask": (token_ids != 0).astype("int32"),
              "segment_ids": np.zeros_like(token_ids)}
    feed = {}
    for name in details:
        match = [k for k in values if k in name] or [k for k in values if k[:5] in name]
        if not match:
            raise ValueError(f"cannot match keras-hub input {name!r} in {sorted(details)}")
        feed[name] = values[match[0]]
    return feed
