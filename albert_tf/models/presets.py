"""Named ALBERT shapes. Parameter counts are for a 30,000-piece vocabulary.

| preset | layers | H    | E   | heads | FFN  | parameters |
|--------|--------|------|-----|-------|------|------------|
| tiny   | 4      | 128  | 64  | 2     | 512  | 2.2M       |
| small  | 6      | 256  | 128 | 4     | 1024 | 4.8M       |
| base   | 12     | 768  | 128 | 12    | 3072 | 11.7M      |
| large  | 24     | 1024 | 128 | 16    | 4096 | 17.7M      |

`base` and `large` are the shapes of Google's ALBERT-base/large (v2); every
preset shares one transformer layer across all calls (`num_groups=1`), so
depth costs compute but not parameters. Any other shape: pass kwargs.
"""

PRESETS = {
    "tiny": dict(num_layers=4, hidden_dim=128, embedding_dim=64, num_heads=2,
                 intermediate_dim=512),
    "small": dict(num_layers=6, hidden_dim=256, embedding_dim=128, num_heads=4,
                  intermediate_dim=1024),
    "base": dict(num_layers=12, hidden_dim=768, embedding_dim=128, num_heads=12,
                 intermediate_dim=3072),
    "large": dict(num_layers=24, hidden_dim=1024, embedding_dim=128, num_heads=16,
                  intermediate_dim=4096),
}
DEFAULTS = dict(vocabulary_size=30000, num_groups=1, num_inner_repetitions=1,
                dropout=0.1, max_sequence_length=512, num_segments=2)


def preset_config(preset, **overrides):
    """Backbone kwargs of a preset, with `overrides` applied on top."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return {**DEFAULTS, **PRESETS[preset], **overrides}


def count_parameters(vocabulary_size, num_layers, hidden_dim, embedding_dim,
                     intermediate_dim, num_groups=1, num_inner_repetitions=1,
                     max_sequence_length=512, num_segments=2, **_):
    """Weights of an `AlbertBackbone` (pooler included), without building it."""
    H, E, F = hidden_dim, embedding_dim, intermediate_dim
    embeddings = (vocabulary_size + max_sequence_length + num_segments) * E + 2 * E + E * H + H
    layer = (H * 3 * H + 3 * H) + (H * H + H) + (H * F + F) + (F * H + H) + 4 * H
    return embeddings + num_groups * num_inner_repetitions * layer + H * H + H


# Pretrained weights come from the layer above this one (`albert_tf.artifacts`
# reads directories, checkpoints and keras-hub presets), so the models layer
# never imports it: whoever can load registers here, as keras-hub's preset
# loaders do, and `AlbertBackbone.from_preset` asks. `albert_tf/__init__.py`
# (the package root, above both layers) registers the artifacts loader.
_PRESET_LOADERS = []


def register_preset_loader(loader):
    """`loader(preset, dtype) -> AlbertBackbone`, used by `AlbertBackbone.from_preset`."""
    _PRESET_LOADERS.append(loader)


def preset_loader():
    if not _PRESET_LOADERS:
        raise RuntimeError("no preset loader is registered (import albert_tf first)")
    return _PRESET_LOADERS[-1]

