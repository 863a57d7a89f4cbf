"""scripts/model_from_tflite.py: an export's .tflite file gives back its Keras model."""

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


def test_a_dynamic_int8_file_gives_back_weights_within_half_a_step(exported, trained_dir,
                                                                  data_files, tmp_path):
    from albert_tf.artifacts.model_dir import load

    from ai_edge_litert.interpreter import Interpreter

    export_dir, _ = exported
    # The file holds int8 kernels (so this reads them back through their scales).
    details = Interpreter(str(export_dir / "dynamic_int8.tflite")).get_tensor_details()
    assert sum(d["dtype"] == np.int8 and len(d["quantization_parameters"]["scales"]) > 1
               for d in details) >= 4
    int8_only = tmp_path / "dynamic-int8-only"
    shutil.copytree(export_dir, int8_only, ignore=shutil.ignore_patterns("float*"))
    out = tmp_path / "rebuilt"
    result = run_script(int8_only, "--out", out, "--texts", data_files / "dev.tsv")
    assert result.returncode == 0, result.stderr
    original, rebuilt = load(trained_dir), load(out)
    assert rebuilt.metadata["rebuilt_from_tflite"]["file"] == "dynamic_int8.tflite"
    for a, b in zip(original.model.weights, rebuilt.model.weights):
        a, b = np.asarray(a), np.asarray(b)
        # int8 with a scale of at most max|w| / 127 per tensor: rounding moves a
        # weight by half of that; kernels too small to quantize come back exact.
        assert np.abs(a - b).max() <= np.abs(a).max() / 127 / 2 + 1e-6, b
    texts = ["a gripping, funny film", "dull and lifeless"]
    np.testing.assert_allclose(rebuilt.predict_proba(texts), original.predict_proba(texts),
                               atol=0.05)


def test_an_export_without_a_file_to_read_weights_from_is_refused(exported, tmp_path):
    export_dir, _ = exported
    int8_only = tmp_path / "int8-only"
    shutil.copytree(export_dir, int8_only,
                    ignore=shutil.ignore_patterns("float*", "dynamic_int8*"))
    result = run_script(int8_only, "--out", tmp_path / "rebuilt")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "no float32.tflite, float16.tflite or dynamic_int8.tflite" in result.stderr
    assert not (tmp_path / "rebuilt").exists()
