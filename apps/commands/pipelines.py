"""`albert-tf classify-files`: an export over many files on Apache Beam."""

import contextlib
import glob
import os
import shutil
import sys

from albert_tf.apps.cli_common import (PREDICTION_FIELDS, add_prediction_options,
                                       check_pair_options, exit_rule, options_fail_in_one_line,
                                       positive_int)
from albert_tf.contract import RECIPE_PREFERENCE
from albert_tf.native_stderr import native_stderr_filtered

RUNNER = "DirectRunner"
OUTPUT_SUFFIX = ".jsonl"


def local_pattern(pattern):
    """A local glob made absolute (records name their file the same wherever the
    workers run); a path with a scheme (gs://, s3://, hdfs://) is left alone."""
    return pattern if "://" in pattern else os.path.abspath(pattern)


def check_inputs(patterns, text_column, pair_column):
    """The matched files, or one line naming the pattern that matches nothing or
    the file whose columns do not fit; checked before a pipeline starts."""
    from apache_beam.io.filesystems import FileSystems

    from albert_tf.errors import DataError
    from albert_tf.text.data import iter_rows

    files = []
    for pattern, result in zip(patterns, FileSystems.match(patterns)):
        if not result.metadata_list:
            raise DataError(f"--input {pattern}: no file matches")
        files.extend(metadata.path for metadata in result.metadata_list)
    for path in files:  # the format and the column, from the first row
        next(iter(iter_rows(path, text_column, label_column=None,
                            text_pair_column=pair_column, opener=FileSystems.open)), None)
    return files


def check_output(prefix, overwrite):
    from apache_beam.io.filesystems import FileSystems

    from albert_tf.errors import AlbertTfError

    existing = FileSystems.match([prefix + "*" + OUTPUT_SUFFIX])[0].metadata_list
    if existing and not overwrite:
        raise AlbertTfError(f"--output {prefix}: {len(existing)} output files exist "
                            f"({existing[0].path}, ...); pass --overwrite to replace them")
    if existing:
        FileSystems.delete([metadata.path for metadata in existing])


def kit_error(error):
    """The kit's own error (a bad row a worker read, say) inside a failed
    pipeline's exception, as the command's one line; None for any other."""
    import re

    from albert_tf.errors import AlbertTfError

    found = re.findall(r"^albert_tf\.errors\.\w+: (.*?)(?: \[while running .*\])?$",
                       str(error), flags=re.MULTILINE)
    return AlbertTfError(found[-1]) if found else None


def remove_temporary_output(prefix):
    """Beam's sink writes into `beam-temp-*` beside the output and renames at the
    end; a failed run leaves that folder behind."""
    from apache_beam.io.filesystems import FileSystems

    directory, name = FileSystems.split(prefix)
    pattern = FileSystems.join(directory, f"beam-temp-{name}-*")
    if "://" not in prefix:
        for folder in glob.glob(pattern):
            shutil.rmtree(folder, ignore_errors=True)
        return
    leftovers = [m.path for m in FileSystems.match([pattern + "/*"])[0].metadata_list]
    if leftovers:
        FileSystems.delete(leftovers)


def pipeline_options(args):
    import logging

    from apache_beam.options.pipeline_options import PipelineOptions

    # Beam's workers log every channel they open at INFO, and a failed bundle as
    # a page of tracebacks per retry, on this stderr: quiet unless asked
    # (--verbose, or the option itself); a failure is the command's one line.
    level = "INFO" if args.verbose else "CRITICAL"
    logging.getLogger("apache_beam").setLevel(level)
    options = {"runner": args.runner, "default_sdk_harness_log_level": level}
    if args.runner == RUNNER:
        # Worker processes, not threads: the interpreter releases the GIL, but
        # tokenizing and the records are Python.
        options.update(direct_running_mode="multi_processing",
                       direct_num_workers=args.workers)
    return PipelineOptions(args.pipeline_args, **options)


def cmd_classify_files(args):
    import json

    # First: it quiets a warning Beam's import gives.
    from albert_tf.runtime.beam import MIN_BATCH_SIZE, ClassifierModelHandler, ClassifyFiles

    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter

    options = dict(recipe=args.recipe, num_threads=args.threads, long_texts=args.long_texts,
                   top_k=args.top_k, max_unknown=args.max_unknown,
                   score_threshold=args.score_threshold, threshold=args.threshold,
                   exit=args.exit)
    # Everything a worker would trip over, here first: the export (and its
    # sha256), the options against the model, the files and their columns.
    with options_fail_in_one_line():
        handler = ClassifierModelHandler(args.export, max_batch_size=args.batch_size,
                                         min_batch_size=min(args.batch_size, MIN_BATCH_SIZE),
                                         **options)
        classifier = handler.load_model()
    contract = classifier.bundle.manifest.get("contract", {})
    pair_column = check_pair_options(args, classifier.takes_pairs,
                                     (contract.get("text_column"),
                                      contract.get("text_pair_column")))
    patterns = [local_pattern(p) for p in args.input]
    files = check_inputs(patterns, args.text_column, pair_column)
    prefix = local_pattern(args.output)
    check_output(prefix, args.overwrite)
    print(f"albert-tf classify-files: {len(files)} files on {args.runner}"
          + (f" ({args.workers} workers)" if args.runner == RUNNER else ""), file=sys.stderr)

    records, errors = Metrics.counter("albert_tf", "records"), Metrics.counter("albert_tf",
                                                                                "errors")

    def count(record):
        records.inc()
        if "error" in record:
            errors.inc()
        return json.dumps(record, ensure_ascii=False)

    pipeline = beam.Pipeline(options=pipeline_options(args))
    (pipeline
     | "Patterns" >> beam.Create(patterns)
     | "ClassifyFiles" >> ClassifyFiles(handler, args.text_column, pair_column)
     | "Json" >> beam.Map(count)
     | "Write" >> beam.io.WriteToText(prefix, file_name_suffix=OUTPUT_SUFFIX))
    # Worker processes write to this stderr (start-up lines, a traceback per
    # retried bundle): held back unless --verbose; a failure is one line.
    everything = ("",)
    try:
        with contextlib.nullcontext() if args.verbose else native_stderr_filtered(everything):
            result = pipeline.run()
            result.wait_until_finish()
    except Exception as error:
        remove_temporary_output(prefix)  # a failed run leaves no output
        raise kit_error(error) or error
    totals = {c.key.metric.name: c.committed or c.attempted or 0
              for c in result.metrics().query(MetricsFilter().with_namespace("albert_tf"))[
                  "counters"] if c.key.metric.name in ("records", "errors")}
    seen, failed = totals.get("records", 0), totals.get("errors", 0)
    print(f"albert-tf classify-files: {seen} records written to {prefix}-*{OUTPUT_SUFFIX}"
          + (f"; {failed} had errors (their records say why)" if failed else ""),
          file=sys.stderr)
    return 1 if failed or not seen else 0


def add_classify_files(commands):
    from albert_tf.runtime.adaptive import RULE_FORMS
    from albert_tf.runtime.classifier import CHUNK, LONG_TEXT_MODES

    p = commands.add_parser(
        "classify-files",
        help="classify data files on Apache Beam (many workers; sharded JSON lines out)",
        description="Classify every row of .tsv/.csv/.jsonl (optionally .gz) and .txt files "
                    "on Apache Beam with the TF-free runtime: the DirectRunner on this "
                    "machine's cores, or Dataflow, Flink or Spark with --runner and their "
                    "options (any further --option=value is handed to Beam). Writes sharded "
                    f"PREFIX-SSSSS-of-NNNNN{OUTPUT_SUFFIX}, one record per row with its file "
                    "and row, in no particular order. " + PREDICTION_FIELDS)
    p.add_argument("export", help="export directory, .tflite file or bundled model name; "
                                  "every worker must be able to read it")
    p.add_argument("--input", nargs="+", required=True, metavar="GLOB",
                   help="files or globs (local, or gs://, s3://, hdfs:// with Beam's extras)")
    p.add_argument("--output", required=True, metavar="PREFIX",
                   help="where the sharded JSON lines go")
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace existing PREFIX*{OUTPUT_SUFFIX} files")
    p.add_argument("--text-column", help="the text column of .tsv/.csv/.jsonl files "
                                         "(default: the first of text, sentence, review, ...)")
    p.add_argument("--text-pair-column", help="the second text of each pair, for a model "
                                              "trained on pairs (default: the model's own)")
    p.add_argument("--recipe", help="which .tflite of the export (default: the first that "
                                    f"passed its parity gate of {', '.join(RECIPE_PREFERENCE)})")
    p.add_argument("--long-texts", choices=LONG_TEXT_MODES, default=LONG_TEXT_MODES[0],
                   help="a text longer than the model's max length (as `classify`)")
    add_prediction_options(p)
    p.add_argument("--exit", metavar="RULE", type=exit_rule,
                   help=f"early exit on the adaptive file: {', '.join(RULE_FORMS)}")
    p.add_argument("--runner", default=RUNNER,
                   help="Beam runner: DirectRunner (this machine), DataflowRunner, "
                        "FlinkRunner, SparkRunner, ...")
    p.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                   help="DirectRunner worker processes")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="interpreter threads per worker (workers x threads <= cores)")
    p.add_argument("--batch-size", type=positive_int, default=CHUNK,
                   help="most texts per RunInference batch")
    p.add_argument("--verbose", action="store_true", help="Beam's own logs on stderr")
    p.set_defaults(func=cmd_classify_files, passes_extra_options=True, pipeline_args=[],
                   texts=None)


COMMANDS = (add_classify_files,)
