"""`albert-tf evaluate`, `predict`, `embed`, `similarity`, `search` and `average`."""

import json
import os

from albert_tf.apps.cli_common import (PREDICTION_FIELDS, add_backend, add_data_columns,
                                       add_prediction_options, add_texts, answer_each,
                                       check_pair_options, options_fail_in_one_line,
                                       positive_int, print_json, stdout_to_stderr)
from albert_tf.artifacts.manifest import AVERAGED_FROM, check_output_dir
from albert_tf.contract import MANIFEST_FILE
from albert_tf.native_stderr import RUNTIME_NOISE, native_stderr_filtered

BATCH_SIZE = 64  # texts per Keras predict call


def _labelled_examples(config, path, args):
    """`path` read with the columns given in `args`, else those of the model whose
    `config.json` is `config` (what it was trained on)."""
    from albert_tf.artifacts.model_dir import is_multi_label
    from albert_tf.text.data import load_examples

    training = config["training"]
    return load_examples(
        path, text_column=args.text_column or training.get("text_column"),
        text_pair_column=args.text_pair_column or training.get("text_pair_column"),
        label_column=args.label_column or training.get("label_column", "label"),
        multi_label=is_multi_label(config),
        label_separator=training.get("label_separator", "|"))


def cmd_evaluate(args):
    from albert_tf.artifacts.model_dir import load

    model = load(args.model)
    examples = _labelled_examples(model.config, args.data, args)
    report = model.evaluate(examples, batch_size=args.batch_size)
    report["file"] = args.data
    print_json(report)


def add_evaluate(commands):
    p = commands.add_parser("evaluate", help="metrics of a model on a labelled file (JSON)",
                            description="Print accuracy, macro-F1, per-class metrics and the "
                                        "confusion matrix as JSON.")
    p.add_argument("model", help="model directory")
    p.add_argument("--data", required=True, help="labelled file")
    add_data_columns(p, label_default=None)
    p.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE,
                   help="texts per Keras predict call")
    add_backend(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_predict(args):
    from albert_tf.artifacts.model_dir import load

    from albert_tf.prediction import check_options

    model = load(args.model)
    with options_fail_in_one_line():
        check_options(args.top_k, len(model.labels.names), args.max_unknown,
                      args.score_threshold, args.threshold, model.labels.multi_label)
    pairs = model.takes_pairs
    training = model.config["training"]
    column = check_pair_options(args, pairs, (training.get("text_column"),
                                              training.get("text_pair_column")))

    def answer(texts):
        first, second = zip(*texts) if pairs else (texts, None)
        return model.predict(list(first), None if second is None else list(second),
                             batch_size=args.batch_size, top_k=args.top_k,
                             max_unknown=args.max_unknown, threshold=args.threshold,
                             score_threshold=args.score_threshold)

    return answer_each(args, answer, pairs, column)


def sentence_embedder(source):
    """What `embed`, `similarity` and `search` run: a Keras embedder directory, or
    an embedder export, one of its files or the bundled embedder (the TF-free
    runtime); None for anything else (a classifier directory)."""
    from albert_tf.artifacts.formats import is_embedder_dir
    from albert_tf.artifacts.manifest import EMBEDDER_EXPORT_FORMAT, read_manifest
    from albert_tf.bundled import BUNDLED_EMBEDDERS

    if is_embedder_dir(source):
        from albert_tf.artifacts.embedder_dir import load_embedder

        return load_embedder(source)
    directory = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    is_export = os.path.isfile(os.path.join(directory, MANIFEST_FILE)) and (
        read_manifest(directory).get("format") == EMBEDDER_EXPORT_FORMAT)
    if is_export or (source in BUNDLED_EMBEDDERS and not os.path.exists(source)):
        from albert_tf.runtime import Embedder

        # LiteRT announces its XNNPACK delegate on stderr at an interpreter's first
        # call: make that call here, quietly, as `classify` does.
        with native_stderr_filtered(RUNTIME_NOISE):
            embedder = Embedder.load(source)
            embedder.embed("warm up")
        return embedder
    return None


def cmd_embed(args):
    embedder = sentence_embedder(args.model)
    if embedder is None:
        from albert_tf.artifacts.model_dir import load

        model = load(args.model)

    def answer(texts):
        vectors = (embedder.embed(texts) if embedder is not None else
                   model.embed(texts, pooling=args.pooling, batch_size=args.batch_size))
        return [{"embedding": [round(float(v), 6) for v in vector]} for vector in vectors]

    return answer_each(args, answer)


def _embedder_or_fail(args):
    from albert_tf.errors import AlbertTfError

    embedder = sentence_embedder(args.model)
    if embedder is None:
        raise AlbertTfError(f"{args.model}: not a sentence embedder (an embedder directory, "
                            "its export, or 'sentences'); a classifier's features measure "
                            "what it classifies: use `albert-tf embed` on it instead")
    return embedder


def cmd_similarity(args):
    embedder = _embedder_or_fail(args)
    similarity = embedder.similarity(args.text_a, args.text_b)
    record = {"text_a": args.text_a, "text_b": args.text_b,
              "similarity": None if similarity is None else round(similarity, 6)}
    if similarity is None:  # which text the model cannot read (mostly unknown pieces)
        readable = embedder.readable([args.text_a, args.text_b])
        record["unreadable"] = [name for name, ok in zip(("text_a", "text_b"), readable)
                                if not ok]
    print_json(record)


def cmd_search(args):
    from albert_tf.text.data import iter_text_lines

    embedder = _embedder_or_fail(args)
    if not embedder.readable(args.query):
        from albert_tf.errors import AlbertTfError
        from albert_tf.similarity import UNREADABLE_MESSAGE

        raise AlbertTfError(UNREADABLE_MESSAGE.format(what="the query"))
    texts = [" ".join(t.split()) for t in iter_text_lines(args.input,
                                                            text_column=args.text_column)]
    for found in embedder.search(args.query, texts, top_k=args.top_k):
        print(json.dumps(found, ensure_ascii=False))


def _texts_command(commands, name, func, help_text, fields="One JSON object per text in "
                                                          "input order.", pairs=False):
    p = commands.add_parser(name, help=help_text,
                            description=f"{help_text[0].upper()}{help_text[1:]}. {fields}")
    p.add_argument("model", help="model directory")
    add_texts(p, pairs)
    p.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE,
                   help="texts per Keras predict call")
    add_backend(p)
    p.set_defaults(func=func)
    return p


def add_predict(commands):
    p = _texts_command(commands, "predict", cmd_predict, "classify texts (JSON lines out)",
                       PREDICTION_FIELDS, pairs=True)
    add_prediction_options(p)


def add_embed(commands):
    from albert_tf.contract import POOLINGS

    p = _texts_command(commands, "embed", cmd_embed,
                       "embedding vectors of texts (JSON lines out)",
                       "One JSON object per text in input order. MODEL is a sentence embedder "
                       "(an embedder directory, its export, or 'sentences', the bundled one: "
                       "unit vectors whose cosine is meaning) or a classifier directory (its "
                       "pooled features: they measure what it classifies, sentiment for a "
                       "sentiment model)")
    p.add_argument("--pooling", choices=POOLINGS, default=POOLINGS[0],
                   help="a classifier's vector: pooled [CLS] or mean of the token states")


def add_similarity(commands):
    p = commands.add_parser(
        "similarity", help="cosine similarity of two texts on a sentence embedder (JSON)",
        description="Cosine similarity, in [-1, 1], of two texts' vectors from a sentence "
                    "embedder: an embedder directory, its export, or 'sentences' (the bundled "
                    "one).")
    p.add_argument("model", help="embedder directory, export or 'sentences'")
    p.add_argument("text_a")
    p.add_argument("text_b")
    add_backend(p)
    p.set_defaults(func=cmd_similarity)


def add_search(commands):
    p = commands.add_parser(
        "search", help="the lines of a file nearest a query, on a sentence embedder (JSON lines)",
        description="Rank the texts of --input by cosine similarity to --query; prints the "
                    "--top-k best as JSON lines {text, index, score}, best first.")
    p.add_argument("model", help="embedder directory, export or 'sentences'")
    p.add_argument("--query", required=True, help="the text to find neighbours of")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="texts to rank (.txt: one per line; .tsv/.csv/.jsonl[.gz]: a column)")
    p.add_argument("--text-column", help="text column of --input")
    p.add_argument("--top-k", type=positive_int, default=5, help="texts to print")
    add_backend(p)
    p.set_defaults(func=cmd_search)


def cmd_average(args):
    from albert_tf.artifacts.averaging import average_model_dirs
    from albert_tf.artifacts.model_dir import read_model_config

    check_output_dir(args.out, args.overwrite)  # before reading the eval file
    examples = None
    if args.eval:
        # The first model's columns, from its verified config alone (no Keras model
        # built: average_model_dirs loads them all).
        _, config = read_model_config(args.models[0])
        examples = _labelled_examples(config, args.eval, args)
    with stdout_to_stderr():
        soup = average_model_dirs(args.models, args.out, eval_examples=examples,
                                  overwrite=args.overwrite)
    sources = soup.metadata[AVERAGED_FROM]
    print_json({"out": args.out,
                "eval_accuracy": soup.metadata["eval_metrics"].get("accuracy"),
                "sources": [{key: source.get(key) for key in ("path", "eval_accuracy")}
                            for source in sources]})


def add_average(commands):
    p = commands.add_parser(
        "average", help="the mean of several models' weights, as a new model directory",
        description="Average the weights of model directories of one run (e.g. successive "
                    "epochs) or of runs continued from the same weights: a uniform 'model "
                    "soup', often better than each model, at one model's cost. The models "
                    "must share architecture, max length, labels and tokenizer.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="two or more model directories")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--eval", help="labelled file: score each model and the average on it")
    add_data_columns(p, label_default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_backend(p)
    p.set_defaults(func=cmd_average)


COMMANDS = (add_evaluate, add_predict, add_embed, add_similarity, add_search, add_average)
