"""Small data files shipped with the kit (real data stays in ../shared/data)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
MOVIE_REVIEWS_TRAIN = os.path.join(HERE, "movie_reviews_train.tsv")
MOVIE_REVIEWS_DEV = os.path.join(HERE, "movie_reviews_dev.tsv")
# The demo's default model: SST-2 sentiment (int8 + float16 TFLite, tokenizer,
# labels, manifest); see sst2_sentiment/README.md for how it was made.
BUNDLED_MODEL = os.path.join(HERE, "sst2_sentiment")
