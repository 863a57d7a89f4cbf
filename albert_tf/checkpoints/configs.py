"""ALBERT config files (Hugging Face `config.json`, Google `albert_config.json`) as backbone kwargs.

Both use Google's key names. They differ on one word: `hidden_act: "gelu"`
is the tanh approximation in Google's TF code but the erf form in PyTorch,
so each reader says which it means.
"""

import json
import os

from albert_tf.errors import CheckpointError

# Our kwarg: (their key, default when absent). Sizes have no default.
KEYS = {
    "vocabulary_size": ("vocab_size", None),
    "num_layers": ("num_hidden_layers", None),
    "num_heads": ("num_attention_heads", None),
    "embedding_dim": ("embedding_size", None),
    "hidden_dim": ("hidden_size", None),
    "intermediate_dim": ("intermediate_size", None),
    "num_groups": ("num_hidden_groups", 1),
    "num_inner_repetitions": ("inner_group_num", 1),
    "dropout": ("hidden_dropout_prob", 0.0),
    "max_sequence_length": ("max_position_embeddings", 512),
    "num_segments": ("type_vocab_size", 2),
}
APPROXIMATE_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


def read_json(path, what):
    if not os.path.isfile(path):
        raise CheckpointError(f"{os.path.dirname(path) or '.'}: no {os.path.basename(path)} "
                              f"({what})")
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return value


def backbone_kwargs(config, path, gelu_means_tanh):
    """`AlbertBackbone` kwargs from a Google/Hugging Face ALBERT config dict."""
    kwargs = {}
    for ours, (theirs, default) in KEYS.items():
        value = config.get(theirs, default)
        if value is None:
            raise CheckpointError(f"{path}: missing {theirs!r}")
        kwargs[ours] = value
    activation = config.get("hidden_act", "gelu_new")
    if activation == "gelu":
        kwargs["gelu_approximate"] = gelu_means_tanh
    elif activation in APPROXIMATE_GELU:
        kwargs["gelu_approximate"] = True
    else:
        raise CheckpointError(f"{path}: hidden_act={activation!r} is not supported "
                              f"(ALBERT uses gelu or gelu_new)")
    epsilon = float(config.get("layer_norm_eps", 1e-12))
    if abs(epsilon - 1e-12) > 1e-15:
        raise CheckpointError(f"{path}: layer_norm_eps={epsilon} differs from ALBERT's 1e-12, "
                              "which these layers use")
    kind = config.get("position_embedding_type", "absolute")
    if kind != "absolute":
        raise CheckpointError(f"{path}: position_embedding_type={kind!r} is not supported")
    return kwargs


def hf_config(backbone_config):
    """A Hugging Face `AlbertConfig` dict for backbone kwargs (the inverse)."""
    config = {theirs: backbone_config[ours] for ours, (theirs, _) in KEYS.items()}
    config.update({
        "architectures": ["AlbertForPreTraining"],
        "model_type": "albert",
        "attention_probs_dropout_prob": backbone_config["dropout"],
        "hidden_act": "gelu_new" if backbone_config.get("gelu_approximate", True) else "gelu",
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.02,
        "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3,
    })
    return config
