"""`albert-tf average`: the mean of model directories' weights, checked before writing."""

import json

import numpy as np
import pytest

import albert_tf
from albert_tf.artifacts.averaging import average_model_dirs
from albert_tf.artifacts.model_dir import save_model_dir
from albert_tf.errors import ModelDirError
from albert_tf.text.data import LabelVocab, load_examples
from tests import helpers


@pytest.fixture(scope="module")
def continued_dir(trained_dir, data_files, tmp_path_factory):
    """`trained_dir` trained one more epoch, at another learning rate: a later checkpoint."""
    out = tmp_path_factory.mktemp("continued") / "model"
    albert_tf.train(**helpers.fast_train_kwargs(data_files, out, init=str(trained_dir),
                                                epochs=1, learning_rate=1e-3))
    return out


def test_average_is_the_mean_of_the_weights(trained_dir, continued_dir, data_files, tmp_path):
    dev = load_examples(data_files / "dev.tsv")
    soup = average_model_dirs([trained_dir, continued_dir], tmp_path / "soup", eval_examples=dev)
    first, second = albert_tf.load(trained_dir), albert_tf.load(continued_dir)
    pairs = list(zip(first.model.get_weights(), second.model.get_weights(),
                     soup.model.get_weights()))
    assert any(not np.array_equal(a, b) for a, b, _ in pairs)  # two different models
    for a, b, mean in pairs:
        np.testing.assert_allclose(mean, (a.astype(np.float64) + b) / 2, rtol=1e-6, atol=1e-7)
        assert mean.dtype == a.dtype

    meta = json.loads((tmp_path / "soup" / "metadata.json").read_text())
    sources = meta["averaged_from"]
    assert [s["path"] for s in sources] == [str(trained_dir), str(continued_dir)]
    assert all(len(s["weights_sha256"]) == 64 for s in sources)
    assert sources[0]["eval_accuracy"] == first.evaluate(dev)["accuracy"]
    assert meta["eval_metrics"]["accuracy"] == soup.evaluate(dev)["accuracy"] > 0.5
    assert soup.labels.names == first.labels.names and soup.max_length == first.max_length


def test_a_model_averaged_with_its_copy_answers_as_itself(trained_dir, tmp_path):
    import shutil

    copy = shutil.copytree(trained_dir, tmp_path / "copy")
    soup = average_model_dirs([trained_dir, copy], tmp_path / "soup")
    texts = ["A superb film.", "Dull and weak."]
    np.testing.assert_allclose(soup.predict_proba(texts),
                               albert_tf.load(trained_dir).predict_proba(texts), atol=1e-6)
    assert "accuracy" not in soup.metadata["eval_metrics"]  # no --eval, no figure


def _resaved(trained_dir, out, labels=None, num_layers=None, dropout=None):
    model = albert_tf.load(trained_dir, num_layers=num_layers, dropout=dropout)
    save_model_dir(out, model.model, model.tokenizer, labels or model.labels,
                   model.config["training"])
    return out


def test_models_that_differ_are_refused_and_nothing_is_written(trained_dir, tmp_path):
    other_labels = _resaved(trained_dir, tmp_path / "labels", labels=LabelVocab(["bad", "good"]))
    deeper = _resaved(trained_dir, tmp_path / "deeper", num_layers=4)
    for other, what in ((other_labels, "labels"), (deeper, "architecture")):
        with pytest.raises(ModelDirError, match=f"cannot average .*their {what}"):
            average_model_dirs([trained_dir, other], tmp_path / "soup")
    with pytest.raises(ModelDirError, match="at least two model directories, got 1"):
        average_model_dirs([trained_dir], tmp_path / "soup")
    with pytest.raises(ModelDirError, match="listed twice"):
        average_model_dirs([trained_dir, trained_dir], tmp_path / "soup")
    assert not (tmp_path / "soup").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []
    # Dropout acts only in training: models that differ only there average.
    wetter = _resaved(trained_dir, tmp_path / "wetter", dropout=0.3)
    assert average_model_dirs([trained_dir, wetter], tmp_path / "soup").labels.names
    # Nor does a frozen backbone (older exit-heads-only runs saved theirs frozen).
    frozen = albert_tf.load(trained_dir)
    frozen.model.backbone.trainable = False
    save_model_dir(tmp_path / "frozen", frozen.model, frozen.tokenizer, frozen.labels,
                   frozen.config["training"])
    assert average_model_dirs([trained_dir, tmp_path / "frozen"], tmp_path / "soup2").labels.names


def test_cli_average(trained_dir, continued_dir, data_files, tmp_path):
    out = tmp_path / "soup"
    result = helpers.run_cli("average", trained_dir, continued_dir, "--out", out,
                             "--eval", data_files / "dev.tsv")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["out"] == str(out) and 0.5 < report["eval_accuracy"] <= 1
    assert [s["path"] for s in report["sources"]] == [str(trained_dir), str(continued_dir)]
    again = helpers.run_cli("average", trained_dir, continued_dir, "--out", out)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip().splitlines()[-1] == (
        f"albert-tf average: error: {out} exists and is not empty; "
        "pass --overwrite")  # the flag alone on the command line
