import json

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

    result = run_cli("predict", out, "a superb film", "--top-k", "1")
    line = json.loads(result.stdout)
    assert line["text"] == "a superb film" and line["label"] in ("pos", "neg")
    assert len(line["probabilities"]) == 1

    result = run_cli("predict", out, stdin="first line\n\nsecond line\n")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["text"] for x in lines] == ["first line", "second line"]

    result = run_cli("embed", out, "a film", "--pooling", "mean")
    assert len(json.loads(result.stdout)["embedding"]) > 0


def test_errors_go_to_stderr_with_exit_1(tmp_path, trained_dir):
    result = run_cli("train", "--train", tmp_path / "missing.tsv", "--out", tmp_path / "o")
    assert result.returncode == 1 and result.stdout == ""
    assert "missing.tsv: no such file" in result.stderr and "Traceback" not in result.stderr

    result = run_cli("predict", tmp_path, "text")
    assert result.returncode == 1 and "no metadata.json" in result.stderr

    result = run_cli("predict", trained_dir, stdin="\n  \n")
    assert result.returncode == 1 and "no texts given" in result.stderr

    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\ngreat\tmaybe\n")
    result = run_cli("evaluate", trained_dir, "--data", bad)
    assert result.returncode == 1 and "bad.tsv:2: unknown label 'maybe'" in result.stderr
