"""Training every exit of an early-exit classifier at once (PABEE, Zhou et al. 2020).

A classifier built with `exit_heads` has a head after every call of ALBERT's
shared layer. They learn together, from the same targets, through the
classifier's `exit_model()`, whose output stacks every exit's logits,
`(batch, exits, classes)`. PABEE's loss weighs exit `i` (1-based) by `i`:
deeper exits, which see more of the text, count more, and the last one (the
ordinary classifier) most:

    L = sum_i i * L_i / sum_i i

Any per-example loss on logits works as `L_i` (cross-entropy when fine-tuning,
the soft-label `DistillationLoss` when distilling, so each exit learns the
teacher's labels). The reported `accuracy` is the last exit's, so early
stopping and the best checkpoint watch the model that ships without exits.
"""

import keras
from keras import ops


def depth_weights(num_exits):
    """PABEE's weights, `i / sum(1..n)` for exit i = 1..n."""
    total = num_exits * (num_exits + 1) / 2
    return [(i + 1) / total for i in range(num_exits)]


@keras.saving.register_keras_serializable(package="albert_tf")
class ExitLoss(keras.losses.Loss):
    """`base` applied to every exit of `(batch, exits, classes)` logits, depth-weighted.

    Example:
    ```python
    base = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = ExitLoss(base, num_exits=2)
    loss(np.array([1]), np.array([[[0.0, 1.0], [0.0, 3.0]]]))
    ```
    """

    def __init__(self, base, num_exits, name="exits", **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(num_exits, int) or num_exits < 1:
            raise ValueError(f"num_exits must be an int >= 1, got {num_exits!r}")
        self.base = base
        self.num_exits = num_exits

    def call(self, y_true, y_pred):
        weights = depth_weights(self.num_exits)
        # `base.call` gives the per-example loss before Keras' reduction, so
        # sample weights and the mean over the batch apply once, to the sum.
        return sum(weight * self.base.call(y_true, y_pred[:, i])
                   for i, weight in enumerate(weights))

    def get_config(self):
        return {**super().get_config(), "base": keras.saving.serialize_keras_object(self.base),
                "num_exits": self.num_exits}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["base"] = keras.saving.deserialize_keras_object(config["base"])
        return cls(**config)


def last_exit_accuracy(accuracy_fn):
    """A metric named `accuracy`: `accuracy_fn` on the last exit's logits."""

    def last_exit(y_true, y_pred):
        return accuracy_fn(y_true, y_pred[:, -1])

    return keras.metrics.MeanMetricWrapper(last_exit, name="accuracy")


def exit_accuracies(exit_probabilities, gold):
    """Accuracy of each exit: `(n, exits, classes)` probabilities against class ids."""
    predicted = ops.convert_to_numpy(exit_probabilities).argmax(-1)
    return [round(float((predicted[:, i] == gold).mean()), 4) for i in range(predicted.shape[1])]
