"""Apache Beam: the kit's classifier on many workers (`pip install -e ".[beam]"`).

Beam's RunInference ships handlers for TensorFlow, PyTorch, scikit-learn and
ONNX, none for LiteRT, and its TensorFlow handler does not load Keras 3
SavedModels (apache/beam#30616). `ClassifierModelHandler` is the missing one:
each worker loads (and sha256-verifies) the export once and classifies
batches with the TF-free runtime. `ClassifyTexts` turns texts into the same
prediction records as `albert-tf classify`; `ClassifyFiles` reads data files
through Beam's file systems, so the pipeline runs unchanged on the
DirectRunner, Dataflow, Flink or Spark (`albert-tf classify-files`).

A text the runtime refuses (empty, whitespace only, not UTF-8) becomes an
error record in its place, as on the command line, never a failed bundle.

Example:
```python
import logging

# Beam's BigQuery client says at import, on the root logger, that an optional
# GCP library is missing ("apitools not found"): nothing this module uses.
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

import apache_beam as beam  # noqa: E402
from albert_tf.runtime.beam import ClassifierModelHandler, ClassifyTexts

with beam.Pipeline() as pipeline:
    (pipeline
     | beam.Create(["a gripping, funny film", "a dull mess", ""])
     | ClassifyTexts(ClassifierModelHandler("sst2"))
     | beam.Map(print))  # {"text": ..., "label": ..., ...} / {"text": "", "error": ...}
```

Only this module imports Beam: `import albert_tf.runtime` stays free of it.
"""

import logging

# Beam's BigQuery client says at import, on the root logger, that an optional
# GCP library is missing ("apitools not found"): nothing this module uses.
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

import apache_beam as beam  # noqa: E402
from apache_beam.io import fileio  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.ml.inference.base import (KeyedModelHandler, ModelHandler,  # noqa: E402
                                           PredictionResult, RunInference)

from albert_tf.native_stderr import RUNTIME_NOISE, native_stderr_filtered  # noqa
from albert_tf.prediction import MAX_UNKNOWN, check_options, text_records  # noqa: E402
from albert_tf.text.data import iter_rows  # noqa: E402

from .classifier import CHUNK, LONG_TEXT_MODES, Classifier  # noqa: E402

# RunInference hands the handler batches of this many texts at least (one
# interpreter call of the runtime's default batch) and at most CHUNK (what the
# runtime tokenizes at once and sorts by length, so a batch is little padding).
MIN_BATCH_SIZE = 32
# Records say which file and line they came from, so outputs join back.
SOURCE_FIELDS = ("file", "row")


class ClassifierModelHandler(ModelHandler):
    """A Beam `ModelHandler` over the kit's `Classifier`.

    Args:
        export: an export directory, one of its `.tflite` files, a MediaPipe
            `.tflite` or a bundled model's name ("sst2"); it must be readable
            from every worker (see the README: a shared file system, a
            container image, or `--extra_package` with the bundle).
        recipe, num_threads, max_unknown, score_threshold, threshold, exit: as
            `Classifier`. `num_threads` defaults to 1: Beam runs one handler
            per worker process, so workers x threads should not pass the cores.
        long_texts, top_k: as `Classifier.classify`.
        min_batch_size, max_batch_size, max_batch_duration_secs: Beam's
            batching (`BatchElements`) of the texts handed to one call.

    Elements are texts (str, or bytes that are checked as UTF-8), or
    `(text, pair)` tuples for a model trained on pairs; each result is a
    `PredictionResult` whose `inference` is the record `albert-tf classify`
    prints (`{"text": ..., "label": ...}` or `{"text": ..., "error": ...}`).
    """

    def __init__(self, export=None, *, recipe=None, num_threads=1, long_texts="truncate",
                 top_k=None, max_unknown=MAX_UNKNOWN, score_threshold=None, threshold=None,
                 exit=None, min_batch_size=MIN_BATCH_SIZE, max_batch_size=CHUNK,
                 max_batch_duration_secs=None):
        # Checked here, in the pipeline's process, not first on a worker.
        if long_texts not in LONG_TEXT_MODES:
            raise ValueError(f"long_texts must be one of {LONG_TEXT_MODES}, got {long_texts!r}")
        for name, value in (("num_threads", num_threads), ("min_batch_size", min_batch_size),
                            ("max_batch_size", max_batch_size)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if min_batch_size > max_batch_size:
            raise ValueError(f"min_batch_size={min_batch_size} is over "
                             f"max_batch_size={max_batch_size}")
        check_options(top_k, None, max_unknown, score_threshold)  # ranges: the model's
        check_options(threshold=threshold, multi_label=True)      # kind is checked on load
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         max_batch_duration_secs=max_batch_duration_secs)
        self.export = export
        self.recipe = recipe
        self.num_threads = num_threads
        self.long_texts = long_texts
        self.top_k = top_k
        self.options = dict(max_unknown=max_unknown, score_threshold=score_threshold,
                            threshold=threshold, exit=exit)

    def load_model(self):
        """Once per worker: the export, its files' sha256 checked, and one call made
        quietly (LiteRT announces its delegate on stderr at the first)."""
        with native_stderr_filtered(RUNTIME_NOISE):
            classifier = Classifier.load(self.export, recipe=self.recipe,
                                         num_threads=self.num_threads,
                                         max_batch_size=MIN_BATCH_SIZE, **self.options)
            classifier.warm_up()
        return classifier

    def run_inference(self, batch, model, inference_args=None):
        pairs = model.takes_pairs

        def answer(texts):
            first, second = zip(*texts) if pairs else (texts, None)
            return [p.to_dict() for p in model.classify(
                list(first), top_k=self.top_k, long_texts=self.long_texts,
                pairs=None if second is None else list(second))]

        records = text_records(answer, list(batch), pairs)
        return [PredictionResult(text, record, model.bundle.model_path)
                for text, record in zip(batch, records)]

    def get_num_bytes(self, batch):
        return sum(len(t) if isinstance(t, (str, bytes)) else sum(map(len, t)) for t in batch)

    def get_metrics_namespace(self):
        return "albert_tf"


def _record(result):
    return result.inference


def _keyed_record(keyed):
    key, result = keyed
    return key, result.inference


class ClassifyTexts(beam.PTransform):
    """Texts in, prediction records out (dicts, as `albert-tf classify` prints).

    With `keyed=True` the elements are `(key, text)` and the output
    `(key, record)`, so records can be joined back to their source.
    """

    def __init__(self, handler, keyed=False, label=None):
        super().__init__(label)
        if not isinstance(handler, ClassifierModelHandler):
            raise TypeError("ClassifyTexts needs a ClassifierModelHandler, got "
                            f"{type(handler).__name__}")
        self.handler = handler
        self.keyed = keyed

    def expand(self, texts):
        handler = KeyedModelHandler(self.handler) if self.keyed else self.handler
        return (texts | "RunInference" >> RunInference(handler)
                | "Records" >> beam.Map(_keyed_record if self.keyed else _record))


class _ReadRows(beam.DoFn):
    """`((file, row), text)` for every row of one matched file, with the kit's
    column rules (`iter_rows`), opened through Beam's file systems (a `.gz` is
    decompressed by them)."""

    def __init__(self, text_column=None, text_pair_column=None):
        self.text_column = text_column
        self.text_pair_column = text_pair_column

    def process(self, metadata):
        path = metadata.path
        for row, text, _ in iter_rows(path, self.text_column, label_column=None,
                                      text_pair_column=self.text_pair_column,
                                      opener=FileSystems.open):
            yield (path, row), text


def _source_record(keyed):
    (path, row), record = keyed
    return {SOURCE_FIELDS[0]: path, SOURCE_FIELDS[1]: row, **record}


class ClassifyFiles(beam.PTransform):
    """File patterns in (a PCollection of globs), one record per row out, each
    with its `file` and `row` (`SOURCE_FIELDS`) before the prediction's fields.

    Rows are redistributed after reading (`Reshuffle`), so a single large file
    is classified by every worker, not by the one that read it.
    """

    def __init__(self, handler, text_column=None, text_pair_column=None, label=None):
        super().__init__(label)
        self.handler = handler
        self.text_column = text_column
        self.text_pair_column = text_pair_column

    def expand(self, patterns):
        return (patterns
                | "Match" >> fileio.MatchAll()
                | "Read" >> beam.ParDo(_ReadRows(self.text_column, self.text_pair_column))
                | "Spread" >> beam.Reshuffle()
                | "Classify" >> ClassifyTexts(self.handler, keyed=True)
                | "Source" >> beam.Map(_source_record))
