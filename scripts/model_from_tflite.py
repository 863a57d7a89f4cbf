"""Rebuild the Keras model directory of a kit export from its float .tflite file.

An export directory (or the bundled model) holds the classifier's weights only
inside its .tflite files. When the Keras model directory it came from is gone
(another machine, a deleted `runs/`), this script reads the weights back out of
the float32 or float16 file and writes a model directory that `train --init`,
`distill --init` and `export` take like any other: continuing from the bundled
model saves the hours of CPU that made it.

It knows the kit's own graph, not arbitrary TFLite files: a single-group
classifier (every preset) whose tensors the converter named after their layers.
Transposed kernels lose their names to constant folding (the converter folds the
transpose XNNPACK wants into the constant), so those are matched by shape, and
the script refuses when a shape is ambiguous. Nothing is written unless the
rebuilt Keras model reproduces the .tflite file's probabilities on real texts
(`--texts`, default: the bundled demo sentences).

    python scripts/model_from_tflite.py albert_tf/bundled/sst2_sentiment \
        --preset small --out runs/bundled-keras
"""

import argparse
import json
import os
import re
import sys

import numpy as np

from albert_tf.contract import MANIFEST_FILE, TOKENIZER_DIR
from albert_tf.errors import AlbertTfError

# The float recipes, best first: float32 is exact, float16 rounds each weight.
FLOAT_FILES = ("float32.tflite", "float16.tflite")


def read_constants(tflite_path):
    """{name: float32 array} of every floating-point constant in the file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(tflite_path)
    constants = {}
    for detail in interpreter.get_tensor_details():
        if detail["dtype"] not in (np.float16, np.float32) or not len(detail["shape"]):
            continue
        try:
            value = interpreter.get_tensor(detail["index"])
        except ValueError:  # an activation, not a constant
            continue
        constants[detail["name"]] = np.asarray(value, np.float32)
    return constants


def _scope(*parts):
    """A regex for a tensor name under nested layer scopes. Scopes carry suffixes:
    TF's graph adds one (`ffn_1`), and a layer Keras named itself has its own
    before that (`albert_backbone_37_1` in a process that built 37 others)."""
    return re.compile("(?:^|/)" + "/".join(re.escape(p) + r"(?:_\d+)*" for p in parts) + "/")


def _layer_norm(constants, scope):
    """(gamma, beta) of a layer norm: the converter keeps them as two reshaped
    constants, `Reshape` (gamma) and `Reshape_1` (beta)."""
    pattern = _scope(scope)
    found = sorted(k for k in constants if pattern.search(k) and "/Reshape" in k)
    if len(found) != 2:
        raise AlbertTfError(f"layer norm {scope!r}: expected 2 constants, found {len(found)}")
    return constants.pop(found[0]).reshape(-1), constants.pop(found[1]).reshape(-1)


def _named(constants, *parts, op):
    """The one constant named `op` right under the layer scopes `parts`."""
    pattern = re.compile(_scope(*parts).pattern + re.escape(op) + "$")
    hits = [k for k in constants if pattern.search(k)]
    if len(hits) != 1:
        raise AlbertTfError(f"{'/'.join(parts)}/{op}: expected one tensor, found {len(hits)}")
    return constants.pop(hits[0])


def _by_shape(constants, shape):
    """The one unnamed (folded) constant of `shape`."""
    hits = [k for k, v in constants.items() if k.startswith("arith.constant")
            and tuple(v.shape) == tuple(shape)]
    if len(hits) != 1:
        raise AlbertTfError(f"shape {shape}: expected one folded constant, found {len(hits)}; "
                            "this graph is not a single-group kit classifier")
    return constants.pop(hits[0])


def weights_from_constants(model, constants):
    """The model's weight list, in `model.weights` order, taken from `constants`."""
    constants = dict(constants)
    values = {}
    layer = "group_0_inner_layer_0"
    values["embedding/token_embedding/embeddings"] = _named(
        constants, "token_embedding", op="GatherV2/ReadVariableOp")
    values["embedding/segment_embedding/embeddings"] = _named(
        constants, "segment_embedding", op="GatherV2/ReadVariableOp")
    # Positions are a slice of the table, not a gather: the variable read directly.
    values["embedding/position_embedding/embeddings"] = _named(
        constants, "embedding", op="ReadVariableOp")
    for scope, path in (("layer_norm", "embedding/layer_norm"),
                        ("attention_layer_norm", f"{layer}/attention_layer_norm"),
                        ("output_layer_norm", f"{layer}/output_layer_norm")):
        values[f"{path}/gamma"], values[f"{path}/beta"] = _layer_norm(constants, scope)
    # Dense kernels the converter kept named are stored [out, in]: transpose back.
    values["embedding/projection/kernel"] = _named(
        constants, "projection", op="Tensordot/MatMul").T
    values["embedding/projection/bias"] = _named(constants, "projection",
                                                 op="BiasAdd/ReadVariableOp")
    values["pooler/dense/kernel"] = _named(constants, "pooler", "dense", op="MatMul").T
    values["pooler/dense/bias"] = _named(constants, "pooler", "dense", op="BiasAdd")
    values["logits/kernel"] = _named(constants, "logits", op="MatMul").T
    values["logits/bias"] = _named(constants, "logits", op="BiasAdd")
    by_path = {w.path: w for w in model.weights}
    for sub, path in (("qkv", "attention/qkv"), ("attention_output", "attention/attention_output"),
                      ("ffn", "ffn"), ("ffn_output", "ffn_output")):
        values[f"{layer}/{path}/bias"] = _named(constants, sub, op="BiasAdd/ReadVariableOp")
        kernel = by_path[f"{layer}/{path}/kernel"]
        # Stored transposed ([out, in]): the layout XNNPACK's fully-connected op reads.
        values[f"{layer}/{path}/kernel"] = _by_shape(constants, kernel.shape[::-1]).T
    missing = [w.path for w in model.weights if w.path not in values]
    if missing:
        raise AlbertTfError(f"no tensor for {missing}")
    out = []
    for w in model.weights:
        value = values[w.path]
        if tuple(value.shape) != tuple(w.shape):
            raise AlbertTfError(f"{w.path}: file has {value.shape}, model wants {tuple(w.shape)}")
        out.append(value)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("export_dir", help="kit export directory with a float32 or float16 file")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--preset", default="small",
                        help="the model's shape, for exports older than their `model_config`")
    parser.add_argument("--num-layers", type=int, default=None,
                        help="layer calls the file was exported with, with --preset "
                             "(default: the preset's)")
    parser.add_argument("--texts", default=None,
                        help="a labelled file whose texts check the rebuilt model "
                             "(default: the bundled demo sentences)")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest |probability difference| allowed against the file")
    args = parser.parse_args(argv)
    try:
        if os.path.isdir(args.out) and os.listdir(args.out):  # before any slow import
            raise AlbertTfError(f"{args.out} exists and is not empty")
        report = rebuild(args)
    except (AlbertTfError, OSError) as error:
        print(f"model_from_tflite: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def rebuild(args):
    from albert_tf.artifacts.model_dir import classifier_with_dtype, save_model_dir
    from albert_tf.bundled import MOVIE_REVIEWS_DEV
    from albert_tf.inference.trained import TrainedClassifier
    from albert_tf.models.tasks import build_classifier
    from albert_tf.runtime.classifier import Classifier
    from albert_tf.text.data import LabelVocab, load_examples
    from albert_tf.text.tokenizer import AlbertTokenizer

    source = next((f for f in FLOAT_FILES if os.path.exists(os.path.join(args.export_dir, f))),
                  None)
    if source is None:
        raise AlbertTfError(f"{args.export_dir}: no {' or '.join(FLOAT_FILES)}")
    with open(os.path.join(args.export_dir, MANIFEST_FILE), encoding="utf-8") as f:
        metadata = json.load(f)
    max_length = metadata["contract"]["max_length"]
    names = metadata.get("original_labels") or metadata["labels"]
    tokenizer = AlbertTokenizer.load(os.path.join(args.export_dir, TOKENIZER_DIR))
    if "model_config" in metadata:
        model = classifier_with_dtype(metadata["model_config"], "float32")
    else:  # exported before the manifest recorded the config
        overrides = {"vocabulary_size": tokenizer.vocab_size}
        if args.num_layers:
            overrides["num_layers"] = args.num_layers
        model = build_classifier(args.preset, num_classes=len(names), **overrides)
    # A functional model: its weights exist from construction, no call needed.
    model.set_weights(weights_from_constants(model, read_constants(
        os.path.join(args.export_dir, source))))
    labels = LabelVocab(names, multi_label=bool(model.multi_label))
    training = {"max_length": max_length,
                "rebuilt_from": {"export_dir": os.path.abspath(args.export_dir), "file": source,
                                 "files_sha256": metadata.get("files", {}).get(source)}}

    texts = load_examples(args.texts or MOVIE_REVIEWS_DEV).texts[:256]
    runtime = Classifier.load(args.export_dir, recipe=source.split(".")[0])
    expected = runtime.predict_proba(texts)
    # The same texts through the Keras model, as `albert_tf.load` would predict them.
    got = TrainedClassifier(model, tokenizer, labels, training).predict_proba(texts)
    gap = float(np.abs(got - expected).max())
    if gap > args.tolerance:
        raise AlbertTfError(f"the rebuilt model differs from {source} by {gap:.2e} "
                            f"(> {args.tolerance}); nothing written")
    save_model_dir(args.out, model, tokenizer, labels, training,
                   extra_metadata={"rebuilt_from_tflite": training["rebuilt_from"]})
    return {"out": args.out, "file": source, "texts": len(texts),
            "max_abs_probability_difference": gap, "labels": names}


if __name__ == "__main__":
    sys.exit(main())
