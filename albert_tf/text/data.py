"""Reading labelled text from CSV, TSV and JSON lines files (optionally .gz).

Keras-free: the runtime and the demo read batch files with the same code.
Every problem is a `DataError` naming the file and, where there is one,
the line, because a user with a 67k-row file needs to know where to look.
"""

import csv
import dataclasses
import gzip
import json
import os
import sys

from albert_tf.errors import DataError

TEXT_COLUMN_CANDIDATES = ("text", "sentence", "review", "content", "question")
SUPPORTED_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".txt")
csv.field_size_limit(min(sys.maxsize, 1 << 30))


def file_format(path):
    """`tsv`, `csv`, `jsonl` or `txt` from the file name (a `.gz` is looked through)."""
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return {"json": "jsonl"}.get(suffix[1:], suffix[1:])
    raise DataError(
        f"{path}: unknown file type; expected one of "
        f"{', '.join(SUPPORTED_SUFFIXES)} (optionally .gz)")


def _open_binary(path, opener=None):
    if opener is not None:  # another file system (Beam's FileSystems.open: it un-gzips)
        return opener(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    return gzip.open(path, "rb") if os.fspath(path).endswith(".gz") else open(path, "rb")


def _decoded_lines(path, opener=None):
    """Lines of `path` as str, failing with the line number on bad UTF-8."""
    with _open_binary(path, opener) as f:
        try:
            # readline, not iteration: Beam's CompressedFile has only the former.
            for number, raw in enumerate(iter(f.readline, b""), start=1):
                try:
                    yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as error:
                    raise DataError(
                        f"{path}:{number}: not valid UTF-8 ({error.reason} at byte "
                        f"{error.start}); re-encode the file as UTF-8") from None
        except (OSError, EOFError) as error:  # e.g. a truncated or fake .gz
            raise DataError(f"{path}: cannot read: {error}") from None


def read_records(path, opener=None):
    """Yield `(line_number, record_dict)` for every row of a data file.

    TSV and CSV files need a header row. TSV fields may be quoted CSV-style
    (AG News is); JSON lines files hold one object per line. `opener(path)`, when
    given, opens the file as binary (and decompressed), for paths on another
    file system.
    """
    fmt = file_format(path)
    if fmt == "txt":
        for number, line in enumerate(_decoded_lines(path, opener), start=1):
            if line.strip():
                yield number, {"text": line.rstrip("\r\n")}
        return
    if fmt == "jsonl":
        for number, line in enumerate(_decoded_lines(path, opener), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not valid JSON: {error.msg}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield number, record
        return
    lines = _decoded_lines(path, opener)
    reader = csv.reader(lines, delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty (expected a header row)") from None
    except csv.Error as error:
        raise DataError(f"{path}:1: {error}") from None
    header = [name.strip() for name in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(f"{path}:{reader.line_num}: {error}") from None
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}:{reader.line_num}: {len(row)} fields but the header has "
                f"{len(header)} ({', '.join(header)}); is a quote left open?")
        yield reader.line_num, dict(zip(header, row))


@dataclasses.dataclass
class Examples:
    """Texts (and optional second texts) with their raw string labels.

    `labels[i]` is a str, or a list of str for multi-label data, or `None`
    when the file has no labels (prediction input). `line_numbers` point
    back into `source` for error messages.
    """

    texts: list
    pairs: list = None
    labels: list = None
    line_numbers: list = None
    source: str = "<memory>"

    def __len__(self):
        return len(self.texts)

    def subset(self, rows):
        """The examples at indices `rows`, in that order."""
        def pick(values):
            return None if values is None else [values[i] for i in rows]

        return Examples(pick(self.texts), pick(self.pairs), pick(self.labels),
                        pick(self.line_numbers), self.source)

    def head(self, n):
        """The first `n` examples (all when `n` is None or 0), as Hugging Face's
        `--max_train_samples` takes them; fails if they miss a label the file has.

        Many files are sorted by label (IMDB's first 12,500 reviews are all
        negative), and a model fitted to one class would look trained.
        """
        if not n or n >= len(self):
            return self
        taken = self.subset(range(n))
        if self.labels is not None:
            missing = sorted(_label_set(self.labels) - _label_set(taken.labels))
            if missing:
                raise DataError(
                    f"{self.source}: the first {n} rows have no {', '.join(map(repr, missing))} "
                    "label (is the file sorted by label?); shuffle it or take more rows")
        return taken


    def renamed(self, mapping):
        """The same examples with labels renamed by `mapping` (a label it does not
        name keeps its value): "0"/"1" in a file become "negative"/"positive"."""
        if not mapping or self.labels is None:
            return self

        def rename(label):
            if isinstance(label, list):
                return [mapping.get(item, item) for item in label]
            return None if label is None else mapping.get(label, label)

        return dataclasses.replace(self, labels=[rename(label) for label in self.labels])


def parse_label_names(text):
    """`"0=negative,1=positive"` (or a JSON object) -> {"0": "negative", "1": "positive"};
    a clear error for anything else."""
    if text is None or isinstance(text, dict):
        return text
    text = str(text).strip()
    try:
        mapping = json.loads(text) if text.startswith("{") else dict(
            (part.split("=", 1)[0].strip(), part.split("=", 1)[1].strip())
            for part in text.split(",") if part.strip())
    except (ValueError, IndexError):
        raise DataError(f"label names must look like '0=negative,1=positive' or a JSON "
                        f"object, got {text!r}") from None
    mapping = {str(k): str(v) for k, v in mapping.items()}
    if not mapping or not all(k and v for k, v in mapping.items()):
        raise DataError(f"label names must look like '0=negative,1=positive', got {text!r}")
    if len(set(mapping.values())) != len(mapping):
        raise DataError(f"label names map two labels to one name: {text!r}")
    return mapping


def _label_set(labels):
    """Every label name in `labels` (str, or lists of str for multi-label rows)."""
    names = set()
    for label in labels:
        names.update(label if isinstance(label, list) else [label])
    return names


def _pick_text_column(path, columns, requested):
    if requested:
        if requested not in columns:
            raise DataError(
                f"{path}: no column {requested!r}; columns are: {', '.join(columns)}")
        return requested
    for name in TEXT_COLUMN_CANDIDATES:
        if name in columns:
            return name
    raise DataError(
        f"{path}: cannot tell which column holds the text; pass --text-column "
        f"(columns are: {', '.join(columns)})")


def _parse_label(value, multi_label, separator):
    if multi_label:
        parts = value if isinstance(value, list) else str(value).split(separator)
        return sorted({str(p).strip() for p in parts if str(p).strip()})
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected one label, got {value!r:.60}; use --multi-label")
    return str(value).strip()


def iter_rows(path, text_column=None, label_column="label", text_pair_column=None,
              opener=None):
    """Yield `(line_number, text, label)` for every row of a data file, streaming,
    with `load_examples`' column rules; `label` is None where the file has no
    `label_column`, and a missing or non-string text is yielded as "" (for the
    caller's own rule: an error record in its place, not a failed file). With
    `text_pair_column`, `text` is a `(text, pair)` tuple (a .txt file has no
    columns to take a pair from). `opener` as in `read_records`."""
    if file_format(path) == "txt":
        if text_pair_column:
            raise DataError(f"{path}: a .txt file has no columns; text pairs need a "
                            ".tsv/.csv/.jsonl file with the pair column")
        # Every line, blank ones too: each gets its record (read_records, for
        # training, passes over them), as stdin lines do.
        for number, line in enumerate(_decoded_lines(path, opener), start=1):
            yield number, line.rstrip("\r\n"), None
        return
    column = None
    as_text = lambda value: value if isinstance(value, str) else ""  # noqa: E731
    for number, record in read_records(path, opener):
        if column is None:
            column = _pick_text_column(path, list(record), text_column)
            if text_pair_column:
                _pick_text_column(path, list(record), text_pair_column)
        text, label = record.get(column), record.get(label_column) if label_column else None
        text = as_text(text)
        if text_pair_column:
            text = (text, as_text(record.get(text_pair_column)))
        yield number, text, None if label is None else str(label)


def load_examples(path, text_column=None, text_pair_column=None,
                  label_column="label", require_labels=True, multi_label=False,
                  label_separator="|"):
    """Read a labelled (or, with `require_labels=False`, unlabelled) file.

    Example:
    ```python
    examples = load_examples("../shared/data/sst2/dev.tsv")
    examples.texts[0], examples.labels[0]
    ```
    """
    path = os.fspath(path)
    texts, pairs, labels, numbers = [], [], [], []
    columns = None
    for number, record in read_records(path):
        if columns is None:
            columns = list(record)
            text_column = _pick_text_column(path, columns, text_column)
            if text_pair_column:
                _pick_text_column(path, columns, text_pair_column)
            has_labels = label_column in columns
            if require_labels and not has_labels:
                raise DataError(
                    f"{path}: no label column {label_column!r}; columns are: "
                    f"{', '.join(columns)} (pass --label-column)")
        text = record.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{number}: empty or missing text in column {text_column!r}")
        texts.append(text)
        numbers.append(number)
        if text_pair_column:
            pair = record.get(text_pair_column)
            if not isinstance(pair, str) or not pair.strip():
                raise DataError(
                    f"{path}:{number}: empty or missing text in column {text_pair_column!r}")
            pairs.append(pair)
        if has_labels:
            value = record.get(label_column)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError(f"{path}:{number}: empty label in column {label_column!r}")
            try:
                labels.append(_parse_label(value, multi_label, label_separator))
            except ValueError as error:
                raise DataError(f"{path}:{number}: {error}") from None
    if not texts:
        raise DataError(f"{path}: no rows (only a header or blank lines)")
    return Examples(texts, pairs if text_pair_column else None,
                    labels if has_labels else None, numbers, path)


def iter_text_lines(path, text_column=None):
    """Texts of any supported file, for tokenizer training (labels ignored)."""
    if file_format(path) == "txt":
        for _, record in read_records(path):
            yield record["text"]
        return
    column = None
    for number, record in read_records(path):
        if column is None:
            column = _pick_text_column(path, list(record), text_column)
        text = record.get(column)
        if isinstance(text, str) and text.strip():
            yield text


def write_text_lines(path, texts):
    """A .txt file `iter_text_lines` reads back as `texts` (newlines inside a text
    become spaces; blank texts are not written, as a blank line is not read)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(" ".join(text.splitlines()) + "\n" for text in texts if text.strip())


class LabelVocab:
    """The ordered label names of a task; position = class index.

    Built from the training file so evaluation files cannot invent classes.
    Integer-like labels sort numerically ("2" before "10"), others by name.
    """

    def __init__(self, names, multi_label=False):
        names = [str(n) for n in names]
        if not names:
            raise DataError("a label vocabulary needs at least one label")
        if len(set(names)) != len(names):
            raise DataError(f"duplicate labels in {names}")
        for name in names:
            if not name.strip() or "\n" in name or "\r" in name:
                raise DataError(f"invalid label name {name!r}")
        if not multi_label and len(names) < 2:
            raise DataError(f"single-label classification needs at least 2 classes, got {names}")
        self.names = names
        self.multi_label = multi_label
        self._index = {n: i for i, n in enumerate(names)}

    @classmethod
    def from_examples(cls, examples, multi_label=False):
        seen = _label_set(examples.labels)
        as_int = all(s.lstrip("-").isdigit() for s in seen)
        return cls(sorted(seen, key=int if as_int else str), multi_label)

    def __len__(self):
        return len(self.names)

    def __eq__(self, other):
        return (isinstance(other, LabelVocab) and self.names == other.names
                and self.multi_label == other.multi_label)

    def encode(self, examples):
        """Class indices (single-label) or multi-hot rows (multi-label), as lists."""
        if examples.labels is None:
            raise DataError(f"{examples.source}: the file has no labels")
        encoded = []
        for i, label in enumerate(examples.labels):
            wanted = label if self.multi_label else [label]
            unknown = [w for w in wanted if w not in self._index]
            if unknown:
                line = examples.line_numbers[i] if examples.line_numbers else i + 1
                raise DataError(
                    f"{examples.source}:{line}: unknown label {unknown[0]!r}; the model "
                    f"knows {', '.join(self.names)}")
            if self.multi_label:
                row = [0.0] * len(self.names)
                for w in wanted:
                    row[self._index[w]] = 1.0
                encoded.append(row)
            else:
                encoded.append(self._index[label])
        return encoded

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(n + "\n" for n in self.names))

    @classmethod
    def load(cls, path, multi_label=False):
        with open(path, encoding="utf-8") as f:
            names = [line.rstrip("\n") for line in f if line.strip()]
        return cls(names, multi_label)
