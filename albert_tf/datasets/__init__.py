"""Small data files shipped with the kit (real data stays in ../shared/data)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
MOVIE_REVIEWS_TRAIN = os.path.join(HERE, "movie_reviews_train.tsv")
MOVIE_REVIEWS_DEV = os.path.join(HERE, "movie_reviews_dev.tsv")
