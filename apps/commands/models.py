"""`albert-tf evaluate`, `predict`, `embed` and `average`: model directories on Keras."""

from albert_tf.apps.cli_common import (PREDICTION_FIELDS, add_backend, add_data_columns,
                                       add_prediction_options, add_texts, answer_each,
                                       check_pair_options, options_fail_in_one_line,
                                       positive_int, print_json, stdout_to_stderr)
from albert_tf.artifacts.manifest import AVERAGED_FROM, check_output_dir

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


def cmd_embed(args):
    from albert_tf.artifacts.model_dir import load

    model = load(args.model)

    def answer(texts):
        vectors = model.embed(texts, pooling=args.pooling, batch_size=args.batch_size)
        return [{"embedding": [round(float(v), 6) for v in vector]} for vector in vectors]

    return answer_each(args, answer)


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
                       "embedding vectors of texts (JSON lines out)")
    p.add_argument("--pooling", choices=POOLINGS, default=POOLINGS[0])


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


COMMANDS = (add_evaluate, add_predict, add_embed, add_average)
