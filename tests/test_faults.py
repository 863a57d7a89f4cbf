"""Interrupted writes (issue 14, items 4 and 5): a real SIGKILL at a known
point of the final save, a full disk, a read-only location."""

import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import albert_tf
from albert_tf.errors import ModelDirError
from albert_tf.artifacts.manifest import AtomicDirectory
from tests.helpers import fast_train_kwargs


def _train_cli(data_files, out, *extra, env=None):
    kwargs = fast_train_kwargs(data_files, out, epochs=2, max_train_examples=64)
    args = ["train", "--train", kwargs["train"], "--eval", kwargs["eval"], "--out", str(out),
            "--preset", "tiny", "--vocab-size", str(kwargs["vocab_size"]),
            "--max-length", "32", "--batch-size", "16", "--epochs", "2",
            "--max-train-examples", "64", "--learning-rate", "3e-3", *extra]
    return subprocess.run([sys.executable, "-m", "albert_tf.apps.cli", *args],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_files):
    """The uninterrupted run both kill points are compared with (trained once)."""
    out = tmp_path_factory.mktemp("faults") / "reference"
    run = _train_cli(data_files, out)
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.parametrize("point", ["before_rename", "between_renames"])
def test_a_kill_during_the_final_save_leaves_nothing_and_resume_finishes(tmp_path, data_files,
                                                                        reference, point):
    """SIGKILL while the model directory is moved into place: nothing at the
    path, and --resume writes the model without training again."""
    out = tmp_path / "model"
    killed = _train_cli(data_files, out, env={"ALBERT_TF_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL
    assert not out.exists()
    resumed = _train_cli(data_files, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    model, expected = albert_tf.load(out), albert_tf.load(reference)
    for ours, theirs in zip(model.model.get_weights(), expected.model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert not (tmp_path / "model.training").exists()
    # Every epoch had finished: the resumed run restored them and trained none
    # (so it has no per-epoch history to write; the reference has two epochs).
    assert not (out / "history.json").exists()
    assert len(json.loads((reference / "history.json").read_text())["loss"]) == 2


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES],
                         ids=["disk-full", "read-only", "forbidden"])
def test_a_write_that_fails_leaves_nothing_and_says_why_in_one_line(tmp_path, code):
    with pytest.raises(ModelDirError, match=f"cannot write it \\({os.strerror(code)}\\)"):
        with AtomicDirectory(tmp_path / "model") as tmp:
            with open(os.path.join(tmp, "weights.h5"), "wb") as f:
                f.write(b"x" * 1000)
            raise OSError(code, os.strerror(code))
    assert os.listdir(tmp_path) == []


def test_an_unwritable_parent_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ModelDirError, match="cannot write it"):
        with AtomicDirectory(blocker / "model"):
            pass
