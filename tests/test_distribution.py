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


def _free_address():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def _start_processes(data_dir, out, count=2, examples=12):
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)
    address = _free_address()
    return address, [subprocess.Popen(
        [sys.executable, "-m", "tests.data_parallel_worker", "process", str(data_dir), str(out),
         address, str(count), str(i), str(examples)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(count)]


@pytest.fixture(scope="module")
def process_data(data_files, tmp_path_factory):
    """The fixture data and one tokenizer every process reads."""
    import shutil

    from albert_tf.text.data import load_examples
    from albert_tf.text.tokenizer import AlbertTokenizer

    root = tmp_path_factory.mktemp("process-data")
    for name in ("train.tsv", "dev.tsv"):
        shutil.copy(data_files / name, root / name)
    texts = load_examples(root / "train.tsv").texts
    AlbertTokenizer.train(texts, vocab_size=200, seed=0).save(root / "tokenizer")
    return root


def test_two_jax_processes_train_as_one_with_the_same_global_batch(process_data, tmp_path):
    """Two processes on 127.0.0.1, each feeding half of every batch of 12, end
    with the weights of one process fed whole batches; only process 0 writes."""
    pytest.importorskip("jax")
    single_out, group_out = tmp_path / "single", tmp_path / "group"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    one = subprocess.run([sys.executable, "-c",
                          "import sys; from tests.data_parallel_worker import main; "
                          "main('process', sys.argv[1], sys.argv[2], None, None, None, '24')",
                          str(process_data), str(single_out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    _, processes = _start_processes(process_data, group_out, examples=24)
    results = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, results):
        assert process.returncode == 0, stderr[-3000:]
    single, group = albert_tf.load(single_out), albert_tf.load(group_out)
    worst = max(float(np.abs(a - b).max()) for a, b in
                zip(single.model.get_weights(), group.model.get_weights()))
    print(f"two processes vs one, one epoch of 2 steps: max abs weight difference {worst:.1e}")
    assert worst <= 1e-5
    assert group.config["training"]["replicas"] == 2
    assert "coordinator" not in group.config["training"]  # how it ran is not the model
    # One model directory, no work directory left, nothing from process 1.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group", "single"]


def test_a_dead_peer_ends_the_others_with_one_line(process_data, tmp_path):
    """Process 1 is killed mid-epoch: process 0 exits 1 at once, naming the
    coordinator, and writes no model directory."""
    import signal
    import time

    import shutil

    pytest.importorskip("jax")
    data = tmp_path / "data"  # the fixture's rows 200 times: an epoch long enough to die in
    shutil.copytree(process_data, data)
    header, *rows = (process_data / "train.tsv").read_text().splitlines(keepends=True)
    (data / "train.tsv").write_text(header + "".join(rows * 200))
    out = tmp_path / "group"
    address, processes = _start_processes(data, out, examples=len(rows) * 200)
    backup = tmp_path / "group.training" / "backup"  # written after every batch: it trains
    deadline = time.time() + 300
    while not backup.exists() and time.time() < deadline and processes[0].poll() is None:
        time.sleep(0.2)
    assert backup.exists(), processes[0].communicate(timeout=60)[1][-3000:]
    processes[1].send_signal(signal.SIGKILL)
    killed = time.time()
    _, stderr = processes[0].communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.strip()]
    print(f"process 0 exited {processes[0].returncode} {time.time() - killed:.1f} s after "
          f"its peer was killed: {lines[-1]}")
    assert processes[0].returncode == 1
    assert f"process 0 of 2 (coordinator {address}): a peer process stopped" in lines[-1]
    assert "Check failure stack trace" not in stderr
    assert not out.exists()
    processes[1].wait()


def test_process_options_are_checked_before_any_work(tmp_path):
    from albert_tf.errors import AlbertTfError
    from albert_tf.training.distribution import ProcessGroup

    assert ProcessGroup.resolve() is None or os.environ.get("JAX_COORDINATOR_ADDRESS")
    env = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:1234",
           "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1"}
    assert ProcessGroup.resolve(environ=env) == ProcessGroup("10.0.0.1:1234", 2, 1)
    assert ProcessGroup.resolve("h:1", 1, 0, environ={}) is None  # one process
    cases = [(dict(coordinator="h:1"), "missing num_processes, process_id"),
             (dict(coordinator="h:1", num_processes=2, process_id=2),
              "process_id must be in [0, 1] for 2 processes, got 2"),
             (dict(coordinator="host", num_processes=2, process_id=0),
              "coordinator must be HOST:PORT, got 'host'")]
    for options, message in cases:
        with pytest.raises(AlbertTfError, match=message.replace("[", "\\[").replace("]", "\\]")):
            ProcessGroup.resolve(environ={}, **options)
    (tmp_path / "t.tsv").write_text("sentence\tlabel\ngood\t1\n")
    with pytest.raises(AlbertTfError, match="add data_parallel=True"):
        albert_tf.train(train=str(tmp_path / "t.tsv"), out=str(tmp_path / "o"),
                        coordinator="h:1", num_processes=2, process_id=0)
