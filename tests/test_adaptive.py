"""Early exit end to end: exit heads -> the adaptive LiteRT file -> the runtime's
exit rules -> `classify --exit` and the demo."""

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow_text", reason="export needs `pip install -e .[export]`")
pytest.importorskip("ai_edge_litert", reason="export needs `pip install -e .[export]`")

import albert_tf  # noqa: E402
from albert_tf.runtime import Classifier  # noqa: E402
from albert_tf.runtime.adaptive import ExitRule, parse_exit_rule  # noqa: E402
from tests.helpers import VARIED, fast_train_kwargs, run_cli  # noqa: E402
from tests.test_exits import THREE_CALLS  # noqa: E402

TEXTS = ["A superb and lovely film.", "The plot was awful and boring.", "the cast was clever",
         "a dull story with a weak ending", "fine", *VARIED[:3]]


@pytest.fixture(scope="module", params=["per_call", "shared"])
def adaptive_export(request, tmp_path_factory, data_files):
    from albert_tf.export import export_model

    root = tmp_path_factory.mktemp(f"adaptive-{request.param}")
    albert_tf.train(**fast_train_kwargs(data_files, root / "model", exit_heads=request.param,
                                        model_overrides=dict(THREE_CALLS)))
    rows = export_model(model_dir=str(root / "model"), out=str(root / "export"),
                        recipes=["float32", "dynamic_int8", "int8"], mediapipe_recipes=(),
                        eval=str(data_files / "dev.tsv"),
                        calibration=str(data_files / "train.tsv"), min_agreement=0.9)
    return root, {row["file"]: row for row in rows}


def test_the_adaptive_file_is_the_model_with_exits_off_and_each_exit_with_calls(
        adaptive_export):
    root, rows = adaptive_export
    model = albert_tf.load(root / "model")
    meta = json.loads((root / "export" / "metadata.json").read_text())
    assert set(meta["adaptive_files"]) == {"adaptive_float32.tflite",
                                           "adaptive_dynamic_int8.tflite",
                                           "adaptive_int8.tflite"}
    assert "adaptive" not in meta  # no recipe left out
    assert "adaptive_float32.tflite" not in meta["tflite_files"]  # not a whole-model recipe
    row = rows["adaptive_float32.tflite"]
    assert row["max_abs_prob_diff"] <= 1e-5 and row["exit_agreement"] == [1.0, 1.0, 1.0]
    # int8: calibrated on each call's own hidden states, attention core and layer
    # norms kept in float as in the whole-model int8 file.
    assert min(rows["adaptive_int8.tflite"]["exit_agreement"]) >= 0.9
    for name in ("adaptive_float32.tflite", "adaptive_dynamic_int8.tflite",
                 "adaptive_int8.tflite"):
        # The shared layer is stored once: not bigger than the whole-model file (a copy
        # per call would be ~3x; this micro model's is smaller, its fixed overhead less).
        assert rows[name]["size_ratio"] <= 1.1 and not rows[name]["failures"], rows[name]

    whole = Classifier.load(root / "export", recipe="float32")
    off = Classifier.load(root / "export", recipe="float32", exit="none")
    np.testing.assert_allclose(off.predict_proba(TEXTS), whole.predict_proba(TEXTS), atol=1e-5)
    assert {p.calls for p in off.classify(TEXTS)} == {3}
    exits = model.exit_proba(TEXTS)
    for n in (1, 2, 3):
        fixed = Classifier.load(root / "export", recipe="float32", exit=f"calls:{n}")
        np.testing.assert_allclose(fixed.predict_proba(TEXTS), exits[:, n - 1], atol=1e-5)
        assert {p.calls for p in fixed.classify(TEXTS)} == {n}
    int8 = Classifier.load(root / "export", recipe="int8", exit="calls:3")
    assert (int8.predict_proba(TEXTS).argmax(-1) == exits[:, 2].argmax(-1)).mean() >= 0.75


def test_rules_stop_early_and_rows_leave_the_batch(adaptive_export):
    root, _ = adaptive_export
    model = albert_tf.load(root / "model")
    exits = model.exit_proba(TEXTS)
    confident = Classifier.load(root / "export", recipe="float32", exit="confidence:0.6")
    predictions = confident.classify(TEXTS)  # one batch: rows leave it as they exit
    for prediction, row in zip(predictions, exits):
        expected = next((i + 1 for i in range(3) if row[i].max() >= 0.6), 3)
        assert prediction.calls == expected
        np.testing.assert_allclose(list(prediction.scores.values()),
                                   sorted(row[expected - 1], reverse=True), atol=1e-5)
    one_at_a_time = [confident.classify(text) for text in TEXTS]
    assert [p.calls for p in one_at_a_time] == [p.calls for p in predictions]
    patient = Classifier.load(root / "export", recipe="float32", exit="patience:1")
    for prediction, row in zip(patient.classify(TEXTS), exits):
        labels = row.argmax(-1)
        expected = 2 if labels[0] == labels[1] else 3
        assert prediction.calls == expected


def test_patience_runs_every_call_while_the_answer_keeps_changing():
    rule = parse_exit_rule("patience:2")
    flipping = np.array([[0], [1], [0], [1]])  # (calls, rows): the argmax after each call
    settled = np.array([[1], [0], [0], [0]])
    assert [rule.stops(c, flipping[:c], np.ones(1))[0] for c in (1, 2, 3, 4)] == [False] * 4
    assert [rule.stops(c, settled[:c], np.ones(1))[0] for c in (1, 2, 3, 4)] == [
        False, False, False, True]  # 0, 0, 0: the same answer for 2 calls after the first
    assert parse_exit_rule("confidence:0.9") == ExitRule("confidence", 0.9)
    assert str(parse_exit_rule(" Calls:2 ")) == "calls:2"


@pytest.mark.parametrize("rule, message", [
    ("patience", "use one of patience:K, confidence:P, calls:N, none"),
    ("speed:2", "use one of patience:K, confidence:P, calls:N, none"),
    ("patience:x", "'x' is not a number"),
    ("patience:1.5", "patience takes a whole number >= 1"),
    ("confidence:0", "confidence P must be in (0, 1]"),
    ("calls:4", "the model has 3 layer calls")])
def test_a_bad_rule_is_one_error_naming_the_forms(adaptive_export, rule, message):
    root, _ = adaptive_export
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("]", r"\]")):
        Classifier.load(root / "export", exit=rule)


def test_classify_cli_and_demo_say_how_many_calls(adaptive_export, exported):
    root, _ = adaptive_export
    done = run_cli("classify", str(root / "export"), *TEXTS[:2], "--exit", "calls:2")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["calls"] for line in done.stdout.splitlines()] == [2, 2]
    done = run_cli("classify", str(root / "export"), "x", "--exit", "soon")
    assert done.returncode == 2 and "argument --exit: exit rule 'soon'" in done.stderr
    whole = run_cli("classify", str(root / "export"), TEXTS[0])
    assert "calls" not in json.loads(whole.stdout)  # the whole-model file says nothing
    # A model without exit heads: one line saying what to do.
    done = run_cli("classify", str(exported[0]), "x", "--exit", "patience:1")
    assert done.returncode == 1 and done.stderr.strip().endswith(
        "the model has no exit heads (train or distill it with --exit-heads, then export)")

    pytest.importorskip("gradio")
    from albert_tf.apps.demo import DemoModels

    models = DemoModels(str(root / "export"))
    _, _, details, _ = models.classify(TEXTS[0], "float32", exit_rule="calls:1")
    assert "decided after 1 of 3 layer calls (calls:1)" in details
    _, _, details, _ = models.classify(TEXTS[0], "float32")
    assert "layer calls" not in details
