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
