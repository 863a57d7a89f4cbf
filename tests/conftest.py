import os

# The main test process runs on TensorFlow; JAX parity runs in a subprocess.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from tests import helpers  # noqa: E402


@pytest.fixture(scope="session")
def corpus():
    return helpers.sentiment_rows(600, seed=1)


@pytest.fixture(scope="session")
def tokenizer(corpus):
    from albert_tf.text.tokenizer import AlbertTokenizer

    return AlbertTokenizer.train([text for text, _ in corpus], vocab_size=200)


@pytest.fixture(scope="session")
def data_files(tmp_path_factory, corpus):
    """train.tsv / dev.tsv of an easy, learnable sentiment task."""
    root = tmp_path_factory.mktemp("data")
    helpers.write_tsv(root / "train.tsv", corpus[:500])
    helpers.write_tsv(root / "dev.tsv", corpus[500:])
    return root


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory, data_files):
    """A model directory trained once for the tests that only read one."""
    import albert_tf

    out = tmp_path_factory.mktemp("models") / "sentiment"
    albert_tf.train(**helpers.fast_train_kwargs(data_files, out))
    return out


@pytest.fixture(scope="session")
def exported(trained_dir, data_files, tmp_path_factory):
    """The trained model exported once, every recipe: `(dir, {file: parity row})`."""
    pytest.importorskip("tensorflow_text", reason="export needs `pip install -e .[export]`")
    from albert_tf.export import export_model

    out = tmp_path_factory.mktemp("export") / "sentiment"
    rows = export_model(model_dir=str(trained_dir), out=str(out),
                        recipes=["float32", "float16", "dynamic_int8", "int8"],
                        calibration=str(data_files / "train.tsv"),
                        eval=str(data_files / "dev.tsv"),
                        mediapipe_recipes=("float32", "dynamic_int8"), min_agreement=0.9)
    return out, {row["file"]: row for row in rows}
