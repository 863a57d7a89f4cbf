import json
import os
import shutil

import numpy as np
import pytest

import albert_tf
from albert_tf.inference.embedding import cosine_similarity
from albert_tf.errors import ModelDirError


@pytest.fixture
def model_copy(trained_dir, tmp_path):
    return shutil.copytree(trained_dir, tmp_path / "copy")


def test_manifest_lists_every_file_with_versions(trained_dir):
    meta = json.loads((trained_dir / "metadata.json").read_text())
    assert set(meta["files"]) >= {"config.json", "model.weights.h5", "labels.txt",
                                  "tokenizer/spiece.model", "tokenizer/tokenizer.json"}
    assert all(len(entry["sha256"]) == 64 for entry in meta["files"].values())
    assert {"albert_tf", "keras", "keras_backend", "sentencepiece"} <= set(meta["versions"])
    assert meta["eval_metrics"]["accuracy"] > 0.5 and meta["created"]
    config = json.loads((trained_dir / "config.json").read_text())
    assert config["model"]["backbone"]["config"]["hidden_dim"] == 32
    assert config["training"]["learning_rate"] == 3e-3


def test_reload_gives_identical_predictions(trained_dir):
    texts = ["A superb film.", "Dull and weak.", "the cast"]
    first = albert_tf.load(trained_dir).predict_proba(texts)
    second = albert_tf.load(trained_dir).predict_proba(texts)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("target", ["model.weights.h5", "labels.txt", "tokenizer/spiece.model"])
def test_tampered_file_is_refused(model_copy, target):
    with open(model_copy / target, "ab") as f:
        f.write(b"x")
    with pytest.raises(ModelDirError, match=f"{target} does not match its sha256"):
        albert_tf.load(model_copy)


def test_incomplete_directories_are_refused(model_copy, tmp_path):
    (model_copy / "labels.txt").unlink()
    with pytest.raises(ModelDirError, match="labels.txt is missing"):
        albert_tf.load(model_copy)
    meta = json.loads((model_copy / "metadata.json").read_text())
    del meta["files"]["labels.txt"]
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelDirError, match="does not list labels.txt"):
        albert_tf.load(model_copy)
    with pytest.raises(ModelDirError, match="no metadata.json"):
        albert_tf.load(tmp_path)
    with pytest.raises(ModelDirError, match="not a directory"):
        albert_tf.load(tmp_path / "nothing")


def test_labels_that_do_not_match_the_model_are_refused(model_copy):
    from albert_tf.artifacts.manifest import write_manifest

    (model_copy / "labels.txt").write_text("neg\npos\nneutral\n")
    meta = json.loads((model_copy / "metadata.json").read_text())
    write_manifest(model_copy, **{k: v for k, v in meta.items() if k not in ("files", "created")})
    with pytest.raises(ModelDirError, match="3 labels but the model outputs 2"):
        albert_tf.load(model_copy)


def test_embeddings_and_similarity(trained_dir):
    model = albert_tf.load(trained_dir)
    texts = ["A superb, lovely film.", "A superb, lovely film.", "awful"]
    for pooling in ("cls", "mean"):
        vectors = model.embed(texts, pooling=pooling)
        assert vectors.shape == (3, 32) and vectors.dtype == np.float32
        assert cosine_similarity(vectors[0], vectors[1]) == pytest.approx(1.0, abs=1e-5)
    # Mean pooling ignores padding: alone or beside a long text, same vector.
    alone = model.embed(["awful"], pooling="mean")[0]
    padded = model.embed(["awful", "the plot " * 10], pooling="mean")[0]
    np.testing.assert_allclose(alone, padded, atol=1e-5)
    matrix = cosine_similarity(vectors, vectors)
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1.0)
    with pytest.raises(ValueError, match="pooling must be one of"):
        model.embed(texts, pooling="max")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_directories_get_the_umask_permissions(tmp_path, umask):
    """Not mkdtemp's 0700: other users and containers can read a model."""
    from albert_tf.artifacts.manifest import AtomicDirectory

    previous = os.umask(umask)
    try:
        with AtomicDirectory(tmp_path / "model") as tmp:
            with open(os.path.join(tmp, "a.txt"), "w") as f:
                f.write("x")
    finally:
        os.umask(previous)
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o777 & ~umask


def test_recorded_paths_are_relative_to_the_project_or_short(tmp_path, monkeypatch):
    from albert_tf.artifacts.manifest import recorded_path

    monkeypatch.chdir(tmp_path)
    assert recorded_path(str(tmp_path / "runs" / "m")) == os.path.join("runs", "m")
    assert recorded_path("../data/train.tsv") == "../data/train.tsv"
    assert recorded_path("/somewhere/else/data/train.tsv") == os.path.join("data", "train.tsv")
