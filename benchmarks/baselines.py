"""The cheap baselines a user tries first: majority class and TF-IDF + logistic regression.

TF-IDF over word 1-2-grams (sublinear tf) and scikit-learn's
`LogisticRegression`; C is picked on a seeded 10% slice of the *training*
file (never on the eval file), then the model is refit on all of it.

```bash
python benchmarks/baselines.py --train ../shared/data/sst2/train.tsv --eval ../shared/data/sst2/dev.tsv
python benchmarks/baselines.py --train ../shared/data/imdb/train.jsonl.gz --eval ../shared/data/imdb/test.jsonl.gz
```
Prints one JSON object: accuracy of each baseline, the chosen C, seconds.
"""

import argparse
import json
import sys
import time

import numpy as np

from albert_tf.text.data import LabelVocab, load_examples

C_GRID = (0.25, 1.0, 4.0, 16.0)


def tfidf_lr(train_texts, y_train, C):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                          LogisticRegression(C=C, max_iter=2000))
    return model.fit(train_texts, y_train)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--train", required=True, help="labelled training file")
    parser.add_argument("--eval", required=True, help="labelled evaluation file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the C-selection split")
    args = parser.parse_args(argv)

    train, evaluation = load_examples(args.train), load_examples(args.eval)
    labels = LabelVocab.from_examples(train)
    y_train, y_eval = np.array(labels.encode(train)), np.array(labels.encode(evaluation))
    majority = int(np.bincount(y_train).argmax())

    started = time.time()
    order = np.random.default_rng(args.seed).permutation(len(train))
    held, fit = order[:len(order) // 10], order[len(order) // 10:]
    texts = np.array(train.texts, dtype=object)
    scores = {C: float((tfidf_lr(texts[fit], y_train[fit], C).predict(texts[held])
                        == y_train[held]).mean()) for C in C_GRID}
    best_c = max(scores, key=scores.get)
    select_seconds = time.time() - started
    started = time.time()
    model = tfidf_lr(train.texts, y_train, best_c)
    fit_seconds = time.time() - started
    accuracy = float((model.predict(evaluation.texts) == y_eval).mean())
    json.dump({"train": args.train, "eval": args.eval, "eval_rows": len(evaluation),
               "majority_class": labels.names[majority],
               "majority_accuracy": float((y_eval == majority).mean()),
               "tfidf_lr_accuracy": accuracy, "C": best_c, "C_heldout_accuracy": scores,
               "fit_seconds": round(fit_seconds, 1),
               "selection_seconds": round(select_seconds, 1)}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
