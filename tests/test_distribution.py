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


MULTI_PROCESS = """
import os, sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                           process_id=int(sys.argv[2]), initialization_timeout=60)
from albert_tf.errors import AlbertTfError
from albert_tf.training.distribution import data_parallel
try:
    with data_parallel():
        print("trained")
except AlbertTfError as error:
    print(error)
"""


def test_two_jax_processes_are_refused_not_trained_twice():
    """Each process would feed a whole batch as its share: refused in one line."""
    pytest.importorskip("jax")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    processes = [subprocess.Popen([sys.executable, "-c", MULTI_PROCESS, address, str(i)],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip().splitlines()[-1] for p in processes]
    assert outputs == [f"data-parallel training runs in one process; this is process {i} of "
                       "2 (each would feed a whole batch as its share: every row counted once "
                       "per process). Train on one host's devices" for i in range(2)]
