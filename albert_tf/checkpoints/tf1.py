"""Google's original ALBERT checkpoints (google-research/albert, TF1).

A directory with `albert_config.json`, `model.ckpt-*` (or any TF
checkpoint prefix) and a SentencePiece model (`30k-clean.model`). Reading
a TF checkpoint needs TensorFlow (the `tensorflow` extra); nothing else here
does.

Google names, per transformer layer `bert/encoder/transformer/group_G/inner_group_I/`:
`attention_1/self/{query,key,value}`, `attention_1/output/dense`,
`LayerNorm` (after attention), `ffn_1/intermediate/dense`,
`ffn_1/intermediate/output/dense`, `LayerNorm_1` (after the FFN).
"""

import glob
import os

import numpy as np

from albert_tf.checkpoints.configs import backbone_kwargs, read_json
from albert_tf.checkpoints.layout import (
    EMBEDDINGS, MLM, POOLER, PROJECTION, QKV, SOP, Checkpoint, layer_prefix)
from albert_tf.errors import CheckpointError
from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.text.tokenizer import AlbertTokenizer

_DENSE = {"kernel": "weight", "bias": "bias"}
_NORM = {"gamma": "weight", "beta": "bias"}


def _pairs(google, reference, kinds):
    return {f"{google}/{g}": reference + r for g, r in kinds.items()}


def name_map(num_groups, num_inner_repetitions):
    """Google variable name -> reference name, for every weight of the model and heads."""
    names = {
        "bert/embeddings/word_embeddings": EMBEDDINGS + "word_embeddings.weight",
        "bert/embeddings/position_embeddings": EMBEDDINGS + "position_embeddings.weight",
        "bert/embeddings/token_type_embeddings": EMBEDDINGS + "token_type_embeddings.weight",
        **_pairs("bert/embeddings/LayerNorm", EMBEDDINGS + "LayerNorm.", _NORM),
        **_pairs("bert/encoder/embedding_hidden_mapping_in", PROJECTION, _DENSE),
        **_pairs("bert/pooler/dense", POOLER, _DENSE),
        **_pairs("cls/predictions/transform/dense", MLM + "dense.", _DENSE),
        **_pairs("cls/predictions/transform/LayerNorm", MLM + "LayerNorm.", _NORM),
        "cls/predictions/output_bias": MLM + "bias",
        "cls/seq_relationship/output_weights": SOP + "weight",  # (2, H): transposed
        "cls/seq_relationship/output_bias": SOP + "bias",
    }
    for g in range(num_groups):
        for i in range(num_inner_repetitions):
            google, ref = f"bert/encoder/transformer/group_{g}/inner_group_{i}/", layer_prefix(g, i)
            for part in QKV:
                names.update(_pairs(google + f"attention_1/self/{part}",
                                    ref + f"attention.{part}.", _DENSE))
            names.update({
                **_pairs(google + "attention_1/output/dense", ref + "attention.dense.", _DENSE),
                **_pairs(google + "LayerNorm", ref + "attention.LayerNorm.", _NORM),
                **_pairs(google + "ffn_1/intermediate/dense", ref + "ffn.", _DENSE),
                **_pairs(google + "ffn_1/intermediate/output/dense", ref + "ffn_output.", _DENSE),
                **_pairs(google + "LayerNorm_1", ref + "full_layer_layer_norm.", _NORM),
            })
    return names


def _find(directory, patterns, what):
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(directory, pattern)))
        if found:
            return found
    raise CheckpointError(f"{directory}: no {what} ({' or '.join(patterns)})")


def _checkpoint_prefix(directory):
    """The newest `*.index` prefix (highest step for `model.ckpt-STEP`)."""
    def step(path):
        tail = path[:-len(".index")].rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    index = max(_find(directory, ["model.ckpt*.index", "*.index"], "TF checkpoint"), key=step)
    return index[:-len(".index")]


def read_tf1(directory):
    """Read a google-research/albert checkpoint directory."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: not a directory")
    try:
        import tensorflow as tf
    except ImportError:
        raise CheckpointError("reading a TF checkpoint needs TensorFlow: "
                              "pip install 'albert-tf[tensorflow]'") from None
    config_path = _find(directory, ["albert_config.json", "config.json"], "ALBERT config")[0]
    # Google's "gelu" is the tanh approximation (albert/modeling.py).
    config = backbone_kwargs(read_json(config_path, "ALBERT config"), config_path,
                             gelu_means_tanh=True)
    prefix = _checkpoint_prefix(directory)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as error:  # tf raises DataLossError/NotFoundError/...
        raise CheckpointError(f"{prefix}: unreadable TF checkpoint: {error}") from None
    available = reader.get_variable_to_shape_map()
    weights, names = {}, name_map(config["num_groups"], config["num_inner_repetitions"])
    for google, reference in names.items():
        # TF-Hub exports prefix variables with "module/".
        for candidate in (google, "module/" + google):
            if candidate in available:
                value = np.asarray(reader.get_tensor(candidate), "float32")
                weights[reference] = value.T if google.endswith("output_weights") else value
                break
    missing = [g for g, r in names.items() if r not in weights and g.startswith("bert/")]
    if missing:
        raise CheckpointError(f"{prefix}: missing tensor {missing[0]!r}"
                              + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    spiece = _find(directory, ["30k-clean.model", "*.model"], "SentencePiece model")[0]
    with open(spiece, "rb") as f:
        # Google's preprocess_text: lower-case, strip accents, `` and '' -> ".
        tokenizer = AlbertTokenizer(f.read(), lowercase=True, strip_accents=True,
                                    replace_quotes=True)
    files = [config_path, spiece, prefix + ".index",
             *sorted(glob.glob(prefix + ".data-*"))]
    return Checkpoint(
        config=config, weights=weights, tokenizer=tokenizer,
        source={"format": "tf1", "path": recorded_path(directory),
                "checkpoint": os.path.basename(prefix),
                "files": {os.path.basename(p): sha256_file(p) for p in files}})
