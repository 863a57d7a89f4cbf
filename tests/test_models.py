import re

import keras
import numpy as np
import pytest

from albert_tf.models import (
    PRESETS,
    AlbertBackbone,
    AlbertClassifier,
    AlbertPretrainer,
    count_parameters,
    preset_config,
)
from albert_tf.models import presets as presets_module
from tests.helpers import MICRO_MODEL, micro_backbone, random_inputs


def test_outputs_and_shapes():
    backbone = micro_backbone()
    out = backbone(random_inputs(batch=3, length=16))
    assert out["sequence_output"].shape == (3, 16, 32)
    assert out["pooled_output"].shape == (3, 32)
    assert np.abs(np.asarray(out["pooled_output"])).max() <= 1.0  # tanh


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_parameter_counts_match_docstring(name):
    expected = count_parameters(**preset_config(name))
    row = re.search(rf"\| {name}\s.*\| ([\d.]+)M\s*\|", presets_module.__doc__)
    assert row and float(row.group(1)) == round(expected / 1e6, 1)


def test_count_parameters_matches_a_built_model():
    config = dict(vocabulary_size=300, **MICRO_MODEL, num_groups=2, num_inner_repetitions=2)
    config["num_layers"] = 4
    assert AlbertBackbone(**config).count_params() == count_parameters(**config)


def test_cross_layer_sharing():
    shallow = micro_backbone(num_layers=1)
    deep = micro_backbone(num_layers=6)
    assert shallow.count_params() == deep.count_params()
    grouped = micro_backbone(num_layers=4, num_groups=2, num_inner_repetitions=3)
    names = {w.path.split("/")[0] for w in grouped.weights if "inner_layer" in w.path}
    assert names == {f"group_{g}_inner_layer_{i}" for g in range(2) for i in range(3)}
    # Depth changes the function even though the weights are the same set.
    inputs = random_inputs()
    deep.set_weights(shallow.get_weights())
    assert not np.allclose(shallow(inputs)["pooled_output"], deep(inputs)["pooled_output"])


def test_untied_backbone_answers_as_the_tied_one():
    """Each new group starts as the old group that served its calls: same outputs,
    more weights; a group count the calls do not divide is refused by value."""
    grouped = micro_backbone(num_layers=4, num_groups=2)
    untied = grouped.untied(4)
    inputs = random_inputs()
    np.testing.assert_allclose(untied(inputs)["sequence_output"],
                               grouped(inputs)["sequence_output"], atol=1e-6)
    assert untied.num_groups == 4 and untied.count_params() > grouped.count_params()
    # Calls 2-3 were group 1's: new groups 2 and 3 start as it, not as group 0.
    np.testing.assert_allclose(untied.transformer_groups[3][0].get_weights()[0],
                               grouped.transformer_groups[1][0].get_weights()[0])
    with pytest.raises(ValueError, match=r"num_groups=3"):
        grouped.untied(3)


def test_padding_does_not_change_real_token_outputs():
    backbone = micro_backbone()
    inputs = random_inputs(batch=1, length=8, pairs=False)
    padded = {k: np.pad(v, ((0, 0), (0, 8))) for k, v in inputs.items()}
    short = backbone(inputs)
    long = backbone(padded)
    real = inputs["padding_mask"][0].sum()
    np.testing.assert_allclose(short["sequence_output"][0, :real],
                               long["sequence_output"][0, :real], atol=1e-5)
    np.testing.assert_allclose(short["pooled_output"], long["pooled_output"], atol=1e-5)


def test_serialization_round_trips(tmp_path):
    classifier = AlbertClassifier(micro_backbone(num_groups=2, num_layers=2), num_classes=3)
    inputs = random_inputs()
    restored = AlbertClassifier.from_config(classifier.get_config())
    assert restored.get_config() == classifier.get_config()
    classifier.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, AlbertClassifier) and isinstance(loaded.backbone, AlbertBackbone)
    np.testing.assert_allclose(loaded(inputs), classifier(inputs), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_layers=3, num_groups=2), r"num_layers=3, num_groups=2"),
    (dict(hidden_dim=30, num_heads=4), r"hidden_dim=30, num_heads=4"),
    (dict(num_layers=0), r"num_layers=0"),
    (dict(dropout=1.5), r"dropout=1.5"),
    (dict(vocabulary_size=-1), r"vocabulary_size=-1"),
])
def test_bad_arguments_fail_early_repeating_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        micro_backbone(**kwargs)


def test_classifier_rejects_bad_head_arguments():
    with pytest.raises(ValueError, match="num_classes=0"):
        AlbertClassifier(micro_backbone(), num_classes=0)
    with pytest.raises(ValueError, match="activation='relu'"):
        AlbertClassifier(micro_backbone(), num_classes=2, activation="relu")


def _all_layers(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not isinstance(layer, keras.layers.InputLayer):  # no computation
            yield layer


@pytest.mark.parametrize("policy, compute", [
    ("float32", "float32"), ("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_dtype_policy_of_every_sublayer(policy, compute):
    classifier = AlbertClassifier(micro_backbone(dtype=policy), num_classes=2)
    layers = list(_all_layers(classifier))
    assert len(layers) > 20
    for layer in layers:
        expected = "float32" if layer.name == "logits" else compute
        assert layer.compute_dtype == expected, (layer.path, layer.compute_dtype)
        assert layer.variable_dtype == "float32", (layer.path, layer.variable_dtype)
    assert all(w.dtype == "float32" for w in classifier.weights)
    logits = classifier(random_inputs())
    assert logits.dtype == "float32"
    hidden = classifier.backbone(random_inputs())["sequence_output"]
    assert keras.backend.standardize_dtype(hidden.dtype) == compute


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_scales_loss_only_for_float16(policy):
    classifier = AlbertClassifier(micro_backbone(dtype=policy), num_classes=2)
    classifier.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    scaled = isinstance(classifier.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    losses = [classifier.train_on_batch(random_inputs(), np.array([0, 1, 0]))
              for _ in range(10)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_pretrainer_heads():
    backbone = micro_backbone()
    pretrainer = AlbertPretrainer(backbone)
    inputs = {**random_inputs(), "mask_positions": np.array([[1, 2], [3, 4], [1, 1]], "int32")}
    out = pretrainer(inputs)
    assert out["mlm_logits"].shape == (3, 2, 200) and out["sop_logits"].shape == (3, 2)
    # The MLM decoder is tied to the token embedding, not a second copy.
    assert pretrainer.count_params() == backbone.count_params() + (
        16 * 32 + 16) + 2 * 16 + 200 + (32 * 2 + 2)
    pretrainer.compile("adam", loss={
        "mlm_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "sop_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    targets = {"mlm_logits": np.array([[5, 6], [7, 8], [9, 9]]), "sop_logits": np.array([0, 1, 0])}
    first = pretrainer.train_on_batch(inputs, targets)
    for _ in range(15):
        last = pretrainer.train_on_batch(inputs, targets)
    assert np.ravel(last)[0] < np.ravel(first)[0]


def test_attention_is_a_layer_of_its_own():
    from albert_tf.models import AlbertAttention, AttentionMask

    attention = AlbertAttention(num_heads=2, name="attention")
    x = np.random.default_rng(0).normal(size=(1, 4, 16)).astype("float32")
    mask = AttentionMask()(np.array([[1, 1, 1, 0]]))
    out = np.asarray(attention(x, mask))
    assert out.shape == (1, 4, 16)
    # The padded key is invisible: changing its vector moves no real position.
    changed = x.copy()
    changed[0, 3] += 5.0
    np.testing.assert_allclose(np.asarray(attention(changed, mask))[0, :3], out[0, :3],
                               atol=1e-5)
    restored = AlbertAttention.from_config(attention.get_config())
    assert restored.get_config() == attention.get_config()
    with pytest.raises(ValueError, match="num_heads=0"):
        AlbertAttention(num_heads=0)
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        AlbertAttention(num_heads=3)(x, mask)


def test_attention_can_be_swapped_in_the_encoder_block():
    """The block builds `attention_class`; an additive-mask attention (the
    textbook form) computes the same function as the kit's renormalization."""
    from keras import ops

    from albert_tf.models import AlbertAttention, AlbertTransformerLayer, AttentionMask

    class AdditiveMaskAttention(AlbertAttention):
        @staticmethod
        def masked_softmax(scores, attention_mask):
            bias = (1.0 - ops.cast(attention_mask, "float32")) * -1e9
            return ops.softmax(ops.cast(scores, "float32") + bias, axis=-1)

    class AdditiveBlock(AlbertTransformerLayer):
        attention_class = AdditiveMaskAttention

    x = np.random.default_rng(1).normal(size=(2, 5, 16)).astype("float32")
    mask = AttentionMask()(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]))
    ours, theirs = AlbertTransformerLayer(2, 32), AdditiveBlock(2, 32)
    ours(x, mask), theirs(x, mask)
    theirs.set_weights(ours.get_weights())
    assert isinstance(theirs.self_attention, AdditiveMaskAttention)
    np.testing.assert_allclose(np.asarray(theirs(x, mask))[0, :3],
                               np.asarray(ours(x, mask))[0, :3], atol=1e-5)
    np.testing.assert_allclose(np.asarray(theirs(x, mask))[1], np.asarray(ours(x, mask))[1],
                               atol=1e-5)


def test_weight_files_keep_the_block_level_attention_paths(tmp_path):
    """Keras saves by attribute path: `qkv` and `attention_output` must stay
    block-level paths, as in model directories written before attention was
    its own layer (so those still load)."""
    import h5py

    classifier = AlbertClassifier(micro_backbone(), num_classes=2)
    classifier.save_weights(tmp_path / "w.weights.h5")
    paths = []
    with h5py.File(tmp_path / "w.weights.h5") as f:
        f.visit(paths.append)
    with_vars = {p.rsplit("/", 2)[-2] for p in paths
                 if p.endswith("/vars") and "transformer_layer" in p}
    assert {"qkv", "attention_output", "ffn", "ffn_output"} <= with_vars
    assert not any("self_attention/qkv" in p or "self_attention/attention_output" in p
                   for p in paths)
