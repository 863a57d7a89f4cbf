"""Does a classifier generalise beyond its training set? Accuracy on another labelled file.

Scores, on a seeded sample of `--eval` (e.g. IMDB reviews for SST-2 models),
the TF-IDF + LR baseline trained on `--train`, a Hugging Face teacher and a kit
export (the student), each reading the text as it would in use (the teacher
truncates long texts to its max length; the student is scored both ways: cut
to its max length, and read sentence by sentence). `--label-map`
renames the eval file's labels to the models' (`neg=0,pos=1`).

```bash
python benchmarks/cross_domain.py --train ../shared/data/sst2/train.tsv \
    --eval ../shared/data/imdb/test.jsonl.gz --label-map neg=0,pos=1 \
    --teacher runs/teacher-sst2 --student runs/sst2-distilled-export --sample 2000
```
"""

import argparse
import json
import sys

import numpy as np

from albert_tf.text.data import LabelVocab, load_examples


def renames(spec):
    """`a=b,c=d` -> {"a": "b", "c": "d"}; None -> {}."""
    return dict(pair.split("=", 1) for pair in spec.split(",")) if spec else {}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--train", required=True, help="the models' training file")
    parser.add_argument("--eval", required=True, help="labelled file from another source")
    parser.add_argument("--label-map", help="eval label renames, e.g. neg=0,pos=1")
    parser.add_argument("--model-label-map",
                        help="model label renames to the training file's, e.g. "
                             "negative=0,positive=1 (the bundled model)")
    parser.add_argument("--teacher", nargs="+",
                        help="teacher directory (Hugging Face, kit model or export); several "
                             "are scored as their ensemble (mean probability)")
    parser.add_argument("--student", help="kit export directory")
    parser.add_argument("--recipe", default="dynamic_int8", help="the student's .tflite recipe")
    parser.add_argument("--sample", type=int, default=2000, help="eval rows scored")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--max-words", type=int,
                        help="score only eval texts of at most N words (default: all)")
    args = parser.parse_args(argv)

    from baselines import tfidf_lr  # this folder's baseline script: one TF-IDF recipe

    train = load_examples(args.train)
    labels = LabelVocab.from_examples(train)
    evaluation = load_examples(args.eval)
    rename = renames(args.label_map)
    model_rename = renames(args.model_label_map)

    def order(model, who):
        """Column of each training-file label in the model's output."""
        names = [model_rename.get(name, name) for name in model.labels]
        missing = [name for name in labels.names if name not in names]
        if missing:
            sys.exit(f"error: the {who}'s labels {list(model.labels)} lack the training "
                     f"file's {missing}; map them with --model-label-map "
                     f"(e.g. {','.join(f'{m}={t}' for m, t in zip(model.labels, labels.names))})")
        return [names.index(name) for name in labels.names]

    rows = [i for i in np.random.default_rng(args.seed).permutation(len(evaluation))
            if args.max_words is None or len(evaluation.texts[i].split()) <= args.max_words]
    rows = np.array(rows[:args.sample])
    evaluation = evaluation.subset(sorted(rows.tolist()))
    evaluation.labels = [rename.get(label, label) for label in evaluation.labels]
    y = np.array(labels.encode(evaluation))

    results = {}
    baseline = tfidf_lr(train.texts, np.array(labels.encode(train)), C=16.0)
    results["tfidf_lr (C=16)"] = float((baseline.predict(evaluation.texts) == y).mean())
    if args.teacher:
        from albert_tf.training.distillation.teachers import load_teacher

        teacher = load_teacher(args.teacher)
        columns = order(teacher, "teacher")
        results["teacher"] = float(
            (teacher.predict_proba(evaluation.texts)[:, columns].argmax(-1) == y).mean())
    if args.student:
        from albert_tf.runtime import Classifier

        from albert_tf.runtime import LONG_TEXT_MODES

        student = Classifier.load(args.student, recipe=args.recipe)
        columns = order(student, "student")
        for mode in LONG_TEXT_MODES:  # texts past max_length: cut, by sentences, by chunks
            probabilities = student.predict_proba(evaluation.texts, long_texts=mode)
            results[f"student {args.recipe}, long texts: {mode}"] = float(
                (probabilities[:, columns].argmax(-1) == y).mean())
    json.dump({"train": args.train, "eval": args.eval, "rows": len(y),
               "max_words": args.max_words,
               "majority": float(max(np.mean(y == k) for k in range(len(labels)))),
               "accuracy": results}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
