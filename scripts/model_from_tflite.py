"""Rebuild the Keras directory of a kit export from its .tflite file.

An export directory (or a bundled model) holds the weights only inside its
.tflite files. When the Keras directory it came from is gone (another machine,
a deleted `runs/`), this script reads the weights back out of the float32,
float16 or dynamic_int8 file and writes what `train --init`, `distill --init`
and `export` take like any other: a model directory for a classifier export, an
embedder directory for a sentence-embedder export. Continuing from a bundled
model saves the hours of CPU that made it.

It knows the kit's own graph, not arbitrary TFLite files: a single-group
classifier or sentence encoder (every preset) whose tensors the converter named
after their layers. Transposed kernels lose their names to constant folding (the
converter folds the transpose XNNPACK wants into the constant), so those are
matched by shape, and the script refuses when a shape is ambiguous. Nothing is
written unless the rebuilt Keras model reproduces the .tflite file's outputs on
real texts (`--texts`, default: the bundled demo sentences): its probabilities
for a classifier, its vectors' cosine for an embedder.

    python scripts/model_from_tflite.py albert_tf/bundled/sst2_sentiment \
        --preset small --out runs/bundled-keras
    python scripts/model_from_tflite.py albert_tf/bundled/sentence_embedder \
        --out runs/embedder-keras
"""

import argparse
import json
import os
import re
import sys

import numpy as np

from albert_tf.artifacts.manifest import EMBEDDER_EXPORT_FORMAT
from albert_tf.contract import MANIFEST_FILE, TOKENIZER_DIR
from albert_tf.errors import AlbertTfError

# The files weights are read from, best first: float32 is exact, float16 rounds
# each weight, dynamic_int8 keeps kernels and the token table as int8 with a scale
# per output channel (per tensor for the table): dequantized, each weight is within
# half a step (scale / 2) of the trained one, a start `--init` trains on from.
# Full-integer int8 files are not read: their biases are int32 in the scale of each
# layer's input, and their outputs differ from the float model's by up to 0.2 in
# probability (the bundled model's), too far to check a rebuild against.
WEIGHT_FILES = ("float32.tflite", "float16.tflite", "dynamic_int8.tflite")
# How far the rebuilt model may differ from its file, by file. Float files repeat
# the model to rounding. dynamic_int8 also quantizes activations as it runs, so even
# with its own weights the Keras model differs: on the bundled demo sentences the
# sentiment model's largest |probability difference| was 0.06 (its export measured
# 0.033 on SST-2 dev), the embedder's smallest cosine 0.99994. A weight read into
# the wrong place makes differences of order 1, which any of these catches.
DEFAULT_TOLERANCE = {"float32.tflite": 1e-3, "float16.tflite": 1e-3,
                     "dynamic_int8.tflite": 0.1}
# Folded constants (the transposed kernels) have no layer name: the converter calls
# them after the pass that made them; dynamic-range quantization names its own.
FOLDED_PREFIXES = ("arith.constant", "tfl.pseudo_qconst")


def dequantize(value, quantization):
    """float32 of an int8 constant: (q - zero_point) * scale, with one scale per
    slice along `quantized_dimension` (per channel) or one for the tensor."""
    scales = np.asarray(quantization["scales"], np.float32)
    zero_points = np.asarray(quantization["zero_points"], np.float32)
    shape = [1] * value.ndim
    if scales.size > 1:
        shape[quantization["quantized_dimension"]] = -1
    return (value.astype(np.float32) - zero_points.reshape(shape)) * scales.reshape(shape)


def read_constants(tflite_path):
    """{name: float32 array} of every floating-point constant in the file, and of
    every int8 constant with a scale (dequantized)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(tflite_path)
    constants = {}
    for detail in interpreter.get_tensor_details():
        quantization = detail["quantization_parameters"]
        quantized = detail["dtype"] == np.int8 and len(quantization["scales"])
        if not (quantized or detail["dtype"] in (np.float16, np.float32)) \
                or not len(detail["shape"]):
            continue
        try:
            value = interpreter.get_tensor(detail["index"])
        except ValueError:  # an activation, not a constant
            continue
        constants[detail["name"]] = (dequantize(value, quantization) if quantized
                                     else np.asarray(value, np.float32))
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
    hits = [k for k, v in constants.items() if k.startswith(FOLDED_PREFIXES)
            and tuple(v.shape) == tuple(shape)]
    if len(hits) != 1:
        raise AlbertTfError(f"shape {shape}: expected one folded constant, found {len(hits)}; "
                            "this graph is not a single-group kit model")
    return constants.pop(hits[0])


def head_values(constants):
    """The classifier's weights after the backbone: pooler and logits."""
    return {"pooler/dense/kernel": _named(constants, "pooler", "dense", op="MatMul").T,
            "pooler/dense/bias": _named(constants, "pooler", "dense", op="BiasAdd"),
            "logits/kernel": _named(constants, "logits", op="MatMul").T,
            "logits/bias": _named(constants, "logits", op="BiasAdd")}


def projection_values(constants):
    """The sentence encoder's weights after the backbone: its projection. The file
    has no pooler (the encoder mean-pools; its [CLS] pooler is frozen and off the
    path), so the pooler keeps the values the model was built with."""
    return {"projection/kernel": _named(constants, "projection", op="MatMul").T,
            "projection/bias": _named(constants, "projection", op="BiasAdd")}


def weights_from_constants(model, constants, head=head_values, keep=()):
    """The model's weight list, in `model.weights` order, taken from `constants`:
    the backbone's, then `head(constants)`'s; weights whose path starts with one of
    `keep` stay as the model has them."""
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
    values.update(head(constants))
    by_path = {w.path: w for w in model.weights}
    for sub, path in (("qkv", "attention/qkv"), ("attention_output", "attention/attention_output"),
                      ("ffn", "ffn"), ("ffn_output", "ffn_output")):
        values[f"{layer}/{path}/bias"] = _named(constants, sub, op="BiasAdd/ReadVariableOp")
        kernel = by_path[f"{layer}/{path}/kernel"]
        # Stored transposed ([out, in]): the layout XNNPACK's fully-connected op reads.
        values[f"{layer}/{path}/kernel"] = _by_shape(constants, kernel.shape[::-1]).T
    values.update({w.path: np.asarray(w) for w in model.weights if w.path.startswith(keep)})
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
    parser.add_argument("export_dir", help="kit export directory (classifier or sentence "
                                           "embedder) with a " + ", ".join(WEIGHT_FILES) +
                                           " file; the first found is read")
    parser.add_argument("--out", required=True, help="model (or embedder) directory to write")
    parser.add_argument("--preset", default="small",
                        help="the model's shape, for exports older than their `model_config`")
    parser.add_argument("--num-layers", type=int, default=None,
                        help="layer calls the file was exported with, with --preset "
                             "(default: the preset's)")
    parser.add_argument("--texts", default=None,
                        help="a labelled file whose texts check the rebuilt model "
                             "(default: the bundled demo sentences)")
    parser.add_argument("--tolerance", type=float, default=None,
                        help="largest |probability difference| (classifier) or 1 - cosine "
                             "(embedder) allowed against the file (default: by file, "
                             + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_TOLERANCE.items())
                             + ")")
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
    from albert_tf.bundled import MOVIE_REVIEWS_DEV
    from albert_tf.text.data import load_examples
    from albert_tf.text.tokenizer import AlbertTokenizer

    source = next((f for f in WEIGHT_FILES if os.path.exists(os.path.join(args.export_dir, f))),
                  None)
    if source is None:
        raise AlbertTfError(f"{args.export_dir}: no {', '.join(WEIGHT_FILES[:-1])} "
                            f"or {WEIGHT_FILES[-1]}")
    with open(os.path.join(args.export_dir, MANIFEST_FILE), encoding="utf-8") as f:
        metadata = json.load(f)
    tokenizer = AlbertTokenizer.load(os.path.join(args.export_dir, TOKENIZER_DIR))
    constants = read_constants(os.path.join(args.export_dir, source))
    texts = load_examples(args.texts or MOVIE_REVIEWS_DEV).texts[:256]
    tolerance = DEFAULT_TOLERANCE[source] if args.tolerance is None else args.tolerance
    rebuilt_from = {"export_dir": os.path.abspath(args.export_dir), "file": source,
                    "files_sha256": metadata.get("files", {}).get(source)}
    build = (rebuild_embedder if metadata.get("format") == EMBEDDER_EXPORT_FORMAT
             else rebuild_classifier)
    return build(args, metadata, tokenizer, constants, texts, tolerance, rebuilt_from)


def rebuild_classifier(args, metadata, tokenizer, constants, texts, tolerance, rebuilt_from):
    from albert_tf.artifacts.model_dir import classifier_with_dtype, save_model_dir
    from albert_tf.inference.trained import TrainedClassifier
    from albert_tf.models.tasks import build_classifier
    from albert_tf.runtime.classifier import Classifier
    from albert_tf.text.data import LabelVocab

    names = metadata.get("original_labels") or metadata["labels"]
    if "model_config" in metadata:
        model = classifier_with_dtype(metadata["model_config"], "float32")
    else:  # exported before the manifest recorded the config
        overrides = {"vocabulary_size": tokenizer.vocab_size}
        if args.num_layers:
            overrides["num_layers"] = args.num_layers
        model = build_classifier(args.preset, num_classes=len(names), **overrides)
    # A functional model: its weights exist from construction, no call needed.
    model.set_weights(weights_from_constants(model, constants))
    labels = LabelVocab(names, multi_label=bool(model.multi_label))
    training = {"max_length": metadata["contract"]["max_length"], "rebuilt_from": rebuilt_from}
    runtime = Classifier.load(args.export_dir, recipe=rebuilt_from["file"].split(".")[0])
    expected = runtime.predict_proba(texts)
    # The same texts through the Keras model, as `albert_tf.load` would predict them.
    got = TrainedClassifier(model, tokenizer, labels, training).predict_proba(texts)
    gap = float(np.abs(got - expected).max())
    _check(gap, tolerance, rebuilt_from["file"])
    save_model_dir(args.out, model, tokenizer, labels, training,
                   extra_metadata={"rebuilt_from_tflite": rebuilt_from})
    return {"out": args.out, "file": rebuilt_from["file"], "texts": len(texts),
            "max_abs_probability_difference": gap, "labels": names}


def rebuild_embedder(args, metadata, tokenizer, constants, texts, tolerance, rebuilt_from):
    from albert_tf.artifacts.embedder_dir import encoder_with_dtype, save_embedder_dir
    from albert_tf.inference.sentence_embedder import TrainedEmbedder
    from albert_tf.runtime.embedder import Embedder

    if "model_config" not in metadata:
        raise AlbertTfError(f"{args.export_dir}: its manifest has no model_config")
    model = encoder_with_dtype(metadata["model_config"], "float32")
    model.set_weights(weights_from_constants(model, constants, head=projection_values,
                                             keep=("pooler/",)))
    training = {"max_length": metadata["contract"]["max_length"], "rebuilt_from": rebuilt_from}
    expected = Embedder.load(args.export_dir,
                             recipe=rebuilt_from["file"].split(".")[0]).embed(texts)
    got = TrainedEmbedder(model, tokenizer, training).embed(texts)
    cosines = (np.asarray(got) * np.asarray(expected)).sum(axis=1)  # both unit length
    gap = float(1.0 - cosines.min())
    _check(gap, tolerance, rebuilt_from["file"])
    save_embedder_dir(args.out, model, tokenizer, training,
                      extra_metadata={"rebuilt_from_tflite": rebuilt_from})
    return {"out": args.out, "file": rebuilt_from["file"], "texts": len(texts),
            "min_cosine": round(float(cosines.min()), 6),
            "mean_cosine": round(float(cosines.mean()), 6)}


def _check(gap, tolerance, source):
    if gap > tolerance:
        raise AlbertTfError(f"the rebuilt model differs from {source} by {gap:.2e} "
                            f"(> {tolerance}); nothing written")


if __name__ == "__main__":
    sys.exit(main())
