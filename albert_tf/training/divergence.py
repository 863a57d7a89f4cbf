"""Stop a run whose loss has stopped being a number, with one line that says what to change.

Keras' `TerminateOnNaN` only sets `stop_training`: the run would end quietly
and save its diverged weights like a result, and with `verbose=2` (any log
file) nothing shows until the epoch ends. An unshared-layer student once ran
78 minutes past its NaN that way. This raises an `AlbertTfError` instead, so
the CLI prints one line and exits 1, and the work directory is removed when
no epoch finished (nothing in it is worth resuming).

The loss Keras reports per batch is the epoch's running mean, so once a batch
gives NaN or inf every later report does too: checking every `every` batches
finds it as surely, without making an asynchronous backend (JAX) wait for
each step's result.
"""

import math

import keras

from albert_tf.errors import AlbertTfError


class StopOnDivergence(keras.callbacks.Callback):
    """Raise `AlbertTfError` when the training loss is NaN or infinite.

    Example:
    ```python
    model.fit(batches, callbacks=[StopOnDivergence("lower the learning rate")])
    ```
    """

    def __init__(self, hint, every=50):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.hint = hint
        self.every = every
        self._epoch = 0
        # Batches of this epoch trained before a resume (`training.resume`).
        self.batch_offset = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self._check(logs, f"batch {self.batch_offset + batch + 1} of epoch {self._epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch + 1}")

    def _check(self, logs, where):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise AlbertTfError(f"training diverged: the loss is {float(loss)} at {where}; "
                                f"{self.hint}")


def divergence_hint(config):
    """What to change, with the values the run used."""
    return (f"restart with a lower --learning-rate (was {config.learning_rate}) or a longer "
            f"--warmup-ratio (was {config.warmup_ratio})")
