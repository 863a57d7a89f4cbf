"""Pair models and multi-label models through every layer: train -> export (every
recipe) -> SavedModel -> runtime -> `classify` / `predict` (-> MediaPipe)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow_text", reason="export needs `pip install -e .[export]`")
pytest.importorskip("ai_edge_litert", reason="export needs `pip install -e .[export]`")

import albert_tf  # noqa: E402
from albert_tf.errors import InputError  # noqa: E402
from albert_tf.runtime import Classifier  # noqa: E402
from tests.helpers import fast_train_kwargs, run_cli, write_tsv  # noqa: E402

RECIPES = ["float32", "float16", "dynamic_int8", "int8"]
# First texts that say nothing: the label is the second text's sentiment, so the
# model must read the pair to answer.
LEADS = ("so it seems", "in short", "all in all")
# Pairs whose lengths exercise the longest-first truncation at max_length 32
# (budget 29, odd): long + short, short + long, both long, equal and long.
LONG = "a superb and lovely film with a clever cast " * 4
PAIR_TEXTS = ["a superb film", LONG, "dull", LONG, "an awful plot " * 8, "fine"]
PAIR_PAIRS = ["not really", "so it seems", LONG, "a weak ending " * 9, "an awful plot " * 8,
              "all in all"]


def _pair_rows(corpus):
    return [(LEADS[i % 3], text, label) for i, (text, label) in enumerate(corpus)]


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory, corpus, data_files):
    root = tmp_path_factory.mktemp("pairs")
    rows = _pair_rows(corpus)
    write_tsv(root / "train.tsv", rows[:500], ("first", "second", "label"))
    write_tsv(root / "dev.tsv", rows[500:], ("first", "second", "label"))
    albert_tf.train(**fast_train_kwargs(root, root / "model", epochs=6, text_column="first",
                                        text_pair_column="second"))
    from albert_tf.export import export_model

    rows = export_model(model_dir=str(root / "model"), out=str(root / "export"),
                        recipes=RECIPES, eval=str(root / "dev.tsv"), min_agreement=0.8)
    return root, {row["file"]: row for row in rows}


@pytest.fixture(scope="module")
def multi_model(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("multi")
    # Three independent labels: the sentiment, plus "cast" for texts that name it.
    rows = [(text, label + ("|cast" if "cast" in text.lower() else ""))
            for text, label in corpus]
    write_tsv(root / "train.tsv", rows[:500])
    write_tsv(root / "dev.tsv", rows[500:])
    albert_tf.train(**fast_train_kwargs(root, root / "model", epochs=6, patience=6,
                                        multi_label=True))
    from albert_tf.export import export_model

    rows = export_model(model_dir=str(root / "model"), out=str(root / "export"),
                        recipes=RECIPES, eval=str(root / "dev.tsv"), min_agreement=0.8,
                        calibration=str(root / "train.tsv"),
                        mediapipe_recipes=("float32", "dynamic_int8"))
    return root, {row["file"]: row for row in rows}


def _saved_model_outputs(export, inputs, signature="serving_default"):
    """A signature's outputs in a fresh interpreter with no albert_tf import."""
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
served = tf.saved_model.load({str(export / 'saved_model')!r})
out = served.signatures[{signature!r}](**{{k: tf.constant(v) for k, v in {inputs!r}.items()}})
assert "albert_tf" not in sys.modules
print(json.dumps({{k: v.numpy().tolist() for k, v in out.items() if v.dtype != tf.string}}))
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return {k: np.asarray(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}


# --- pairs -------------------------------------------------------------------


def test_pair_export_has_parity_and_no_mediapipe_file(pair_model):
    root, rows = pair_model
    meta = json.loads((root / "export" / "metadata.json").read_text())
    assert meta["contract"]["text_pairs"] and meta["contract"]["text_pair_column"] == "second"
    assert "TextClassifier takes one text" in meta["mediapipe"]
    assert set(rows) == {f"{r}.tflite" for r in RECIPES}  # no mediapipe_*.tflite
    assert rows["float32.tflite"]["max_abs_prob_diff"] <= 1e-4
    for row in rows.values():
        assert not row["failures"], row
    # The model learnt to read the second text (the first says nothing).
    assert rows["float32.tflite"]["accuracy"] >= 0.8
    readme = (root / "export" / "README.md").read_text()
    assert "pairs=" in readme and "text_pair=" in readme and "TextClassifier takes one" in readme


def test_runtime_classifies_pairs_as_keras_does(pair_model):
    root, _ = pair_model
    model = albert_tf.load(root / "model")
    expected = model.predict_proba(PAIR_TEXTS, PAIR_PAIRS)
    classifier = Classifier.load(root / "export", recipe="float32")
    assert classifier.takes_pairs and classifier.describe()["text_pairs"]
    got = classifier.predict_proba(PAIR_TEXTS, pairs=PAIR_PAIRS)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    predictions = classifier.classify(PAIR_TEXTS, pairs=PAIR_PAIRS)
    assert [p.label for p in predictions] == [r["label"] for r in
                                              model.predict(PAIR_TEXTS, PAIR_PAIRS)]
    single = classifier.classify("a superb film", pairs="not really")
    assert single.scores == pytest.approx(predictions[0].scores, abs=1e-6)
    # The second text matters: the same first text, another pair, another answer.
    flipped = classifier.predict_proba(["in short"] * 2,
                                       pairs=["a superb and lovely film", "an awful, dull plot"])
    assert flipped[0].argmax() != flipped[1].argmax()
    assert classifier.tokens("good", "fine") == ["[CLS]", *classifier.tokenizer.id_to_piece(
        classifier.tokenizer.encode_ids(["good"])[0][0]), "[SEP]",
        *classifier.tokenizer.id_to_piece(classifier.tokenizer.encode_ids(["fine"])[0][0]),
        "[SEP]"]


def test_pairs_refused_where_they_do_not_fit(pair_model, exported):
    root, _ = pair_model
    classifier = Classifier.load(root / "export")
    with pytest.raises(ValueError, match="reads text pairs"):
        classifier.classify(["a superb film"])
    with pytest.raises(ValueError, match="2 texts but 1 pairs"):
        classifier.classify(["a", "b"], pairs=["c"])
    with pytest.raises(InputError, match="text 1's pair is empty") as error:
        classifier.classify(["a", "b"], pairs=["c", " "])
    assert error.value.index == 1
    with pytest.raises(ValueError, match="long_texts='sentences'"):
        classifier.classify(["a"], pairs=["b"], long_texts="sentences")
    single = Classifier.load(exported[0])
    with pytest.raises(ValueError, match="reads single texts, not pairs"):
        single.classify(["a superb film"], pairs=["not really"])
    model = albert_tf.load(root / "model")
    with pytest.raises(ValueError, match="reads text pairs"):
        model.predict(["a superb film"])


def test_saved_model_serves_pairs_and_tokenizes_like_the_kit(pair_model):
    root, _ = pair_model
    model = albert_tf.load(root / "model")
    inputs = {"text": PAIR_TEXTS, "text_pair": PAIR_PAIRS}
    served = _saved_model_outputs(root / "export", inputs)
    np.testing.assert_allclose(served["probabilities"],
                               model.predict_proba(PAIR_TEXTS, PAIR_PAIRS), atol=1e-5)
    kit = model.tokenizer.encode(PAIR_TEXTS, PAIR_PAIRS, max_length=model.max_length,
                                 pad_to_multiple_of=1)
    assert served["truncated"].tolist() == kit["truncated"].tolist()
    assert kit["truncated"].sum() == 4  # every truncation case above is exercised
    ids = _saved_model_outputs(root / "export", inputs, "tokenize")
    for name in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(ids[name], kit[name], err_msg=name)


def test_classify_and_predict_cli_take_pairs(pair_model, tmp_path):
    root, _ = pair_model
    classifier = Classifier.load(root / "export")
    expected = [p.label for p in classifier.classify(PAIR_TEXTS[:3], pairs=PAIR_PAIRS[:3])]
    write_tsv(tmp_path / "in.tsv", [(a, b, "x") for a, b in zip(PAIR_TEXTS[:3],
                                                                 PAIR_PAIRS[:3])],
              ("first", "second", "label"))
    done = run_cli("classify", str(root / "export"), "--input", str(tmp_path / "in.tsv"))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["label"] for r in records] == expected  # the export's own pair column
    assert [r["text_pair"] for r in records] == PAIR_PAIRS[:3] and records[0]["row"] == 2
    # stdin: TEXT<TAB>PAIR; a line without a TAB is an error record in its place.
    lines = "\n".join(f"{a}\t{b}" for a, b in zip(PAIR_TEXTS[:2], PAIR_PAIRS[:2]))
    done = run_cli("classify", str(root / "export"), stdin=lines + "\nno tab here\n")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and [r.get("label") for r in records[:2]] == expected[:2]
    assert records[2]["error"] == "text pair is empty or whitespace only"
    done = run_cli("predict", str(root / "model"), f"{PAIR_TEXTS[0]}\t{PAIR_PAIRS[0]}")
    assert done.returncode == 0 and json.loads(done.stdout)["label"] == expected[0]
    done = run_cli("classify", str(root / "export"), "--input", str(tmp_path / "in.tsv"),
                   "--text-pair-column", "nope")
    assert done.returncode == 1 and "no column 'nope'" in done.stderr


def test_single_text_model_refuses_a_pair_column(exported, tmp_path):
    write_tsv(tmp_path / "in.tsv", [("a", "b", "x")], ("first", "second", "label"))
    done = run_cli("classify", str(exported[0]), "--input", str(tmp_path / "in.tsv"),
                   "--text-column", "first", "--text-pair-column", "second")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].endswith(
        "--text-pair-column second: this model reads single texts, not pairs")


# --- multi-label -------------------------------------------------------------


def test_multi_label_export_reports_parity_per_label(multi_model):
    root, rows = multi_model
    meta = json.loads((root / "export" / "metadata.json").read_text())
    assert meta["contract"]["multi_label"] and meta["contract"]["threshold"] == 0.5
    assert set(rows) == {f"{r}.tflite" for r in RECIPES} | {
        "mediapipe_float32.tflite", "mediapipe_dynamic_int8.tflite"}
    assert rows["float32.tflite"]["max_abs_prob_diff"] <= 1e-4
    for row in rows.values():
        assert not row["failures"], row
        assert len(row["label_agreement"]) == 3 and 0.8 <= row["set_agreement"] <= 1
    # It learnt the "cast" label (the sentiment half is slower for a micro model
    # trained on both: exact-match accuracy is reported, not asserted).
    assert meta["eval_metrics"]["per_class"]["cast"]["f1"] == 1.0
    assert meta["keras_float_accuracy"] == rows["float32.tflite"]["accuracy"]
    assert "| int8.tflite | int8 |" in (root / "export" / "parity.md").read_text()


def test_runtime_returns_every_label_above_the_threshold(multi_model, exported):
    root, _ = multi_model
    model = albert_tf.load(root / "model")
    texts = ["a superb film", "the plot was awful and boring", "a lovely cast and a clever story"]
    classifier = Classifier.load(root / "export", recipe="float32")
    assert classifier.multi_label and classifier.threshold == 0.5
    predictions = classifier.classify(texts)
    keras = model.predict(texts)
    probabilities = classifier.predict_proba(texts)
    for prediction, record, row in zip(predictions, keras, probabilities):
        assert prediction.labels == record["labels"] == [
            name for name, p in zip(classifier.labels, row) if p >= 0.5]
        assert set(prediction.to_dict()) == set(record)
    assert ["cast" in p.labels for p in predictions] == [False, False, True]
    # threshold= moves the cut; every score stays.
    none = Classifier.load(root / "export", recipe="float32", threshold=1.0).classify(texts[0])
    assert none.labels == [] and len(none.scores) == 3
    with pytest.raises(ValueError, match="score_threshold=0.5 is for single-label"):
        Classifier.load(root / "export", score_threshold=0.5)
    with pytest.raises(ValueError, match="threshold=0.5 is for multi-label"):
        Classifier.load(exported[0], threshold=0.5)
    unreadable = classifier.classify("👍👍")
    assert unreadable.labels is None and unreadable.abstained == "unreadable"
    # A long text read in pieces: each label's highest score over them.
    sentences = ["A superb film.", "The plot was awful and boring."]
    long_text = " ".join([sentences[0]] + [sentences[1]] * 6)
    np.testing.assert_allclose(classifier.predict_proba(long_text, long_texts="sentences"),
                               classifier.predict_proba(sentences).max(axis=0), atol=1e-6)


def test_multi_label_saved_model_and_cli(multi_model):
    root, _ = multi_model
    model = albert_tf.load(root / "model")
    texts = ["a superb film", "the plot was awful and boring"]
    served = _saved_model_outputs(root / "export", {"text": texts})
    expected = model.predict_proba(texts)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(served["predicted"], expected >= 0.5)
    done = run_cli("classify", str(root / "export"), *texts, "--threshold", "0.3")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["labels"] for r in records] == [
        [name for name, p in zip(model.labels.names, row) if p >= 0.3] for row in expected]
    assert "label" not in records[0] and len(records[0]["scores"]) == 3
    done = run_cli("classify", str(root / "export"), "x", "--score-threshold", "0.3")
    assert done.returncode == 1 and done.stderr.strip().splitlines()[-1].endswith(
        "is for single-label models; a multi-label model takes threshold= (each label at or "
        "above it)") and "Traceback" not in done.stderr


def test_mediapipe_runs_the_multi_label_file(multi_model):
    pytest.importorskip("mediapipe", reason="needs `pip install mediapipe`")
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    root, _ = multi_model
    model = albert_tf.load(root / "model")
    texts = ["a superb film", "the plot was awful and boring", "a lovely cast and a clever story"]
    options = text.TextClassifierOptions(
        base_options=BaseOptions(
            model_asset_path=str(root / "export" / "mediapipe_float32.tflite")),
        score_threshold=0.5)
    classifier = text.TextClassifier.create_from_options(options)
    try:
        for sentence, record, row in zip(texts, model.predict(texts), model.predict_proba(texts)):
            categories = classifier.classify(sentence).classifications[0].categories
            # Scores used as given (sigmoids, not renormalized), cut at the threshold:
            # the categories are the text's labels.
            assert sorted(c.category_name for c in categories) == sorted(record["labels"])
            for category in categories:
                assert category.score == pytest.approx(
                    row[model.labels.names.index(category.category_name)], abs=1e-4)
    finally:
        classifier.close()


# --- the demo ------------------------------------------------------------------


def test_demo_shows_a_multi_label_model_as_independent_bars(multi_model, tmp_path):
    pytest.importorskip("gradio")
    from albert_tf.apps.demo import DemoModels, build_app

    root, _ = multi_model
    models = DemoModels(str(root / "export"))
    scores, _, details, segments = models.classify("a lovely cast and a clever story")
    expected = Classifier.load(root / "export").classify("a lovely cast and a clever story")
    assert scores == expected.scores and len(scores) == 3  # every label's own bar
    assert details.startswith(f"LABELS at or above 0.5: {', '.join(expected.labels)} ")
    assert any(w for _, w in segments if w)  # attributions of the top label
    rows = models.compare("a lovely cast")
    assert {r[1] for r in rows} == {"|".join(Classifier.load(root / "export").classify(
        "a lovely cast").labels) or "(none)"}
    write_tsv(tmp_path / "few.tsv", [("a lovely cast", "cast|pos"), ("dull", "neg")])
    table, _, summary = models.classify_file(str(tmp_path / "few.tsv"))
    assert "cast" in table[0][1].split("|") and "exact-match accuracy" in summary
    build_app(models)  # the page builds for this kind of model


def test_demo_takes_a_pair(pair_model, tmp_path):
    pytest.importorskip("gradio")
    from albert_tf.apps.demo import DemoModels, build_app
    from albert_tf.errors import AlbertTfError

    root, _ = pair_model
    models = DemoModels(str(root / "export"))
    assert models.takes_pairs and models.examples == []
    scores, tokens, _, segments = models.classify("in short", pair="a superb and lovely film")
    expected = Classifier.load(root / "export").classify("in short",
                                                         pairs="a superb and lovely film")
    assert scores == expected.scores
    assert [t for t, _ in tokens].count("[SEP]") == 2
    assert "".join(s for s, _ in segments) == "in short"  # the first text is explained
    with pytest.raises(AlbertTfError, match="second text"):
        models.classify("in short", pair="")
    write_tsv(tmp_path / "few.tsv", [("in short", "a superb film", "pos")],
              ("first", "second", "label"))
    table, _, summary = models.classify_file(str(tmp_path / "few.tsv"), "first")
    assert table[0][0] == "in short | a superb film" and "accuracy" in summary
    assert models.compare("in short", "a superb film")[0][1] == expected.label
    build_app(models)
