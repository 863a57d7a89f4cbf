"""Generate the small movie-review sentiment set that ships with the kit.

Real data (SST-2, IMDB) stays in ../shared/data; this set exists so that the
README's first command trains and evaluates offline on a fresh machine in a
couple of minutes. Sentences are built from templates with sentiment words,
intensifiers, contrast ("but") and negation ("not"), so a model has to read
word order, not just count words. Deterministic:

    python -m albert_tf.bundled.make_movie_reviews
"""

import os
import random

POSITIVE = ["wonderful", "moving", "funny", "gripping", "beautiful", "clever", "charming",
            "brilliant", "delightful", "sharp", "warm", "thrilling", "touching", "fresh",
            "smart", "superb", "engaging", "tender", "witty", "lovely"]
NEGATIVE = ["dull", "boring", "clumsy", "tedious", "bland", "predictable", "messy",
            "lifeless", "shallow", "painful", "awkward", "forgettable", "tiresome", "stale",
            "silly", "flat", "hollow", "sloppy", "weak", "dreary"]
SUBJECTS = ["the film", "this movie", "the story", "the acting", "the script", "the ending",
            "the cast", "the director's work", "the dialogue", "the soundtrack", "the plot",
            "the lead performance", "the pacing", "the photography", "the humor"]
INTENSIFIERS = ["", "", "really ", "truly ", "quite ", "utterly ", "remarkably ", "so "]
OPENERS = ["", "", "", "honestly, ", "overall, ", "in the end, ", "i thought "]


def _phrase(rng, positive):
    return rng.choice(INTENSIFIERS) + rng.choice(POSITIVE if positive else NEGATIVE)


def review(rng):
    """One (sentence, label) pair; label "1" positive, "0" negative."""
    positive = rng.random() < 0.5
    subject = rng.choice(SUBJECTS)
    kind = rng.random()
    if kind < 0.35:
        text = f"{subject} is {_phrase(rng, positive)}"
    elif kind < 0.55:
        # Negation flips the word's sentiment.
        text = f"{subject} is not {rng.choice(NEGATIVE if positive else POSITIVE)}"
    elif kind < 0.8:
        # Contrast: the clause after "but" decides.
        other = rng.choice([s for s in SUBJECTS if s != subject])
        text = (f"{other} is {_phrase(rng, not positive)}, but {subject} is "
                f"{_phrase(rng, positive)}")
    else:
        text = (f"a {_phrase(rng, positive)} and {rng.choice(POSITIVE if positive else NEGATIVE)}"
                f" film")
    return rng.choice(OPENERS) + text + rng.choice([" .", " !", ""]), "1" if positive else "0"


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")


def main(out_dir=os.path.dirname(os.path.abspath(__file__)), n_train=2000, n_dev=400, seed=13):
    rng = random.Random(seed)
    seen, rows = set(), []
    while len(rows) < n_train + n_dev:
        text, label = review(rng)
        if text not in seen:  # no sentence in both train and dev
            seen.add(text)
            rows.append((text, label))
    write(os.path.join(out_dir, "movie_reviews_train.tsv"), rows[:n_train])
    write(os.path.join(out_dir, "movie_reviews_dev.tsv"), rows[n_train:])


if __name__ == "__main__":
    main()
