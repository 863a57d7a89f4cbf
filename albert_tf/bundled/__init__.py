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


def resolve(source, embedder=False):
    """The directory a user's `source` names: `source` itself when it is a path;
    the bundled model of that short name (None: the default one) when it is not an
    existing path, or with `embedder`, the bundled embedder. An existing path of a
    short name's spelling wins, so a user's own `./sst2` export is never shadowed."""
    names = BUNDLED_EMBEDDERS if embedder else BUNDLED_MODELS
    if source is not None and (source not in names or os.path.exists(source)):
        return source
    if embedder:
        return BUNDLED_EMBEDDER
    return BUNDLED_MODELS[DEFAULT_BUNDLED if source is None else source]
