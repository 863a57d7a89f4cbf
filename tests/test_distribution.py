"""Data-parallel fine-tuning equals single-device training with the same global batch."""

import os
import subprocess
import sys

import numpy as np
import pytest

import albert_tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(backend, mode, data_files, out):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if mode == "parallel":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    result = subprocess.run([sys.executable, "-m", "tests.data_parallel_worker", mode,
                             str(data_files), str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return albert_tf.load(out)


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_one_data_parallel_step_equals_one_single_device_step(tmp_path, data_files, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    single = _train(backend, "single", data_files, tmp_path / "single")
    parallel = _train(backend, "parallel", data_files, tmp_path / "parallel")
    assert parallel.config["training"]["replicas"] == 2
    assert single.config["training"]["replicas"] == 1
    worst = max(float(np.abs(a - b).max()) for a, b in
                zip(single.model.get_weights(), parallel.model.get_weights()))
    print(f"{backend}: max abs weight difference, 2 devices vs 1: {worst:.1e}")
    assert worst <= 1e-5
    # Padding rows never count: the eval metrics are those of the single run.
    assert parallel.metadata["eval_metrics"]["accuracy"] == \
        single.metadata["eval_metrics"]["accuracy"]


def test_batches_pad_rows_to_the_device_count():
    from albert_tf.training.batching import ClassificationBatches

    sequences = [([2, 7, 3], [0, 0, 0])] * 5
    batches = ClassificationBatches(sequences, [1, 0, 1, 0, 1], batch_size=5, row_multiple=2)
    inputs, labels, weights = batches[0]
    assert inputs["token_ids"].shape[0] == 6 and labels.shape == (6,)
    assert weights.tolist() == [1, 1, 1, 1, 1, 0]
    assert inputs["padding_mask"][5].sum() == 0
