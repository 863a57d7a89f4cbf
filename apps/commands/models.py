"""`albert-tf evaluate`, `predict` and `embed`: a model directory on Keras."""

from albert_tf.apps.cli_common import (add_backend, add_data_columns, add_texts, answer_each,
                                       print_json)

BATCH_SIZE = 64  # texts per Keras predict call


def cmd_evaluate(args):
    from albert_tf.artifacts.model_dir import load
    from albert_tf.text.data import load_examples

    model = load(args.model)
    training = model.config["training"]
    examples = load_examples(
        args.data, text_column=args.text_column or training.get("text_column"),
        text_pair_column=args.text_pair_column or training.get("text_pair_column"),
        label_column=args.label_column or training.get("label_column", "label"),
        multi_label=model.labels.multi_label,
        label_separator=training.get("label_separator", "|"))
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
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    add_backend(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_predict(args):
    from albert_tf.artifacts.model_dir import load

    model = load(args.model)

    def answer(texts):
        results = model.predict(texts, batch_size=args.batch_size)
        for result in results:
            if args.top_k:
                top = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])
                result["probabilities"] = dict(top[:args.top_k])
        return results

    return answer_each(args, answer)


def cmd_embed(args):
    from albert_tf.artifacts.model_dir import load

    model = load(args.model)

    def answer(texts):
        vectors = model.embed(texts, pooling=args.pooling, batch_size=args.batch_size)
        return [{"embedding": [round(float(v), 6) for v in vector]} for vector in vectors]

    return answer_each(args, answer)


def _texts_command(commands, name, func, help_text):
    p = commands.add_parser(name, help=help_text,
                            description=f"{help_text[0].upper()}{help_text[1:]}, one "
                                        "JSON object per text in input order.")
    p.add_argument("model", help="model directory")
    add_texts(p)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    add_backend(p)
    p.set_defaults(func=func)
    return p


def add_predict(commands):
    p = _texts_command(commands, "predict", cmd_predict, "classify texts (JSON lines out)")
    p.add_argument("--top-k", type=int, help="keep the k most likely labels")


def add_embed(commands):
    from albert_tf.contract import POOLINGS

    p = _texts_command(commands, "embed", cmd_embed,
                       "embedding vectors of texts (JSON lines out)")
    p.add_argument("--pooling", choices=POOLINGS, default=POOLINGS[0])


COMMANDS = (add_evaluate, add_predict, add_embed)
