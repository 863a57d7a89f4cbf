import json
import os
import subprocess
import sys

import pytest

from tests.helpers import run_cli

COMMANDS = ["quickstart", "train-tokenizer", "train", "evaluate", "predict", "embed", "export",
            "classify", "demo"]


def test_help_everywhere():
    top = run_cli("--help")
    assert top.returncode == 0 and all(c in top.stdout for c in COMMANDS)
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage: albert-tf " + command in result.stdout


def test_usage_errors_exit_2():
    result = run_cli("train", "--preset", "giant", "--train", "x", "--out", "y")
    assert result.returncode == 2 and "invalid choice: 'giant'" in result.stderr
    assert run_cli().returncode == 2
    unknown = run_cli("predict", "x", "--bogus")  # the command's usage, not the top level's
    assert unknown.returncode == 2
    assert "albert-tf predict: error: unrecognized arguments: --bogus" in unknown.stderr
    assert "usage: albert-tf predict" in unknown.stderr


@pytest.mark.parametrize("argv", [
    ["classify", "x", "--top-k", "0"], ["classify", "x", "--threads", "0"],
    ["classify", "x", "--batch-size", "-1"], ["classify", "x", "--max-unknown", "2"],
    ["demo", "--threads", "0"], ["demo", "--port", "70000"],
    ["predict", "x", "--batch-size", "0"], ["predict", "x", "--top-k", "0"],
    ["train", "--train", "x", "--out", "y", "--max-train-examples", "0"],
    ["teacher", "--train", "x", "--out", "y", "--threads", "0"],
    ["export", "x", "--out", "y", "--min-agreement", "1.5"],
])
def test_out_of_range_numbers_are_usage_errors(argv):
    result = run_cli(*argv)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"albert-tf {argv[0]}: error: ")
    assert "Traceback" not in result.stderr


def test_train_tokenizer(tmp_path, data_files):
    result = run_cli("train-tokenizer", "--input", data_files / "train.tsv", "--out",
                     tmp_path / "tok", "--vocab-size", "100")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["vocab_size"] <= 100
    assert (tmp_path / "tok" / "spiece.model").exists()


def test_train_then_evaluate_predict_embed(tmp_path, data_files):
    out = tmp_path / "model"
    result = run_cli(
        "train", "--train", data_files / "train.tsv", "--eval", data_files / "dev.tsv",
        "--out", out, "--preset", "tiny", "--epochs", "1", "--vocab-size", "150",
        "--max-length", "32", "--max-train-examples", "64", "--batch-size", "16")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds only the JSON result
    assert summary["out"] == str(out) and 0 <= summary["accuracy"] <= 1

    result = run_cli("evaluate", out, "--data", data_files / "dev.tsv")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accuracy"] == pytest.approx(summary["accuracy"])
    assert report["num_examples"] == 100 and len(report["confusion_matrix"]) == 2

    # Options and texts in any order.
    for args in (("a superb film", "--top-k", "1"), ("--top-k", "1", "a superb film")):
        result = run_cli("predict", out, *args)
        line = json.loads(result.stdout)
        assert line["text"] == "a superb film" and line["label"] in ("pos", "neg")
        assert len(line["scores"]) == 1 and line["score"] == line["scores"][line["label"]]
        # The runtime's record, field for field (albert_tf.prediction).
        assert set(line) == {"text", "label", "score", "scores", "truncated", "num_tokens",
                             "unknown_share", "abstained"}

    # One rule for every command: each text gets its line, in order; an empty
    # one gets an error record in its place, and the exit status says so.
    result = run_cli("predict", out, stdin="first line\n\nsecond line\n")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["text"] for x in lines] == ["first line", "", "second line"]
    assert "label" in lines[2] and lines[1] == {"text": "", "error": "text is empty or "
                                                                      "whitespace only"}
    assert result.returncode == 1 and "1 of 3 texts had errors" in result.stderr

    result = run_cli("embed", out, "--pooling", "mean", "a film", "")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines[0]["embedding"]) > 0 and "error" in lines[1] and result.returncode == 1


def test_errors_go_to_stderr_with_exit_1(tmp_path, trained_dir):
    result = run_cli("train", "--train", tmp_path / "missing.tsv", "--out", tmp_path / "o")
    assert result.returncode == 1 and result.stdout == ""
    assert "missing.tsv: no such file" in result.stderr and "Traceback" not in result.stderr

    result = run_cli("predict", tmp_path, "text")
    assert result.returncode == 1 and "no metadata.json" in result.stderr

    result = run_cli("predict", trained_dir, stdin="")
    assert result.returncode == 1 and "no texts given" in result.stderr and not result.stdout

    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\ngreat\tmaybe\n")
    result = run_cli("evaluate", trained_dir, "--data", bad)
    assert result.returncode == 1 and "bad.tsv:2: unknown label 'maybe'" in result.stderr


MISSING = """
import importlib.abc, sys
class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Missing())
from albert_tf.apps.cli import main
sys.exit(main({argv!r}))
"""


@pytest.mark.parametrize("module, argv, extra", [
    ("keras", ["train", "--train", "t.tsv", "--out", "o"], ".[tensorflow]"),
    ("keras", ["export", "m", "--out", "o"], ".[export]"),
    ("tensorflow_text", ["export", "m", "--out", "o"], ".[export]"),
    ("gradio", ["demo", "--port", "0"], ".[demo]"),
], ids=["train-keras", "export-keras", "export-tf-text", "demo-gradio"])
def test_a_missing_extra_is_named_in_one_line(tmp_path, module, argv, extra):
    """Also: TensorFlow's start-up lines (oneDNN, cuInit) do not reach the user."""
    (tmp_path / "t.tsv").write_text("sentence\tlabel\nfine\tpos\n")
    result = subprocess.run([sys.executable, "-c", MISSING.format(module=module, argv=argv)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={k: v for k, v in os.environ.items()
                                 if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f'pip install -e "{extra}"' in lines[0], result.stderr
    assert f"needs {module}" in lines[0]


def test_quickstart_says_what_its_model_is_for(tmp_path):
    result = run_cli("quickstart", "--out", tmp_path / "qs", "--epochs", "1",
                     "--max-train-examples", "64")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert "synthetic" in summary["note"] and "albert-tf demo" in summary["note"]
