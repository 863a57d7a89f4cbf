"""Kill training inside a run, resume it from its backup, and print the largest
weight difference from an uninterrupted run, on the backend KERAS_BACKEND names,
dropout on. Two runs:

- `train DATA_DIR OUT_DIR`: `albert_tf.train` with default options, killed
  after batch 3 of epoch 2 and resumed with `resume=True`;
- `keras OUT_DIR`: a plain Keras model with an unseeded Dropout (what torch
  draws from its global generator) and `TrainingBackup`, killed after epoch 1.
"""

import sys

import keras
import numpy as np


class Crash(keras.callbacks.Callback):
    """A kill at the end of batch `batch` of epoch `epoch` (0-based)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("simulated crash")

    def on_epoch_end(self, epoch, logs=None):
        if self.at == (epoch, None):
            raise KeyboardInterrupt("simulated crash")


def largest_difference(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a.get_weights(), b.get_weights()))


def train_run(data_dir, out_dir):
    from pathlib import Path

    import albert_tf
    from tests.helpers import fast_train_kwargs

    kwargs = fast_train_kwargs(Path(data_dir), Path(out_dir) / "resumed", epochs=3,
                               max_train_examples=96, backup_minutes=0)
    original_fit = keras.Model.fit

    def crashing_fit(self, *args, callbacks=(), **kw):
        return original_fit(self, *args, callbacks=[*callbacks, Crash(1, 2)], **kw)

    keras.Model.fit = crashing_fit
    try:
        albert_tf.train(**kwargs)
    except KeyboardInterrupt:
        pass
    else:
        raise SystemExit("the run was not interrupted")
    keras.Model.fit = original_fit
    resumed = albert_tf.train(**kwargs, resume=True)
    straight = albert_tf.train(**{**kwargs, "out": str(Path(out_dir) / "straight")})
    return largest_difference(resumed.model, straight.model)


def dropout_data():
    """16 rows of 3 features and a constant target: what `dropout_model` fits."""
    return np.random.default_rng(0).normal(size=(16, 3)), np.ones((16, 1))


def dropout_model():
    """A seeded Keras model whose Dropout has no seed of its own (Keras' default)."""
    keras.utils.set_random_seed(0)
    built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    built.compile(optimizer="adam", loss="mse")
    return built


def keras_run(out_dir):
    from albert_tf.training.resume import TrainingBackup

    x, y = dropout_data()
    model = dropout_model
    fit = dict(x=x, y=y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    try:
        model().fit(**fit, callbacks=[TrainingBackup(out_dir, every_seconds=0), Crash(0)])
    except KeyboardInterrupt:
        pass
    straight = model()
    straight.fit(**fit)
    resumed, backup = model(), TrainingBackup(out_dir, every_seconds=0)
    backup.restore(resumed)
    resumed.fit(**fit, initial_epoch=1, callbacks=[backup])
    return largest_difference(resumed, straight)


if __name__ == "__main__":
    run = {"train": train_run, "keras": keras_run}[sys.argv[1]]
    print(f"max |weight difference| {run(*sys.argv[2:]):.3g}")
