"""Occlusion attributions: log-odds keep strong words visible at any confidence."""

import numpy as np
import pytest

from albert_tf.runtime.explain import log_odds, occlusion


class LexiconModel:
    """A model whose positive logit is the sum of its words' weights, so
    removing a word moves the log-odds by exactly that word's weight."""

    labels = ["negative", "positive"]

    def __init__(self, weights):
        self.weights = weights

    def predict_proba(self, texts):
        logits = np.array([sum(self.weights.get(w, 0.0) for w in t.split()) for t in texts])
        positive = 1 / (1 + np.exp(-logits))
        return np.stack([1 - positive, positive], axis=1).astype("float32")


def test_a_confident_prediction_still_shows_its_strong_word():
    model = LexiconModel({"superb": 7.0, "film": 0.5, "a": -0.25})
    label, segments = occlusion(model, "a superb film")
    assert label == "positive"
    weights = dict((s, w) for s, w in segments if w is not None)
    # p = 0.9995: in probability, removing "film" or "a" moves it by < 0.0002,
    # which reads as 0.000; in log-odds each moves by its own weight.
    assert weights["superb"] == pytest.approx(7.0, abs=1e-3)
    assert weights["film"] == pytest.approx(0.5, abs=1e-3)
    assert weights["a"] == pytest.approx(-0.25, abs=1e-3)
    assert "".join(s for s, _ in segments) == "a superb film"


def test_the_only_word_scores_its_distance_from_a_uniform_guess():
    _, segments = occlusion(LexiconModel({"dull": -3.0}), "dull")
    assert segments == [("dull", pytest.approx(3.0, abs=1e-3))]


def test_saturated_probabilities_stay_finite():
    assert np.isfinite(log_odds([0.0, 1.0])).all()
    assert log_odds(0.5) == pytest.approx(0.0)


class MultiLabelLexicon:
    """Independent sigmoids: each label's logit is the sum of its words' weights;
    a pair's words count too (so occluding the first text keeps the pair whole)."""

    labels = ["funny", "long"]
    multi_label = True

    def __init__(self, weights):
        self.weights = weights  # word -> (funny weight, long weight)

    def predict_proba(self, texts, pairs=None):
        pairs = pairs or [""] * len(texts)
        logits = np.array([np.sum([self.weights.get(w, (0.0, 0.0))
                                   for w in f"{t} {p}".split()] or [[0.0, 0.0]], axis=0)
                           for t, p in zip(texts, pairs)])
        return (1 / (1 + np.exp(-logits))).astype("float32")


def test_multi_label_explains_its_top_label_against_a_coin_flip():
    model = MultiLabelLexicon({"witty": (4.0, 0.0), "slow": (0.0, 1.0)})
    label, segments = occlusion(model, "witty slow")
    weights = dict((s, w) for s, w in segments if w is not None)
    assert label == "funny"
    assert weights == {"witty": pytest.approx(4.0, abs=1e-3), "slow": pytest.approx(0.0)}
    # The only word: its distance from 0.5 (log-odds 0), not from 1/num_labels.
    _, segments = occlusion(model, "witty")
    assert segments == [("witty", pytest.approx(4.0, abs=1e-3))]


def test_a_pair_is_kept_whole_while_the_first_text_is_occluded():
    model = MultiLabelLexicon({"witty": (4.0, 0.0), "dry": (-1.0, 0.0)})
    _, segments = occlusion(model, "dry film", pair="witty")
    weights = dict((s, w) for s, w in segments if w is not None)
    assert weights == {"dry": pytest.approx(-1.0, abs=1e-3), "film": pytest.approx(0.0)}
