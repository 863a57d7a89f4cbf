import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from albert_tf.models import AlbertClassifier
from tests.helpers import fast_train_kwargs, micro_backbone, random_inputs, run_cli


@pytest.mark.parametrize("other_backend", ["jax", "torch"])
def test_same_weights_same_outputs_across_backends(tmp_path, other_backend):
    pytest.importorskip(other_backend)
    assert keras.backend.backend() == "tensorflow"
    classifier = AlbertClassifier(
        micro_backbone(num_layers=4, num_groups=2, num_inner_repetitions=2), num_classes=3)
    inputs = random_inputs(batch=3, length=24)
    (tmp_path / "config.json").write_text(json.dumps(classifier.get_config()))
    classifier.save_weights(tmp_path / "model.weights.h5")
    np.savez(tmp_path / "inputs.npz", **inputs)

    subprocess.run(
        [sys.executable, "-m", "tests.backend_worker", tmp_path / "config.json",
         tmp_path / "model.weights.h5", tmp_path / "inputs.npz", tmp_path / "out.npz"],
        check=True, cwd=os.path.dirname(os.path.dirname(__file__)),
        env={**os.environ, "KERAS_BACKEND": other_backend}, timeout=300)
    other = np.load(tmp_path / "out.npz")
    assert str(other["backend"]) == other_backend

    reference = classifier.backbone(inputs)
    mask = inputs["padding_mask"].astype(bool)
    seq_diff = np.abs(np.asarray(reference["sequence_output"])[mask]
                      - other["sequence_output"][mask]).max()
    pooled_diff = np.abs(np.asarray(reference["pooled_output"]) - other["pooled_output"]).max()
    logits_diff = np.abs(np.asarray(classifier(inputs)) - other["logits"]).max()
    print(f"TF vs {other_backend}: max abs diff sequence {seq_diff:.2e}, "
          f"pooled {pooled_diff:.2e}, logits {logits_diff:.2e}")
    assert max(seq_diff, pooled_diff, logits_diff) <= 1e-5


def test_the_cli_trains_on_the_torch_backend(tmp_path, data_files):
    # The functional models set their layers before `Model.__init__`, which torch's
    # Module refuses unless routed around (models.common.FunctionalModel).
    pytest.importorskip("torch")
    kwargs = fast_train_kwargs(data_files, tmp_path / "m", epochs=3)
    result = run_cli("train", "--backend", "torch", "--train", kwargs["train"], "--eval",
                     kwargs["eval"], "--out", kwargs["out"], "--preset", "tiny",
                     "--vocab-size", 200, "--max-length", 32, "--learning-rate", 3e-3,
                     "--epochs", 3, "--num-layers", 2, "--exit-heads", "per_call")
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]  # it learns (the tiny preset is slow to)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["exit_heads"] == "per_call"
    predicted = run_cli("predict", "--backend", "torch", kwargs["out"], "A superb film.")
    assert predicted.returncode == 0 and json.loads(predicted.stdout)["label"] in ("pos", "neg")


@pytest.mark.parametrize("run", ["keras", "train"])
def test_resume_with_dropout_is_exact_on_torch(tmp_path, data_files, run):
    """The backup holds torch's global generator too: a Dropout without a seed
    draws from it there (2.2e-3 away before it was saved, for the Keras model)."""
    pytest.importorskip("torch")
    args = [tmp_path] if run == "keras" else [data_files, tmp_path]
    done = subprocess.run(
        [sys.executable, "-m", "tests.resume_worker", run, *map(str, args)],
        capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
        env={**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "max |weight difference| 0"
