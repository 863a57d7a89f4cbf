"""Apache Beam: the runtime's ModelHandler, `ClassifyTexts` in a user's own pipeline,
and `albert-tf classify-files` on the DirectRunner with two worker processes,
record for record equal to `albert-tf classify`."""

import glob
import gzip
import json
import random
import subprocess
import sys

import pytest

from tests.helpers import run_cli

beam = pytest.importorskip("apache_beam")

from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline  # noqa
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

from albert_tf.runtime import Classifier  # noqa: E402
from albert_tf.runtime.beam import ClassifierModelHandler, ClassifyTexts  # noqa: E402

WORDS = ("a gripping funny film dull mess lovely moving plot acting superb boring the "
         "story and but slow charming awful witty").split()
# Texts the runtime refuses (an error record each) or cannot read (no label).
BAD = ("", "   ")
UNREADABLE = ("👍👍", "这部电影非常好看")
# A float file: a text's scores do not depend on which texts share its batch
# (but for float rounding). The int8 files' do: dynamic_int8 quantizes activations per batch (the 4th
# digit moves with batch mates) and int8's fixed scales see the padding the
# batch's longest text brings (the 3rd digit moves).
RECIPE = ("--recipe", "float16")


def sentences(rng, n):
    out = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.04:
            out.append(rng.choice(BAD))
        elif pick < 0.06:
            out.append(rng.choice(UNREADABLE))
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14))))
    return out


@pytest.fixture(scope="module")
def three_files(tmp_path_factory):
    """5,000 rows in a .tsv, a .jsonl.gz (missing and non-string texts too) and a
    .txt (blank lines keep their place)."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("beam-files")
    tsv, jsonl, txt = root / "a.tsv", root / "b.jsonl.gz", root / "c.txt"
    tsv.write_text("id\tsentence\n" + "".join(
        f"{i}\t{text}\n" for i, text in enumerate(sentences(rng, 2000))), encoding="utf-8")
    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        for i, text in enumerate(sentences(rng, 2000)):
            record = {"id": i} if i % 97 == 5 else {"id": i, "text": 7 if i % 89 == 0 else text}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    txt.write_text("".join(f"{text}\n" for text in sentences(rng, 1000)), encoding="utf-8")
    return [tsv, jsonl, txt]


def records_by_source(lines, path=None):
    out = {}
    for line in lines:
        record = json.loads(line)
        key = (record.pop("file", str(path)), record.pop("row"))
        assert key not in out
        out[key] = record
    return out


def assert_same_record(got, expected, key):
    """Labels, abstentions, errors and token counts exactly; probabilities to float
    rounding (XNNPACK's kernels for another batch shape)."""
    def exact(record):
        return {k: list(v) if isinstance(v, dict) else v for k, v in record.items()
                if not isinstance(v, float)}

    def numbers(record):
        return [record.get("score"), *record.get("scores", {}).values()]

    assert exact(got) == exact(expected), key
    assert numbers(got) == pytest.approx(numbers(expected), abs=1e-5), key


def test_classify_files_on_two_workers_equals_classify(three_files, tmp_path):
    prefix = tmp_path / "out" / "preds"
    result = run_cli("classify-files", "sst2", "--input", three_files[0],
                     str(three_files[0].parent / "*.gz"), three_files[2],
                     "--output", prefix, "--workers", "2", "--top-k", "1", *RECIPE)
    assert result.returncode == 1, result.stderr[-3000:]  # some rows are errors
    shards = sorted(glob.glob(f"{prefix}-*-of-*.jsonl"))
    assert shards, result.stderr[-3000:]
    got = records_by_source(line for shard in shards for line in open(shard, encoding="utf-8"))

    expected = {}
    for path in three_files:
        one = run_cli("classify", "sst2", "--input", path, "--top-k", "1", *RECIPE)
        assert one.returncode == 1
        expected.update(records_by_source(one.stdout.splitlines(), path))
    assert len(expected) == 5000
    assert got.keys() == expected.keys()
    for key, record in expected.items():
        assert got[key].keys() == record.keys(), key
        assert_same_record(got[key], record, key)
    errors = [r for r in got.values() if "error" in r]
    assert errors and {r["error"] for r in errors} == {"text is empty or whitespace only"}
    assert any(r.get("abstained") == "unreadable" for r in got.values())
    assert f"{len(errors)} had errors" in result.stderr and "5000 records" in result.stderr

    again = run_cli("classify-files", "sst2", "--input", three_files[2], "--output", prefix)
    assert again.returncode == 1 and "--overwrite" in again.stderr  # nothing replaced unasked
    assert sorted(glob.glob(f"{prefix}-*-of-*.jsonl")) == shards


def test_the_handler_runs_in_a_users_own_pipeline():
    texts = ["a gripping, funny film", "a dull mess", "", "👍", "superb acting"]
    expected = [{"text": t, **Classifier.load("sst2").classify(t).to_dict()} if t.strip()
                else {"text": t, "error": "text is empty or whitespace only"} for t in texts]
    handler = ClassifierModelHandler("sst2", min_batch_size=2, max_batch_size=3)
    with BeamPipeline() as pipeline:
        plain = pipeline | "Texts" >> beam.Create(texts) | "Classify" >> ClassifyTexts(handler)
        keyed = (pipeline | "Keyed" >> beam.Create(list(enumerate(texts)))
                 | "ClassifyKeyed" >> ClassifyTexts(handler, keyed=True))
        labels = plain | beam.Map(lambda r: (r["text"], r.get("label"), r.get("error")))
        assert_that(labels, equal_to([(r["text"], r.get("label"), r.get("error"))
                                      for r in expected]), label="plain")
        assert_that(keyed | beam.Map(lambda kr: (kr[0], kr[1]["text"])),
                    equal_to(list(enumerate(texts))), label="keyed")


def test_handler_options_are_checked_before_a_worker_starts():
    with pytest.raises(ValueError, match="long_texts must be one of .*'pages'"):
        ClassifierModelHandler("sst2", long_texts="pages")
    with pytest.raises(ValueError, match="min_batch_size=64 is over max_batch_size=8"):
        ClassifierModelHandler("sst2", min_batch_size=64, max_batch_size=8)
    with pytest.raises(ValueError, match="max_unknown must be a number in \\[0, 1\\], got 2"):
        ClassifierModelHandler("sst2", max_unknown=2)
    with pytest.raises(TypeError, match="needs a ClassifierModelHandler"):
        ClassifyTexts(object())


def test_classify_files_errors_before_the_pipeline_are_one_line(three_files, tmp_path):
    out = ["--output", tmp_path / "o"]
    cases = [(["classify-files", tmp_path / "nope", "--input", three_files[0]], "no such file"),
             (["classify-files", "sst2", "--input", tmp_path / "*.csv"], "no file matches"),
             (["classify-files", "sst2", "--input", three_files[0], "--text-column", "review"],
              "no column 'review'; columns are: id, sentence")]
    for args, message in cases:
        result = run_cli(*args, *out)
        assert result.returncode == 1, result.stderr
        lines = [line for line in result.stderr.splitlines() if "apitools" not in line]
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert not glob.glob(str(tmp_path / "o*"))
    # A bad row a worker meets mid-file: the command's one line, and no output
    # (not even Beam's temporary folder).
    broken = tmp_path / "broken.tsv"
    broken.write_text("sentence\n" + "a fine film\n" * 300 + "two\tfields\n", encoding="utf-8")
    result = run_cli("classify-files", "sst2", "--input", broken, *out, "--workers", "2")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].endswith(
        "broken.tsv:302: 2 fields but the header has 1 (sentence); is a quote left open?")
    assert "Traceback" not in result.stderr
    assert not glob.glob(str(tmp_path / "o*")) + glob.glob(str(tmp_path / "beam-temp-*"))
    usage = run_cli("classify-files", "sst2", "--input", three_files[0], *out, "--bogus")
    assert usage.returncode == 2 and "unrecognized arguments: --bogus" in usage.stderr


def test_the_runtime_and_the_cli_parser_do_not_import_beam():
    code = ("import sys, albert_tf.runtime\nfrom albert_tf.apps.cli import build_parser\n"
            "build_parser()\nassert 'apache_beam' not in sys.modules, 'beam imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
