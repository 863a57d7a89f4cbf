import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow_text", reason="export needs `pip install -e .[export]`")
pytest.importorskip("ai_edge_litert", reason="export needs `pip install -e .[export]`")

import albert_tf  # noqa: E402
from albert_tf.errors import AlbertTfError, ModelDirError  # noqa: E402
from albert_tf.export import ExportOptions, export_model  # noqa: E402
from albert_tf.export.parity import check  # noqa: E402
from albert_tf.export.recipes import RECIPES  # noqa: E402
from tests.helpers import VARIED, write_tsv  # noqa: E402


def test_export_directory_is_self_describing(exported):
    out, rows = exported
    meta = json.loads((out / "metadata.json").read_text())
    expected = {"float32.tflite", "float16.tflite", "dynamic_int8.tflite", "int8.tflite",
                "mediapipe_float32.tflite", "mediapipe_dynamic_int8.tflite", "labels.txt",
                "tokenizer/spiece.model", "parity.json", "parity.md",
                "saved_model/saved_model.pb", "README.md"}
    assert expected <= set(meta["files"])
    assert meta["labels"] == ["neg", "pos"] and meta["tflite_files"]["int8.tflite"]["recipe"] == "int8"
    assert meta["contract"]["tflite_inputs"] == ["token_ids", "segment_ids", "padding_mask"]
    assert {"tensorflow", "ai-edge-litert", "albert_tf"} <= set(meta["versions"])
    assert meta["tokenizer_sha256"] == meta["files"]["tokenizer/spiece.model"]["sha256"]
    # Provenance without the building machine's layout (the fixture lives outside
    # the project: its last two path components, and the manifest's hash).
    source = meta["source"]["model_dir"]
    assert not os.path.isabs(source) and source.endswith("sentiment")
    from albert_tf.artifacts.manifest import verify_manifest

    verify_manifest(str(out))
    report = json.loads((out / "parity.json").read_text())
    assert {r["file"] for r in report["formats"]} == set(rows)
    assert "| int8.tflite | int8 |" in (out / "parity.md").read_text()
    readme = (out / "README.md").read_text()  # how to load it: the SavedModel needs tf-text
    assert "import tensorflow_text" in readme and f'Classifier.load("{out}")' in readme


def test_parity_targets(exported):
    _, rows = exported
    assert rows["float32.tflite"]["max_abs_prob_diff"] <= 1e-4
    assert rows["mediapipe_float32.tflite"]["max_abs_prob_diff"] <= 1e-4
    assert rows["float16.tflite"]["max_abs_prob_diff"] <= 1e-2
    for row in rows.values():
        assert row["agreement"] >= 0.9 and row["finite"] and not row["failures"], row
    sizes = {name: row["size_bytes"] for name, row in rows.items()}
    assert sizes["int8.tflite"] < sizes["float16.tflite"] < sizes["float32.tflite"]


def test_only_builtin_ops(exported):
    from ai_edge_litert.interpreter import Interpreter

    out, _ = exported
    for name in ("float32.tflite", "int8.tflite", "mediapipe_float32.tflite"):
        interpreter = Interpreter(model_path=str(out / name))
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops


def test_saved_model_needs_no_kit_and_tokenizes_like_the_kit(exported, trained_dir):
    out, _ = exported
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
model = tf.saved_model.load({str(out / 'saved_model')!r})
texts = tf.constant({VARIED!r})
served = model.signatures["serving_default"](text=texts)
ids = model.signatures["tokenize"](text=texts)
assert "albert_tf" not in sys.modules
print(json.dumps({{"probabilities": served["probabilities"].numpy().tolist(),
                   "label": [x.decode() for x in served["label"].numpy()],
                   "truncated": served["truncated"].numpy().tolist(),
                   **{{k: v.numpy().tolist() for k, v in ids.items()}}}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    model = albert_tf.load(trained_dir)
    kit = model.tokenizer.encode(VARIED, max_length=model.max_length, pad_to_multiple_of=1)
    for key in ("token_ids", "segment_ids", "padding_mask"):
        assert np.array_equal(np.array(served[key]), kit[key]), key
    assert served["truncated"] == kit["truncated"].tolist() == [False] * 7 + [True]
    np.testing.assert_allclose(served["probabilities"], model.predict_proba(VARIED), atol=1e-5)
    # The SavedModel always names a label; the kit abstains on unreadable text
    # unless told to label everything (max_unknown=1).
    assert served["label"] == [p["label"] for p in model.predict(VARIED, max_unknown=1.0)]


def test_mediapipe_text_classifier_runs_the_file_unchanged(exported, trained_dir):
    pytest.importorskip("mediapipe", reason="needs `pip install mediapipe`")
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    out, _ = exported
    model = albert_tf.load(trained_dir)
    sentences = ["A superb and lovely film.", "The plot was awful and boring.",
                 "the cast was clever", "a dull story with a weak ending"]
    options = text.TextClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(out / "mediapipe_float32.tflite")))
    classifier = text.TextClassifier.create_from_options(options)
    try:
        for sentence, expected in zip(sentences, model.predict_proba(sentences)):
            categories = classifier.classify(sentence).classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            got = [scores[name] for name in model.labels.names]
            np.testing.assert_allclose(got, expected, atol=1e-3)
    finally:
        classifier.close()


def test_file_size_is_parameters_times_bytes_per_weight(tmp_path):
    """Six layer calls, one copy of the weights: bytes ≈ parameters x bytes/weight."""
    from albert_tf.export.graphs import write_ids_saved_model
    from albert_tf.export.tflite import convert
    from albert_tf.models import AlbertBackbone, AlbertClassifier

    backbone = AlbertBackbone(vocabulary_size=500, num_layers=6, num_heads=4,
                              embedding_dim=32, hidden_dim=128, intermediate_dim=512,
                              max_sequence_length=64)
    model = AlbertClassifier(backbone, num_classes=2, activation="softmax")
    write_ids_saved_model(model, str(tmp_path / "sm"))
    for recipe, low, high in (("float32", 1.0, 1.15), ("float16", 1.0, 1.35),
                              ("dynamic_int8", 1.0, 1.8)):
        # Per-op overhead (shapes, slice bounds, quantization scales) weighs
        # on a model this small; unrolled weights would give ~5.5x.
        blob, _ = convert(str(tmp_path / "sm"), RECIPES[recipe])
        ratio = len(blob) / (RECIPES[recipe].bytes_per_weight * model.count_params())
        assert low <= ratio < high, (recipe, ratio)  # unrolled, it would be ~5x


def _model_copy(trained_dir, tmp_path):
    return shutil.copytree(trained_dir, tmp_path / "model")


@pytest.mark.parametrize("change, message", [
    (dict(recipes=["float32", "int4"]), "unknown recipe 'int4'"),
    (dict(mediapipe_recipes=("float64",)), "unknown MediaPipe recipe 'float64'"),
    (dict(min_agreement=1.5), "min_agreement must be in"),
])
def test_bad_options_fail_before_conversion(trained_dir, tmp_path, data_files, change, message):
    options = ExportOptions(model_dir=str(trained_dir), out=str(tmp_path / "out"),
                            eval=str(data_files / "dev.tsv"))
    with pytest.raises(AlbertTfError, match=message):
        export_model(options, **change)
    assert not (tmp_path / "out").exists()


def test_bad_inputs_fail_before_conversion(trained_dir, tmp_path, data_files):
    out = str(tmp_path / "out")
    no_text = write_tsv(tmp_path / "cal.tsv", [("x", "pos")], ("words", "label"))
    with pytest.raises(AlbertTfError, match="cannot tell which column holds the text"):
        export_model(model_dir=str(trained_dir), out=out, calibration=str(no_text))
    unknown = write_tsv(tmp_path / "dev.tsv", [("great", "pos"), ("meh", "neutral")])
    with pytest.raises(AlbertTfError, match=r"dev.tsv:3: unknown label 'neutral'"):
        export_model(model_dir=str(trained_dir), out=out, eval=str(unknown))

    copy = _model_copy(trained_dir, tmp_path)
    with open(copy / "model.weights.h5", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelDirError, match="does not match its sha256"):
        export_model(model_dir=str(copy), out=out, eval=str(data_files / "dev.tsv"))
    assert not os.path.exists(out)


def test_label_names_rename_every_exported_file(trained_dir, tmp_path, data_files):
    from albert_tf.export import export_model
    from albert_tf.runtime import Classifier

    out = tmp_path / "named"
    export_model(model_dir=str(trained_dir), out=str(out), recipes=["dynamic_int8"],
                 mediapipe_recipes=("dynamic_int8",), eval=str(data_files / "dev.tsv"),
                 label_names="neg=negative,pos=positive")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["labels"] == ["negative", "positive"] and meta["original_labels"] == ["neg", "pos"]
    assert (out / "labels.txt").read_text().split() == ["negative", "positive"]
    assert meta["parity"][0]["accuracy"] > 0.8  # the eval file's "neg"/"pos" were renamed too
    assert Classifier.load(out).classify("A superb and lovely film.").label == "positive"
    mediapipe = Classifier.load(out / "mediapipe_dynamic_int8.tflite")
    assert mediapipe.labels == ["negative", "positive"]
    with pytest.raises(AlbertTfError, match=r"names \['good'\], which the model does not"):
        export_model(model_dir=str(trained_dir), out=str(tmp_path / "bad"),
                     recipes=["dynamic_int8"], eval=str(data_files / "dev.tsv"),
                     label_names="good=positive")
    assert not (tmp_path / "bad").exists()


def test_parity_check_flags_each_kind_of_miss():
    row = {"agreement": 0.97, "max_abs_prob_diff": 2e-4, "finite": True}
    assert check(row, RECIPES["dynamic_int8"], 0.99) == ["agreement 0.9700 < 0.99"]
    assert check(dict(row, agreement=1.0), RECIPES["float32"]) == [
        "max |Δp| 2.00e-04 > 0.0001"]
    assert check(dict(row, agreement=1.0, finite=False), RECIPES["int8"]) == [
        "non-finite probabilities"]


def test_cli_export_refuses_an_export_directory_naming_it(exported, tmp_path):
    from tests.helpers import run_cli

    result = run_cli("export", exported[0], "--out", tmp_path / "again")
    assert result.returncode == 1 and not result.stdout and "Traceback" not in result.stderr
    assert "is an export directory (from `albert-tf export`); expected a model directory" \
        in result.stderr
    assert not (tmp_path / "again").exists()


def test_cli_export_keeps_stdout_json_when_parity_fails(exported, trained_dir, tmp_path,
                                                        monkeypatch, capsys):
    """A miss prints the same JSON (passed: false, each format's failures) and exits 1."""
    from albert_tf.apps import cli
    from albert_tf.export import ParityError

    out = tmp_path / "export"
    out.mkdir()
    (out / "parity.md").write_text("| file | agreement |\n")
    rows = [dict(row, failures=["agreement 0.9700 < 0.99"] if row["file"] == "int8.tflite"
                 else []) for row in exported[1].values()]

    def missed(options):
        raise ParityError("parity targets missed: int8.tflite: agreement 0.9700 < 0.99", rows)

    monkeypatch.setattr("albert_tf.export.export_model", missed)
    assert cli.main(["export", str(trained_dir), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["passed"] is False and len(report["formats"]) == len(rows)
    assert [f["failures"] for f in report["formats"] if f["failures"]] == [
        ["agreement 0.9700 < 0.99"]]
    assert "| file | agreement |" in captured.err and "parity targets missed" in captured.err


SHORT = ["A superb film.", "dull and boring", "not bad at all", "the plot was awful",
         "lovely acting", "weak", "a gripping story"]


def test_answers_do_not_depend_on_how_far_a_batch_is_padded(exported):
    """A text's probabilities are the same padded to any length up to
    max_length, in every recipe (int8 once moved by 0.18 on the bundled model)."""
    from albert_tf.runtime import Classifier

    worst = {}
    for recipe in ("float32", "float16", "dynamic_int8", "int8"):
        classifier = Classifier.load(exported[0], recipe=recipe, num_threads=1)
        packed, _ = classifier.tokenizer.encode_unpadded(SHORT, max_length=classifier.max_length)
        fits = [p for p in packed if len(p[0]) <= 8]  # every padded length holds these
        assert len(fits) >= 3
        probabilities = []
        for length in range(8, classifier.max_length + 1, 8):
            out = classifier.runner.run(fits, classifier.max_length, pad_to=length)
            probabilities.append(out[classifier.runner.probability_output])
        probabilities = np.stack(probabilities)
        worst[recipe] = float(np.abs(probabilities - probabilities[0]).max())
    assert all(value <= 1e-2 for value in worst.values()), worst
