"""Small data files shipped with the kit (real data stays in ../shared/data)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
MOVIE_REVIEWS_TRAIN = os.path.join(HERE, "movie_reviews_train.tsv")
MOVIE_REVIEWS_DEV = os.path.join(HERE, "movie_reviews_dev.tsv")
# The demo's default model: SST-2 sentiment (int8 + float16 TFLite, tokenizer,
# labels, manifest); see sst2_sentiment/README.md for how it was made.
BUNDLED_MODEL = os.path.join(HERE, "sst2_sentiment")
# Short names `Classifier.load`, `albert-tf classify` and the demo accept for the
# bundled models (a path of that name, if one exists, wins).
BUNDLED_MODELS = {"sst2": BUNDLED_MODEL}
DEFAULT_BUNDLED = "sst2"
# The sentence embedder distilled from all-mpnet-base-v2 (`runtime.Embedder`, the
# demo's Similarity and Search tabs); see sentence_embedder/README.md.
BUNDLED_EMBEDDER = os.path.join(HERE, "sentence_embedder")
BUNDLED_EMBEDDERS = ("sentences",)  # short names, the first is the default


def bundled_path(name):
    """The directory of the bundled model or embedder `name` (None: the default
    model), or None when `name` is not a bundled short name."""
    if name in BUNDLED_EMBEDDERS:
        return BUNDLED_EMBEDDER
    return BUNDLED_MODELS.get(DEFAULT_BUNDLED if name is None else name)
