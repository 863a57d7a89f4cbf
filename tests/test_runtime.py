"""The TF-free runtime against the Keras model it was exported from."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("ai_edge_litert", reason="the runtime needs `pip install -e .[runtime]`")

import albert_tf  # noqa: E402
from albert_tf.errors import (InputError, ModelDirError, ModelFileError,  # noqa: E402
                              ModelOutputError, RuntimeUnavailableError)
from albert_tf.artifacts.manifest import read_manifest, write_manifest  # noqa: E402
from albert_tf.runtime import Classifier, find_interpreter  # noqa: E402
from albert_tf.runtime import classifier as classifier_module  # noqa: E402
from albert_tf.text.sentences import split_sentences  # noqa: E402
from tests.helpers import BLOCK_HEAVY_IMPORTS, VARIED, benchmark_module, run_cli  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def keras_model(trained_dir):
    return albert_tf.load(trained_dir)


@pytest.fixture(scope="module")
def float_classifier(exported):
    return Classifier.load(exported[0], recipe="float32", num_threads=1)


def _copy(exported, tmp_path):
    target = tmp_path / "export"
    shutil.copytree(exported[0], target)
    return target


def _remanifest(directory, **changes):
    """Rewrite the manifest after editing files, as a careless user might."""
    manifest = read_manifest(str(directory))
    fields = {k: v for k, v in manifest.items() if k not in ("files", "created")}
    write_manifest(str(directory), **{**fields, **changes})


# --- same answers as Keras ---------------------------------------------------


def test_probabilities_embeddings_and_flags_match_keras(float_classifier, keras_model):
    texts = VARIED + ["pair-free text " * 3]
    np.testing.assert_allclose(float_classifier.predict_proba(texts),
                               keras_model.predict_proba(texts), atol=1e-4)
    flags = keras_model.tokenizer.encode(texts, max_length=keras_model.max_length)["truncated"]
    assert [p.truncated for p in float_classifier.classify(texts)] == flags.tolist()
    assert any(flags)  # "weak " * 200 is longer than the model's 32 tokens
    vectors = keras_model.embed(texts)
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(float_classifier.embed(texts), expected, atol=1e-4)
    assert float_classifier.similarity(texts[0], texts[0]) == pytest.approx(1.0, abs=1e-5)


def test_prediction_fields_and_top_k(float_classifier):
    one = float_classifier.classify("A superb and lovely film.")
    assert one.label == "pos" and list(one.scores)[0] == "pos"
    assert sum(one.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert one.num_tokens == len(float_classifier.tokens("A superb and lovely film."))
    top = float_classifier.classify(["dull and boring", "lovely"], top_k=1)
    assert [list(p.scores) for p in top] == [["neg"], ["pos"]]
    with pytest.raises(ValueError, match="top_k"):
        float_classifier.classify("x", top_k=3)


def test_default_recipe_is_dynamic_int8_and_agrees(exported, float_classifier, data_files):
    default = Classifier.load(exported[0])
    assert default.recipe == "dynamic_int8"
    assert default.describe()["model"].endswith("dynamic_int8.tflite")
    texts = [line.split("\t")[0] for line in
             (data_files / "dev.tsv").read_text().splitlines()[1:]]
    for model in (default, Classifier.load(exported[0], recipe="int8")):
        agreement = np.mean([a.label == b.label for a, b in
                             zip(model.classify(texts), float_classifier.classify(texts))])
        assert agreement >= 0.95, (model.recipe, agreement)


def test_a_lone_mediapipe_file_carries_its_tokenizer_and_labels(exported, tmp_path,
                                                                float_classifier):
    lone = tmp_path / "model.tflite"  # no manifest, no tokenizer dir beside it
    shutil.copy(exported[0] / "mediapipe_float32.tflite", lone)
    classifier = Classifier.load(lone)
    assert classifier.labels == ["neg", "pos"] and not classifier.has_embedding
    np.testing.assert_allclose(classifier.predict_proba(VARIED),
                               float_classifier.predict_proba(VARIED), atol=1e-4)
    with pytest.raises(ModelFileError, match="embedding"):
        classifier.embed("x")
    assert classifier.describe()["verified"] == "unverified"
    assert Classifier.load(exported[0]).describe()["verified"] == "manifest"

    # With a sha256 sidecar, a damaged file is refused instead of classifying silently.
    digest = hashlib.sha256(lone.read_bytes()).hexdigest()
    (tmp_path / "model.tflite.sha256").write_text(f"{digest}  model.tflite\n")
    assert Classifier.load(lone).describe()["verified"] == "sidecar"
    data = bytearray(lone.read_bytes())
    data[4096:4096 + 256] = bytes(b ^ 0xFF for b in data[4096:4096 + 256])
    lone.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its sha256"):
        Classifier.load(lone)


def test_batching_chunking_and_order(exported, float_classifier, monkeypatch):
    texts = [f"{'great ' if i % 3 else 'dull '}film " * (1 + i % 9) for i in range(300)]
    single = np.stack([float_classifier.predict_proba(t) for t in texts[:40]])
    monkeypatch.setattr(classifier_module, "CHUNK", 64)  # several chunks, odd sizes
    small_batches = Classifier.load(exported[0], recipe="float32", max_batch_size=7)
    batched = small_batches.predict_proba(texts)
    assert batched.shape == (300, 2)
    np.testing.assert_allclose(batched[:40], single, atol=1e-5)
    np.testing.assert_allclose(batched, float_classifier.predict_proba(texts), atol=1e-5)


def test_many_threads_get_the_single_threaded_answers(exported):
    classifier = Classifier.load(exported[0], recipe="int8", num_interpreters=2,
                                 num_threads=1)
    texts = [f"the film was {w} and {v}" for w in ("dull", "lovely", "weak", "fun")
             for v in ("clever", "bland", "moving")]
    expected = classifier.predict_proba(texts)
    failures = []

    def hammer(seed):
        rng = np.random.default_rng(seed)
        for _ in range(25):
            rows = rng.choice(len(texts), size=rng.integers(1, 6), replace=False)
            got = classifier.predict_proba([texts[i] for i in rows])
            if not np.allclose(got, expected[rows], atol=1e-6):
                failures.append((seed, rows.tolist()))

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize("bad, message", [
    ("", "text 0 is empty"), ("  \n\t ", "text 0 is empty"), (["ok", ""], "text 1 is empty"),
    ([None], "text 0 must be a str"), ([3.5], "text 0 must be a str"),
    (None, "texts must be"), (12, "texts must be"), ({"a": 1}, "texts must be"),
    (b"\xff\xfe bad", "not valid UTF-8"), (["fine", "\u200b\u200b"], "text 1 has no tokens"),
])
def test_bad_texts_raise_input_error_naming_the_text(float_classifier, bad, message):
    with pytest.raises(InputError, match=message):
        float_classifier.classify(bad)


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b"], ids=["empty", "blank", "no-tokens"])
def test_the_keras_model_and_the_runtime_refuse_the_same_texts(float_classifier, keras_model,
                                                               text):
    """One rule for what a text is (albert_tf.text.inputs), on both sides of export."""
    with pytest.raises(InputError) as runtime_error:
        float_classifier.classify(["fine", text])
    with pytest.raises(InputError) as keras_error:
        keras_model.predict(["fine", text])
    assert str(runtime_error.value) == str(keras_error.value)
    assert str(keras_error.value).startswith("text 1 ")
    with pytest.raises(InputError):
        keras_model.embed([text])


def test_defined_results_for_odd_but_valid_texts(float_classifier):
    assert float_classifier.classify([]) == []
    assert float_classifier.predict_proba([]).shape == (0, 2)
    surrogate, bytes_text, control, only_control = float_classifier.classify(
        ["lovely \ud800 film", "café".encode("utf-8"), "dull\x07 film\x00", "\x00\x01\x02"])
    assert surrogate.label and bytes_text.label and control.label == "neg"
    assert only_control.num_tokens == 4  # [CLS] ▁ <unk> [SEP]: classified, not refused
    huge = float_classifier.classify("lovely film " * 100_000)  # 1.2 MB
    assert huge.truncated and huge.num_tokens == float_classifier.max_length
    assert huge.label == float_classifier.classify("lovely film " * 100).label


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_any_text_gets_a_prediction_or_an_input_error(float_classifier, texts):
    try:
        predictions = float_classifier.classify(texts)
    except InputError as error:
        assert "text " in str(error)
        return
    assert len(predictions) == len(texts)
    for prediction in predictions:
        assert np.isfinite(prediction.score)
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert 3 <= prediction.num_tokens <= float_classifier.max_length


def test_non_finite_outputs_raise(exported, monkeypatch):
    classifier = Classifier.load(exported[0], recipe="float32")
    run = classifier.runner.run

    def poisoned(packed, max_length, outputs=None):
        values = run(packed, max_length, outputs)
        return {name: np.full_like(v, np.nan) for name, v in values.items()}

    monkeypatch.setattr(classifier.runner, "run", poisoned)
    with pytest.raises(ModelOutputError, match="non-finite"):
        classifier.classify(["fine", "film"])


# --- bad files ---------------------------------------------------------------


def test_corrupted_or_truncated_model_is_refused(exported, tmp_path):
    copy = _copy(exported, tmp_path)
    blob = (copy / "int8.tflite").read_bytes()
    (copy / "int8.tflite").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ModelDirError, match="int8.tflite does not match its sha256"):
        Classifier.load(copy, recipe="int8")
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ModelFileError):
        Classifier.load(lone)
    (tmp_path / "junk.tflite").write_bytes(b"not a model at all" * 10)
    with pytest.raises(ModelFileError):
        Classifier.load(tmp_path / "junk.tflite")


def test_labels_that_do_not_match_the_outputs_are_refused(exported, tmp_path):
    copy = _copy(exported, tmp_path)
    (copy / "labels.txt").write_text("neg\npos\nmeh\n")
    with pytest.raises(ModelDirError, match="labels.txt does not match its sha256"):
        Classifier.load(copy)
    _remanifest(copy)  # hashes fixed, manifest labels still two
    with pytest.raises(ModelDirError, match="differs from the manifest"):
        Classifier.load(copy)
    _remanifest(copy, labels=["neg", "pos", "meh"])
    with pytest.raises(ModelFileError, match="2 outputs but 3 labels"):
        Classifier.load(copy, recipe="float32")


def test_a_tokenizer_of_another_vocabulary_is_refused(exported, tmp_path, corpus):
    from albert_tf.text.tokenizer import AlbertTokenizer

    copy = _copy(exported, tmp_path)
    other = AlbertTokenizer.train(["zebra quantum xylophone jigsaw"] * 40, vocab_size=30)
    assert other.vocab_size != Classifier.load(copy).tokenizer.vocab_size
    other.save(copy / "tokenizer")
    _remanifest(copy)
    with pytest.raises(ModelDirError, match="tokenizer has .* pieces"):
        Classifier.load(copy)


def test_default_recipe_passed_its_gate_and_accuracy_is_the_files_own(exported, tmp_path):
    copy = _copy(exported, tmp_path)
    parity = read_manifest(str(copy))["parity"]
    for row in parity:  # as if dynamic_int8 had missed its agreement target at export
        if row["file"] == "dynamic_int8.tflite":
            row.update(failures=["agreement 0.9875 < 0.99"], accuracy=0.5)
        elif row["file"] == "int8.tflite":
            row.update(accuracy=0.625)
    _remanifest(copy, parity=parity, eval_metrics={"accuracy": 0.97})
    default = Classifier.load(copy)
    assert default.recipe == "int8" and default.describe()["accuracy"] == 0.625
    failed = Classifier.load(copy, recipe="dynamic_int8")  # still loadable when asked for
    assert failed.describe()["accuracy"] == 0.5  # its own figure, not the Keras model's 0.97


def test_combine_sentences_is_a_renormalized_geometric_mean():
    combined = classifier_module.combine_sentences(np.array([[0.9, 0.1], [0.5, 0.5]]))
    expected = np.sqrt([0.9 * 0.5, 0.1 * 0.5])
    np.testing.assert_allclose(combined, expected / expected.sum(), rtol=1e-6)
    # A certain vote (p = 0) counts as 1e-7, not minus infinity.
    assert np.isfinite(classifier_module.combine_sentences(np.array([[1.0, 0.0]]))).all()


def test_long_texts_can_be_read_sentence_by_sentence(float_classifier, monkeypatch):
    """A text past max_length is cut by default; with long_texts="sentences" each
    sentence is classified and their votes combined. Short texts: the same answer."""
    sentences = ["A superb and lovely film.", "The plot was awful and boring.",
                 "The cast was clever."]
    text = " ".join(sentences * 8)
    cut = float_classifier.classify(text)
    assert cut.truncated and cut.num_tokens == float_classifier.max_length
    read = float_classifier.classify(text, long_texts="sentences")
    parts = float_classifier.predict_proba(sentences * 8)
    np.testing.assert_allclose([read.scores[label] for label in float_classifier.labels],
                               classifier_module.combine_sentences(parts), rtol=1e-5)
    assert not read.truncated and read.num_tokens > float_classifier.max_length
    np.testing.assert_allclose(float_classifier.predict_proba([text], long_texts="sentences")[0],
                               classifier_module.combine_sentences(parts), rtol=1e-5)
    short = sentences[0]
    assert float_classifier.classify(short, long_texts="sentences") == \
        float_classifier.classify(short)
    monkeypatch.setattr(classifier_module, "MAX_SENTENCES", 4)  # the rest is dropped
    assert float_classifier.classify(text, long_texts="sentences").truncated
    with pytest.raises(ValueError, match="long_texts must be one of truncate, sentences, "
                                         "chunks, got 'pages'"):
        float_classifier.classify(short, long_texts="pages")


def test_long_texts_can_be_read_in_chunks_of_whole_sentences(float_classifier):
    """long_texts="chunks" packs consecutive sentences into as few texts as fit
    max_length, reads each, and combines their votes: every token is read."""
    sentences = ["A superb and lovely film.", "The plot was awful and boring.",
                 "The cast was clever."]
    text = " ".join(sentences * 8)
    max_length = float_classifier.max_length
    chunks = classifier_module.chunk_sentences(split_sentences(text), float_classifier.tokenizer,
                                               max_length)
    assert 1 < len(chunks) < len(sentences) * 8 and " ".join(chunks) == text
    tokens = [prediction.num_tokens for prediction in float_classifier.classify(chunks)]
    assert max(tokens) <= max_length and sum(tokens) > max_length
    # Greedy: no chunk would have fitted its successor's first sentence.
    for chunk, following in zip(chunks, chunks[1:]):
        first = split_sentences(following)[0]
        assert float_classifier.classify(f"{chunk} {first}").truncated
    read = float_classifier.classify(text, long_texts="chunks")
    np.testing.assert_allclose([read.scores[label] for label in float_classifier.labels],
                               classifier_module.combine_sentences(
                                   float_classifier.predict_proba(chunks)), rtol=1e-5)
    assert not read.truncated and read.num_tokens == sum(tokens)
    short = sentences[0]
    assert float_classifier.classify(short, long_texts="chunks") == \
        float_classifier.classify(short)


def test_missing_recipe_and_wrong_directory(exported, trained_dir, tmp_path):
    with pytest.raises(ModelDirError, match="no 'int16' model; it has dynamic_int8, int8"):
        Classifier.load(exported[0], recipe="int16")
    with pytest.raises(ModelDirError, match="is a model directory .*; expected an export "
                                            "directory"):
        Classifier.load(trained_dir)
    with pytest.raises(ModelFileError, match="no such file"):
        Classifier.load(tmp_path / "absent")


# --- interpreters and isolation ----------------------------------------------------


def test_classifies_in_a_process_where_tensorflow_and_keras_cannot_import(exported):
    code = BLOCK_HEAVY_IMPORTS + f"""
import json
from albert_tf.runtime import Classifier
c = Classifier.load({str(exported[0])!r})
p = c.classify("A superb and lovely film.")
print(json.dumps({{"backend": c.backend, "label": p.label,
                   "loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                                    ("tensorflow", "keras", "jax"))}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"backend": "ai-edge-litert", "label": "pos", "loaded": []}


def test_no_interpreter_gives_one_error_listing_every_candidate():
    code = BLOCK_HEAVY_IMPORTS.replace('"torch")', '"torch", "ai_edge_litert", '
                                                  '"tflite_runtime")') + """
from albert_tf.runtime import find_interpreter, RuntimeUnavailableError
try:
    find_interpreter()
except RuntimeUnavailableError as error:
    print(error)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    for name in ("ai-edge-litert", "tflite-runtime", "tensorflow", '.[runtime]'):
        assert name in out


def test_legacy_tflite_runtime_is_skipped_under_numpy_2():
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("numpy<2 here")
    with pytest.raises(RuntimeUnavailableError, match="numpy<2"):
        find_interpreter("tflite-runtime")


def test_tensorflow_lite_fallback_gives_the_same_answers(exported, float_classifier):
    pytest.importorskip("tensorflow")
    via_tf = Classifier.load(exported[0], recipe="float32", backend="tensorflow")
    assert via_tf.backend == "tensorflow"
    np.testing.assert_allclose(via_tf.predict_proba(VARIED),
                               float_classifier.predict_proba(VARIED), atol=1e-5)


@pytest.mark.skipif(os.environ.get("ALBERT_TF_SKIP_VENV_TESTS") == "1",
                    reason="ALBERT_TF_SKIP_VENV_TESTS=1")
def test_legacy_tflite_runtime_in_its_own_environment(exported, float_classifier, tmp_path):
    """tflite-runtime 2.14 (numpy<2) in a fresh venv runs the float32 file."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "tflite-runtime==2.14.0", "numpy<2", "sentencepiece==0.2.3"],
                   check=True, timeout=600)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps",
                    "--disable-pip-version-check", "-e", ROOT], check=True, timeout=300)
    code = f"""
import json
from albert_tf.runtime import Classifier
c = Classifier.load({str(exported[0])!r}, recipe="float32")
print(json.dumps({{"backend": c.backend, "p": c.predict_proba({VARIED!r}).tolist()}}))
"""
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True, cwd=str(tmp_path))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "tflite-runtime"
    np.testing.assert_allclose(result["p"], float_classifier.predict_proba(VARIED), atol=1e-5)


# --- command line ------------------------------------------------------------------


def test_cli_classify_arguments_and_stdin(exported):
    out = run_cli("classify", exported[0], "A superb and lovely film.", "dull and boring",
                  "--top-k", "1")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["pos", "neg"]
    assert list(lines[0]["scores"]) == ["pos"] and lines[0]["truncated"] is False
    piped = run_cli("classify", exported[0] / "float32.tflite",
                    stdin="a lovely film\n\n   \nboring plot\n")
    records = [json.loads(line) for line in piped.stdout.splitlines()]
    assert [r.get("label", r.get("error")) for r in records] == [
        "pos", "text is empty or whitespace only", "text is empty or whitespace only", "neg"]
    assert piped.returncode == 1 and "2 of 4 texts had errors" in piped.stderr
    empty = run_cli("classify", exported[0], stdin="")
    assert empty.returncode == 1 and "no texts given" in empty.stderr and not empty.stdout


def test_unreadable_texts_and_low_scores_get_no_label(exported, float_classifier):
    readable = float_classifier.classify("A superb and lovely film.")
    assert readable.label == "pos" and readable.abstained is None
    assert readable.unknown_share == 0.0
    # Pieces the tokenizer never saw (emoji, another script) are all `<unk>`:
    # the model would answer as for an empty text, so it abstains instead.
    for text in ("\U0001F44D", "\u8fd9\u90e8\u7535\u5f71\u975e\u5e38\u597d\u770b"):
        prediction = float_classifier.classify(text)
        assert prediction.unknown_share == 1.0 and prediction.abstained == "unreadable"
        assert prediction.label is None and set(prediction.scores) == {"neg", "pos"}
    everything = Classifier.load(exported[0], recipe="float32", max_unknown=1.0)
    assert everything.classify("\U0001F44D").label in ("neg", "pos")
    strict = Classifier.load(exported[0], recipe="float32", score_threshold=1.0)
    low = strict.classify("A superb and lovely film.")
    assert low.label is None and low.abstained == "low_score" and low.score < 1.0
    for bad in ({"max_unknown": 1.5}, {"score_threshold": -0.1}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be a number in \\[0, 1\\]"):
            Classifier.load(exported[0], recipe="float32", **bad)
    out = run_cli("classify", exported[0], "\U0001F44D", "A superb and lovely film.")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["label"], r["abstained"]) for r in records] == [(None, "unreadable"), ("pos", None)]
    assert out.returncode == 0 and out.stderr == ""  # quiet by default: no XNNPACK line
    verbose = run_cli("classify", exported[0], "a film", "--verbose")
    assert '"recipe": "dynamic_int8"' in verbose.stderr


def test_cli_answers_bytes_that_are_not_utf8_with_an_error_record(exported, trained_dir):
    for command in (["classify", str(exported[0])], ["predict", str(trained_dir)]):
        result = subprocess.run([sys.executable, "-m", "albert_tf.apps.cli", *command],
                                input=b"caf\xe9 was lovely\nA superb and lovely film.\n",
                                capture_output=True, timeout=600,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        records = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
        assert result.returncode == 1, result.stderr[-2000:]
        assert records[0]["error"].startswith("text is not valid UTF-8")
        assert records[0]["text"] == "caf\ufffd was lovely"
        assert "error" not in records[1]


def test_cli_reads_texts_from_a_file_with_rows(exported, trained_dir, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,review\n1,A superb and lovely film.\n2,""\n3,"dull,\nand boring"\n')
    for command in (["classify", exported[0]], ["predict", trained_dir]):
        result = run_cli(*command, "--input", path, "--top-k", "1")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        # The header's column rule picks "review"; a quoted newline stays in its text.
        assert [r["row"] for r in records] == [2, 3, 5]  # the line a row ends on, as in errors
        assert records[0]["label"] == "pos" and records[2]["text"] == "dull,\nand boring"
        assert records[1]["error"] == "text is empty or whitespace only"
        assert result.returncode == 1 and "1 of 3 texts had errors" in result.stderr
    both = run_cli("classify", exported[0], "a text", "--input", path)
    assert both.returncode == 1 and "not both" in both.stderr


def test_the_bundled_model_loads_without_a_path():
    default, named = Classifier.load(), Classifier.load("sst2")
    assert default.bundle.model_path == named.bundle.model_path
    assert default.classify("a wonderful, moving film").label == "positive"
    with pytest.raises(ModelFileError, match="not a bundled model \\(sst2"):
        Classifier.load("sst3")


def test_a_path_spelled_as_a_short_name_wins_over_the_bundled_model(exported, tmp_path,
                                                                    monkeypatch):
    from albert_tf.bundled import BUNDLED_EMBEDDER, BUNDLED_MODEL, resolve

    monkeypatch.chdir(tmp_path)
    assert (resolve(None), resolve("sst2")) == (BUNDLED_MODEL, BUNDLED_MODEL)
    assert resolve(None, embedder=True) == resolve("sentences", embedder=True) == BUNDLED_EMBEDDER
    assert resolve("sst2", embedder=True) == "sst2"  # a model's name is not an embedder's
    shutil.copytree(exported[0], tmp_path / "sst2")
    assert resolve("sst2") == "sst2"
    loaded = os.path.abspath(Classifier.load("sst2").bundle.model_path)
    assert loaded.startswith(str(tmp_path)) and not loaded.startswith(BUNDLED_MODEL)


def test_cli_classify_errors_go_to_stderr_with_exit_1(exported, tmp_path):
    missing = run_cli("classify", tmp_path / "nope", "text")
    assert missing.returncode == 1 and "no such file" in missing.stderr and not missing.stdout
    bad = run_cli("classify", exported[0], "\x01\x02")
    assert bad.returncode == 1 and "no tokens" in json.loads(bad.stdout)["error"]


def test_benchmark_script_writes_its_report(exported, data_files, tmp_path):
    """The benchmark runs end to end on a tiny export (numbers not asserted)."""
    import json as json_module

    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "runtime_bench.py"), "--export",
         str(exported[0]), "--sst2", str(data_files / "dev.tsv"), "--out", str(tmp_path),
         "--recipes", "float32,int8", "--no-anchor", "--repeats", "2", "--sample", "5",
         "--accuracy"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json_module.loads((tmp_path / "bench.json").read_text())
    assert {r["format"] for r in report["latency"]} == {"float32", "int8"}
    assert report["accuracy"]["int8"]["accuracy"] > 0.8
    assert (tmp_path / "bench.png").exists() and "| int8 | 16 | 1 |" in \
        (tmp_path / "bench.md").read_text()


def test_mutated_model_files_are_refused_or_run_never_crash(exported, capsys):
    """Bit flips, truncations, oversized shapes: each mutant loads and runs in
    its own process; the only failures allowed are the kit's typed errors."""
    fuzz_model_files = benchmark_module("fuzz_model_files")
    fuzz_model_files.main(["--model", str(exported[0] / "int8.tflite"), "--mutants", "15",
                           "--timeout", "60"])
    report = json.loads(capsys.readouterr().out)
    assert sum(report["total"].values()) == 15
    assert set(report["total"]) <= {"ran", "refused"}, report
    assert report["by_mutation"]["truncate"] == {"refused": 5}


def test_streaming_stdin_keeps_every_line_in_order_with_errors_in_place(exported, data_files,
                                                                      capsys):
    stream_classify = benchmark_module("stream_classify")
    stream_classify.main(["--export", str(exported[0]), "--data", str(data_files / "dev.tsv"),
                          "--lines", "2100", "--threads", "1"])
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["lines_out"] == 2100 and run["out_of_order"] == 0, run
    assert run["error_records"] == run["expected_error_records"] == 4
    assert run["misplaced_error_records"] == 0 and run["exit_status"] == 1


def test_the_bundled_model_loads_with_an_exit_rule():
    """The bundle ships its adaptive file: exits off, it answers as the whole model
    (the same weights, quantized apart: probabilities within 1e-3, every dev label
    the same per the manifest); with a rule, confident sentences stop early."""
    texts = ["A gripping, funny and beautifully acted film.", "dull", "an utter mess",
             "The plot is thin and the ending drags on forever."]
    whole = Classifier.load("sst2").predict_proba(texts)
    off = Classifier.load("sst2", exit="none")
    np.testing.assert_allclose(off.predict_proba(texts), whole, atol=1e-3)
    row = next(r for r in off.bundle.manifest["parity"] if r["file"].startswith("adaptive_"))
    assert row["agreement_with_bundled_file"] == 1.0
    early = Classifier.load("sst2", exit="confidence:0.95").classify(texts)
    assert all(1 <= p.calls <= 4 for p in early) and min(p.calls for p in early) < 4
    assert [p.label for p in early] == ["positive", "negative", "negative", "negative"]
