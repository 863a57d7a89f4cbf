import gzip
import json

import pytest

from albert_tf.text.data import Examples, LabelVocab, iter_text_lines, load_examples
from albert_tf.errors import DataError
from tests.helpers import write_tsv


def test_tsv_with_csv_style_quotes(tmp_path):
    # AG News quotes fields that contain quotes, CSV-style, inside a TSV.
    path = tmp_path / "news.tsv"
    path.write_text('text\tlabel\n"He said ""hi"" today"\tWorld\nplain text\tSports\n')
    examples = load_examples(path)
    assert examples.texts == ['He said "hi" today', "plain text"]
    assert examples.labels == ["World", "Sports"]


def test_csv_jsonl_and_gzip(tmp_path):
    csv_path = tmp_path / "a.csv"
    csv_path.write_text('review,score\n"good, really",pos\n')
    assert load_examples(csv_path, label_column="score").texts == ["good, really"]
    jsonl = tmp_path / "b.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "fine", "label": "pos", "rating": 8}) + "\n\n")
        f.write(json.dumps({"text": "bad", "label": "neg"}) + "\n")
    examples = load_examples(jsonl)
    assert examples.texts == ["fine", "bad"] and examples.labels == ["pos", "neg"]
    assert list(iter_text_lines(jsonl)) == ["fine", "bad"]


def test_sentence_pairs(tmp_path):
    path = write_tsv(tmp_path / "p.tsv", [("a cat", "a dog", "no")], ("q1", "q2", "label"))
    examples = load_examples(path, text_column="q1", text_pair_column="q2")
    assert examples.pairs == ["a dog"]


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("sentence\tlabel\n", "no rows"),
    ("text\tgold\nhi\tpos\n", "no label column 'label'"),
    ("words\tlabel\nhi\tpos\n", "cannot tell which column"),
    ("sentence\tlabel\nhi\tpos\textra\n", ":2: 3 fields"),
    ("sentence\tlabel\nok\tpos\n \tneg\n", ":3: empty or missing text"),
    ("sentence\tlabel\nok\t\n", ":2: empty label"),
])
def test_bad_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as error:
        load_examples(path)
    assert "bad.tsv" in str(error.value)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("sentence\tlabel\nok\tpos\ncaf\xe9\tneg\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.tsv:3: not valid UTF-8"):
        load_examples(path)


def test_wrong_file_types(tmp_path):
    with pytest.raises(DataError, match="unknown file type"):
        load_examples(tmp_path / "data.parquet")
    with pytest.raises(DataError, match="no such file"):
        load_examples(tmp_path / "missing.tsv")
    fake_gz = tmp_path / "fake.jsonl.gz"
    fake_gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        load_examples(fake_gz)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "a", "label": "x"}\n{oops\n')
    with pytest.raises(DataError, match="bad.jsonl:2: not valid JSON"):
        load_examples(bad_json)


def test_label_vocab_order_and_unknown_labels(tmp_path):
    vocab = LabelVocab.from_examples(Examples(["a"] * 3, labels=["10", "2", "1"]))
    assert vocab.names == ["1", "2", "10"]  # numeric, not string, order
    dev = Examples(["a", "b"], labels=["2", "7"], line_numbers=[2, 3], source="dev.tsv")
    with pytest.raises(DataError, match=r"dev.tsv:3: unknown label '7'"):
        vocab.encode(dev)
    vocab.save(tmp_path / "labels.txt")
    assert LabelVocab.load(tmp_path / "labels.txt") == vocab
    with pytest.raises(DataError, match="at least 2 classes"):
        LabelVocab(["only"])


def test_multi_label(tmp_path):
    path = write_tsv(tmp_path / "m.tsv", [("a", "x|y"), ("b", "y"), ("c", " z | x ")])
    examples = load_examples(path, multi_label=True)
    assert examples.labels == [["x", "y"], ["y"], ["x", "z"]]
    vocab = LabelVocab.from_examples(examples, multi_label=True)
    assert vocab.encode(examples) == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_subset_keeps_every_field_aligned():
    examples = Examples(["a", "b", "c"], pairs=["x", "y", "z"], labels=["1", "2", "3"],
                        line_numbers=[2, 3, 4], source="f.tsv")
    picked = examples.subset([2, 0])
    assert (picked.texts, picked.pairs, picked.labels, picked.line_numbers) == (
        ["c", "a"], ["z", "x"], ["3", "1"], [4, 2])
    assert picked.source == "f.tsv" and Examples(["a"]).subset([0]).pairs is None


# --- fuzzing the loaders (issue 14, item 6) ---------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FIELDS = st.sampled_from(["sentence", "text", "label", "x", "", "\"", "a\tb", "é", "\x00",
                           "0", "1", "pos", "neg", "{", "}", "[", "null", "\n", "\r\n"])


def _fuzz_bytes(suffix):
    """Mostly well-formed rows with hostile pieces, plus arbitrary bytes."""
    separator = {"tsv": "\t", "csv": ","}.get(suffix, "\t")
    rows = st.lists(st.lists(_FIELDS, min_size=0, max_size=4).map(separator.join),
                    min_size=0, max_size=6).map(lambda r: "\n".join(r).encode("utf-8"))
    jsonl = st.lists(st.one_of(
        st.fixed_dictionaries({"text": st.text(max_size=8), "label": st.sampled_from(
            ["pos", "neg", 1, None, [], {}])}),
        st.text(max_size=12)), max_size=5).map(
        lambda items: "\n".join(json.dumps(i) if not isinstance(i, str) else i
                                for i in items).encode("utf-8"))
    return st.one_of(rows, jsonl if suffix == "jsonl" else rows, st.binary(max_size=200))


@pytest.mark.parametrize("suffix", ["tsv", "csv", "jsonl", "tsv.gz", "jsonl.gz"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_loaders_fail_only_with_the_kits_typed_errors(tmp_path, suffix, data):
    from albert_tf.errors import AlbertTfError

    content = data.draw(_fuzz_bytes(suffix.split(".")[0]))
    path = tmp_path / f"fuzz.{suffix}"
    path.write_bytes(gzip.compress(content) if suffix.endswith(".gz") else content)
    for require_labels in (True, False):
        try:
            examples = load_examples(str(path), require_labels=require_labels)
        except AlbertTfError:
            continue
        assert all(isinstance(t, str) and t.strip() for t in examples.texts)


def test_head_refuses_rows_sorted_by_label(tmp_path):
    path = write_tsv(tmp_path / "sorted.tsv", [("bad", "neg"), ("awful", "neg"), ("fine", "pos")])
    examples = load_examples(path)
    assert examples.head(None) is examples and examples.head(5) is examples
    assert examples.head(3).texts == ["bad", "awful", "fine"]
    with pytest.raises(DataError, match=r"sorted\.tsv: the first 2 rows have no 'pos' label"):
        examples.head(2)
    unlabelled = Examples(["a", "b"])
    assert unlabelled.head(1).texts == ["a"]
    multi = Examples(["a", "b"], labels=[["x"], ["x", "y"]])
    with pytest.raises(DataError, match="'y'"):
        multi.head(1)
