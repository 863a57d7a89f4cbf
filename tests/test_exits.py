"""Exit heads (early exit on ALBERT's shared layer): the model, the loss, training."""

import numpy as np
import pytest

import albert_tf
from albert_tf.models.tasks import AlbertClassifier, build_classifier
from albert_tf.training.exits import ExitLoss, depth_weights
from tests.helpers import MICRO_MODEL, fast_train_kwargs

THREE_CALLS = {**MICRO_MODEL, "num_layers": 3}
BATCH = {"token_ids": np.array([[2, 15, 27, 9, 3], [2, 40, 3, 0, 0]], "int32"),
         "segment_ids": np.zeros((2, 5), "int32"),
         "padding_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], "int32")}


def test_exits_off_is_the_ordinary_classifier_and_on_adds_only_heads():
    plain = build_classifier("tiny", 2, vocabulary_size=100, **THREE_CALLS)
    per_call = build_classifier("tiny", 2, exit_heads="per_call", vocabulary_size=100,
                                **THREE_CALLS)
    shared = build_classifier("tiny", 2, exit_heads="shared", vocabulary_size=100,
                              **THREE_CALLS)
    assert plain.get_config()["exit_heads"] is None and plain.num_exits == 0
    names = [w.path for w in plain.weights]
    assert [w.path for w in shared.weights] == names  # one head shared: nothing new
    extra = [w.path for w in per_call.weights if w.path not in names]
    assert extra == ["exit_0_logits/kernel", "exit_0_logits/bias",
                     "exit_1_logits/kernel", "exit_1_logits/bias"]
    with pytest.raises(ValueError, match="no exit heads"):
        plain.exit_model()
    for model in (per_call, shared):
        exits = np.asarray(model.exit_model()(BATCH))
        assert exits.shape == (2, 3, 2)
        # The last exit is the model's own output: exits change nothing it answers.
        np.testing.assert_allclose(exits[:, -1], np.asarray(model(BATCH)), atol=1e-6)
    assert np.abs(np.asarray(per_call.exit_model()(BATCH))[:, 0]
                  - np.asarray(per_call.exit_model()(BATCH))[:, 1]).max() > 1e-4


def test_exit_heads_save_and_load_and_bad_values_fail_early(tmp_path):
    model = build_classifier("tiny", 3, exit_heads="per_call", vocabulary_size=100,
                             **THREE_CALLS)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    again = AlbertClassifier.from_config(model.get_config())
    again.load_weights(path)
    np.testing.assert_array_equal(np.asarray(again.exit_model()(BATCH)),
                                  np.asarray(model.exit_model()(BATCH)))
    with pytest.raises(ValueError, match="exit_heads='every'"):
        AlbertClassifier(model.backbone, 2, exit_heads="every")
    with pytest.raises(ValueError, match="single-label"):
        AlbertClassifier(model.backbone, 2, exit_heads="shared", multi_label=True)


def test_exit_loss_is_pabees_depth_weighted_mean():
    import keras

    base = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = np.array([[[0.0, 1.0], [2.0, 0.0], [0.5, 0.5]]], "float32")  # 1 row, 3 exits
    y = np.array([1])
    per_exit = [float(base(y, logits[:, i])) for i in range(3)]
    expected = (1 * per_exit[0] + 2 * per_exit[1] + 3 * per_exit[2]) / 6
    assert depth_weights(3) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert float(ExitLoss(base, 3)(y, logits)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="num_exits must be an int >= 1, got 0"):
        ExitLoss(base, 0)


@pytest.fixture(scope="module")
def exit_model_dir(tmp_path_factory, data_files):
    out = tmp_path_factory.mktemp("exits") / "model"
    albert_tf.train(**fast_train_kwargs(data_files, out, exit_heads="per_call",
                                        model_overrides=dict(THREE_CALLS)))
    return out


def test_training_with_exit_heads_trains_every_exit(exit_model_dir, data_files):
    model = albert_tf.load(str(exit_model_dir))
    assert model.model.exit_heads == "per_call"
    metrics = model.metadata["eval_metrics"]
    assert len(metrics["exit_accuracy"]) == 3
    assert metrics["exit_accuracy"][-1] == pytest.approx(metrics["accuracy"], abs=1e-4)
    # An untrained head would be at chance (~0.5): the second of three calls already
    # answers the easy task; the first, after one layer call, is weaker.
    assert metrics["exit_accuracy"][1] > 0.8 and metrics["exit_accuracy"][0] > 0.5
    texts = albert_tf.load_examples(str(data_files / "dev.tsv")).texts[:20]
    exits = model.exit_proba(texts)
    assert exits.shape == (20, 3, 2)
    np.testing.assert_allclose(exits[:, -1], model.predict_proba(texts), atol=1e-6)


def test_new_exit_heads_on_a_trained_model_start_from_its_head(tmp_path, data_files,
                                                                trained_dir):
    from albert_tf.training.finetune import build_model
    from albert_tf.training.config import TrainConfig

    init = albert_tf.load(str(trained_dir))
    config = TrainConfig(**fast_train_kwargs(data_files, tmp_path / "m", init=str(trained_dir),
                                             exit_heads="shared"))
    model = build_model(config.validate(), init.tokenizer.vocab_size, init.labels)
    assert model.exit_heads == "shared"
    for got, want in zip(model.get_weights(), init.model.get_weights()):
        np.testing.assert_array_equal(got, want)  # the same weights, heads included
    with pytest.raises(albert_tf.AlbertTfError, match="unknown exit_heads 'all'"):
        TrainConfig(**fast_train_kwargs(data_files, tmp_path / "n", exit_heads="all")).validate()


def test_exit_heads_only_trains_exits_beside_a_frozen_model(tmp_path, data_files,
                                                           trained_dir):
    """DeeBERT's second stage: the init's answers stay to the bit, the exits learn."""
    from albert_tf.training.config import TrainConfig

    init = albert_tf.load(str(trained_dir))
    model = albert_tf.train(**fast_train_kwargs(
        data_files, tmp_path / "m", init=str(trained_dir), exit_heads="per_call",
        exit_heads_only=True, epochs=2, learning_rate=1e-2))
    texts = albert_tf.load_examples(str(data_files / "dev.tsv")).texts[:30]
    np.testing.assert_array_equal(model.predict_proba(texts), init.predict_proba(texts))
    frozen = {w.path: w for w in init.model.weights}
    for weight in model.model.backbone.weights + model.model.output_dense.weights:
        np.testing.assert_array_equal(weight.numpy(), frozen[weight.path].numpy())
    metrics = model.metadata["eval_metrics"]
    assert metrics["exit_accuracy"][-1] == pytest.approx(init.metadata["eval_metrics"]
                                                         ["accuracy"], abs=1e-6)
    assert metrics["exit_accuracy"][0] > 0.6  # the first call's head learnt (chance: ~0.5)
    # The freeze was the run's: the directory trains whole as the next run's init.
    reloaded = albert_tf.load(str(tmp_path / "m"))
    assert reloaded.model.backbone.trainable and reloaded.model.output_dense.trainable
    for bad, message in ((dict(exit_heads="shared"), "a shared head is the model's own"),
                         (dict(exit_heads="per_call", init=None), "init= a model directory")):
        with pytest.raises(albert_tf.AlbertTfError, match=message):
            TrainConfig(**fast_train_kwargs(data_files, tmp_path / "x", exit_heads_only=True,
                                            **{"init": str(trained_dir), **bad})).validate()
