"""Hugging Face ALBERT checkpoints: `config.json`, safetensors or `pytorch_model.bin`, `spiece.model`.

Safetensors are read with `safetensors.numpy`, so importing the usual
format needs neither torch nor transformers; only a legacy
`pytorch_model.bin` needs torch (and is read with `weights_only=True`).
"""

import json
import os

import numpy as np

from albert_tf.checkpoints.configs import backbone_kwargs, hf_config, read_json
from albert_tf.checkpoints.layout import EMBEDDINGS, MLM, Checkpoint
from albert_tf.errors import CheckpointError
from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.text.tokenizer import AlbertTokenizer

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_BIN = "pytorch_model.bin"
# Saved by transformers but not weights of their own: the tied decoder
# (= word embeddings), its bias (= predictions.bias) and position-id buffers.
IGNORED = (MLM + "decoder.weight", MLM + "decoder.bias", EMBEDDINGS + "position_ids")


def _is_linear_weight(name):
    """torch.nn.Linear stores (out, in); embeddings and LayerNorm are not Linear."""
    return (name.endswith(".weight") and not name.startswith(EMBEDDINGS)
            and "LayerNorm" not in name and "layer_norm" not in name)


def _load_safetensors(paths):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise CheckpointError("reading model.safetensors needs `pip install safetensors`") from None
    tensors = {}
    for path in paths:
        try:
            tensors.update(load_file(path))
        except Exception as error:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: unreadable safetensors file: {error}") from None
    return tensors


def _load_torch_bin(path):
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"{path}: a pytorch_model.bin needs torch to read; convert it to "
                              "safetensors or `pip install torch`") from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.float().numpy() for k, v in state.items()}


def _weight_files(directory):
    index = os.path.join(directory, SAFETENSORS_INDEX)
    if os.path.isfile(index):
        shards = sorted(set(read_json(index, "shard index")["weight_map"].values()))
        return [os.path.join(directory, s) for s in shards], "safetensors"
    for name, kind in ((SAFETENSORS, "safetensors"), (TORCH_BIN, "torch")):
        if os.path.isfile(os.path.join(directory, name)):
            return [os.path.join(directory, name)], kind
    raise CheckpointError(f"{directory}: no {SAFETENSORS}, {SAFETENSORS_INDEX} or {TORCH_BIN}")


def to_reference(state):
    """A transformers ALBERT state dict (any head class) -> the reference layout."""
    weights = {}
    for name, value in state.items():
        name = name[len("albert."):] if name.startswith("albert.") else name
        if name in IGNORED:
            continue
        value = np.asarray(value, "float32")
        weights[name] = value.T if _is_linear_weight(name) and value.ndim == 2 else value
    return weights


def read_hf(directory):
    """Read a `save_pretrained` directory of `AlbertModel`/`AlbertForPreTraining`/... ."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: not a directory")
    config_path = os.path.join(directory, "config.json")
    config = read_json(config_path, "a Hugging Face model config")
    if config.get("model_type", "albert") != "albert":
        raise CheckpointError(f"{config_path}: model_type={config.get('model_type')!r}, "
                              "expected 'albert'")
    paths, kind = _weight_files(directory)
    state = _load_safetensors(paths) if kind == "safetensors" else _load_torch_bin(paths[0])
    spiece = os.path.join(directory, "spiece.model")
    if not os.path.isfile(spiece):
        raise CheckpointError(f"{directory}: no spiece.model (the SentencePiece model "
                              "`AlbertTokenizer.save_pretrained` writes)")
    options = {}
    if os.path.isfile(os.path.join(directory, "tokenizer_config.json")):
        options = read_json(os.path.join(directory, "tokenizer_config.json"), "tokenizer config")
    with open(spiece, "rb") as f:
        tokenizer = AlbertTokenizer(
            f.read(), lowercase=bool(options.get("do_lower_case", True)),
            strip_accents=not options.get("keep_accents", False), replace_quotes=True)
    files = [config_path, spiece, *paths]
    return Checkpoint(
        config=backbone_kwargs(config, config_path, gelu_means_tanh=False),
        weights=to_reference(state), tokenizer=tokenizer,
        source={"format": "hf", "path": recorded_path(directory),
                "files": {os.path.basename(p): sha256_file(p) for p in files}})


def write_hf(directory, backbone_config, weights, tokenizer):
    """Write an `AlbertForPreTraining` directory `transformers` loads with `from_pretrained`."""
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    state = {}
    for name, value in weights.items():
        value = value.T if _is_linear_weight(name) and value.ndim == 2 else value
        prefix = "" if name.startswith(("predictions.", "sop_classifier.")) else "albert."
        state[prefix + name] = np.ascontiguousarray(value, "float32")
    save_file(state, os.path.join(directory, SAFETENSORS), metadata={"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hf_config(backbone_config), f, indent=2)
    with open(os.path.join(directory, "spiece.model"), "wb") as f:
        f.write(tokenizer.model_proto)
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "AlbertTokenizer", "do_lower_case": tokenizer.lowercase,
                   "keep_accents": not tokenizer.strip_accents}, f, indent=2)
    return directory
