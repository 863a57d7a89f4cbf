"""The distillation loss and its accuracy metric (Keras, any backend).

Targets are one `(batch, C + 1)` float array: the teacher's probabilities in
the first C columns, the gold class id in the last (`-1` when the text has
none). One array keeps `ClassificationBatches`, bucketing, data-parallel
padding rows and `model.fit` exactly as fine-tuning uses them.
"""

import keras
from keras import ops


def split_targets(y_true, num_classes):
    return y_true[:, :num_classes], y_true[:, num_classes]


@keras.saving.register_keras_serializable(package="albert_tf")
class DistillationLoss(keras.losses.Loss):
    """`T² · KL(teacher_T || student_T) + alpha · CE(gold, student)` on logits.

    `teacher_T` is the teacher's distribution sharpened or softened at
    temperature T (`p^(1/T)`, renormalized), which is what softmax(logits / T)
    gives when the teacher's logits are not at hand (an exported or remote
    teacher returns probabilities). T² keeps the soft term's gradient scale
    independent of T (Hinton et al., 2015). The hard term counts only rows
    with a gold label. Computed in float32 under mixed precision.

    Example:
    ```python
    loss = DistillationLoss(temperature=2.0, alpha=0.5)
    loss(np.array([[0.9, 0.1, 0.0], [0.3, 0.7, -1.0]]), np.array([[2.0, 0.0], [0.0, 1.0]]))
    ```
    """

    def __init__(self, temperature=1.0, alpha=0.0, name="distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, "float32")
        num_classes = logits.shape[-1]
        teacher, gold = split_targets(ops.cast(y_true, "float32"), num_classes)
        t = self.temperature
        log_teacher = ops.log_softmax(ops.log(ops.clip(teacher, 1e-7, 1.0)) / t, axis=-1)
        log_student = ops.log_softmax(logits / t, axis=-1)
        soft = ops.sum(ops.exp(log_teacher) * (log_teacher - log_student), axis=-1) * t * t
        has_gold = ops.cast(gold >= 0, "float32")
        gold_ids = ops.cast(ops.maximum(gold, 0), "int32")
        hard = -ops.sum(ops.one_hot(gold_ids, num_classes) * ops.log_softmax(logits, axis=-1),
                        axis=-1)
        return soft + self.alpha * has_gold * hard

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha}


def target_accuracy(y_true, y_pred):
    """1 where the student's class is the gold one (or the teacher's, with no gold)."""
    teacher, gold = split_targets(ops.cast(y_true, "float32"), y_pred.shape[-1])
    target = ops.where(gold >= 0, gold, ops.cast(ops.argmax(teacher, axis=-1), "float32"))
    return ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "float32"), target),
                    "float32")


def accuracy_metric():
    """Named `accuracy`, so early stopping and the best checkpoint watch `val_accuracy`
    (gold accuracy on the eval file) as they do in fine-tuning."""
    return keras.metrics.MeanMetricWrapper(target_accuracy, name="accuracy")
