import pytest

from albert_tf.inference.metrics import classification_report, multilabel_report


def test_classification_report_by_hand():
    report = classification_report([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert report["per_class"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0,
                                        "f1": pytest.approx(0.8), "support": 2}
    assert report["per_class"]["c"]["f1"] == 0.0  # never predicted: defined as 0
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_multilabel_report_by_hand():
    report = multilabel_report([[1, 0], [1, 1]], [[1, 0], [0, 1]], ["x", "y"])
    assert report["accuracy"] == 0.5
    assert report["per_class"]["x"]["recall"] == 0.5 and report["per_class"]["y"]["f1"] == 1.0
    assert report["micro_f1"] == pytest.approx(0.8)
