"""scripts/model_from_tflite.py: an export's float file gives back its Keras model."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="reads .tflite files with the runtime")

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "model_from_tflite.py")


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                          text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_the_float_file_gives_back_the_trained_weights(exported, trained_dir, data_files,
                                                      tmp_path):
    from albert_tf.artifacts.model_dir import load

    export_dir, _ = exported
    out = tmp_path / "rebuilt"
    result = run_script(export_dir, "--out", out, "--texts", data_files / "dev.tsv")
    assert result.returncode == 0, result.stderr
    original, rebuilt = load(trained_dir), load(out)
    assert [w.path for w in rebuilt.model.weights] == [w.path for w in original.model.weights]
    for a, b in zip(original.model.weights, rebuilt.model.weights):
        # float32.tflite is picked first: the weights come back bit for bit.
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert rebuilt.labels.names == original.labels.names
    assert rebuilt.config["max_length"] == original.config["max_length"]
    assert rebuilt.metadata["rebuilt_from_tflite"]["file"] == "float32.tflite"

    # An existing --out is never overwritten.
    again = run_script(export_dir, "--out", out, "--texts", data_files / "dev.tsv")
    assert again.returncode == 1 and again.stderr.count("\n") == 1, again.stderr


def test_an_export_without_a_float_file_is_refused(exported, tmp_path):
    export_dir, _ = exported
    int8_only = tmp_path / "int8-only"
    shutil.copytree(export_dir, int8_only,
                    ignore=shutil.ignore_patterns("float32*", "float16*"))
    result = run_script(int8_only, "--out", tmp_path / "rebuilt")
    assert result.returncode == 1
    assert "no float32.tflite or float16.tflite" in result.stderr
    assert not (tmp_path / "rebuilt").exists()
