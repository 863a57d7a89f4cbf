"""Backups inside an epoch, and a resume that skips exactly the batches already trained.

Keras' `BackupAndRestore` saves at each epoch's end (or every N batches), but a
restore starts the saved epoch again from its first batch. A distillation
epoch on 2 CPU cores takes 40-85 minutes, longer than what is often left of a
working session, so a run stopped at 80% of an epoch lost all of it (or, with
`save_freq=N`, trained its first 80% twice). Here a backup is taken every few
minutes and at every epoch's end, with the position it was taken at. The
batches are a pure function of (seed, epoch) (`ClassificationBatches`), so a
resumed run trains the rest of the interrupted epoch (a first, shorter
`fit`), then the remaining epochs, and ends with the weights an
uninterrupted run would have.

Writes are atomic: the weights go to a new file, and the small state file
that names it is replaced last, so a kill at any moment leaves the previous
backup whole.

Example:
```python
backup = TrainingBackup("runs/m.training/backup", every_seconds=600)
history, epochs = fit_resumable(model, batches, epochs=3, backup=backup, resume=True,
                                callbacks=[EpochSync(batches)], verbose=2)
```
"""

import dataclasses
import base64
import glob
import json
import os
import time

import keras
import numpy as np

from albert_tf.errors import AlbertTfError
from albert_tf.training.config import BACKUP_EVERY_MINUTES

STATE_FILE = "state.json"
# What Keras' BackupAndRestore wrote (runs started before this module): read
# as a backup at an epoch's end, so those runs still resume.
KERAS_WEIGHTS, KERAS_STATE = "latest.weights.h5", "training_metadata.json"


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a backup was taken: `batch` batches into epoch `epoch` (0-based)."""

    epoch: int = 0
    batch: int = 0


def rng_variables(model):
    """Dropout's random state: the model's variables that are not weights (each
    Dropout layer's seed generator). `save_weights` leaves them out, so without
    them a resumed run draws other dropout masks than an uninterrupted one."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def backend_rng_state():
    """The backend's own random state, where a model draws from it (base64), else None.

    Only torch: its Dropout without an explicit seed (`seed=None`, as every
    Keras layer defaults to) calls `torch.nn.functional.dropout`, which draws
    from torch's global generator, not from the layer's seed generator. A
    Keras model with such a Dropout, killed after one epoch and resumed on
    torch, ended 2.2e-3 away from an uninterrupted run until this was saved
    too (tests/resume_worker.py); TensorFlow and JAX draw from the seed
    generators alone.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    return base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")


def set_backend_rng_state(state):
    if state is None or keras.backend.backend() != "torch":
        return
    import torch

    torch.set_rng_state(torch.from_numpy(
        np.frombuffer(base64.b64decode(state), dtype=np.uint8).copy()))


class TrainingBackup(keras.callbacks.Callback):
    """Save weights and optimizer state every `every_seconds` of training and at
    every epoch's end; `restore(model)` loads the last save and says where it was.

    `every_seconds=0` saves after every batch (tests, `benchmarks/kill_writes.py`).
    Like the progress and divergence lines, it is told the `batch_offset` of a
    `fit` that starts inside an epoch, so the positions it saves are the epoch's.
    """

    def __init__(self, directory, every_seconds=BACKUP_EVERY_MINUTES * 60,
                 clock=time.monotonic):
        super().__init__()
        if not isinstance(every_seconds, (int, float)) or every_seconds < 0:
            raise ValueError(f"every_seconds must be a number >= 0, got {every_seconds!r}")
        self.directory = directory
        self.every_seconds = every_seconds
        self.batch_offset = 0
        self._clock = clock
        self._epoch = 0
        self._saves = 0
        self._backend_rng = None  # to apply when the next fit begins (torch)

    # -- reading ---------------------------------------------------------------

    def _read_state(self):
        path = os.path.join(self.directory, STATE_FILE)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            return state["weights"], Position(state["epoch"], state["batch"]), state["saves"]
        legacy = os.path.join(self.directory, KERAS_STATE)
        if os.path.exists(legacy):
            with open(legacy, encoding="utf-8") as f:
                epoch = json.load(f)["epoch"]
            return KERAS_WEIGHTS, Position(epoch, 0), 0
        return None, Position(), 0

    def restore(self, model):
        """Load the last backup into the compiled `model`; return its `Position`
        (`Position()` and the model untouched when there is none)."""
        weights, position, self._saves = self._read_state()
        if weights is None:
            return position
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its moments are in the file
        model.load_weights(os.path.join(self.directory, weights))
        self._restore_rng(model)
        return position

    def _restore_rng(self, model):
        path = os.path.join(self.directory, STATE_FILE)
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        # Applied when the resumed fit begins (`on_train_begin`): torch's first fit
        # of a fresh model draws from the global generator while it builds.
        self._backend_rng = state.get("backend_rng")
        saved = state.get("rng")
        variables = rng_variables(model)
        if saved is None or len(saved) != len(variables):
            return  # a backup from before this was saved: dropout starts afresh, as it did
        for variable, value in zip(variables, saved):
            variable.assign(np.asarray(value, dtype=variable.dtype))

    # -- writing ---------------------------------------------------------------

    def _save(self, position):
        os.makedirs(self.directory, exist_ok=True)
        self._saves += 1
        name = f"backup-{self._saves}.weights.h5"  # never the file the state names now
        self.model.save_weights(os.path.join(self.directory, name), overwrite=True)
        state = {"weights": name, "epoch": position.epoch, "batch": position.batch,
                 "saves": self._saves,
                 "rng": [keras.ops.convert_to_numpy(v.value).tolist()
                         for v in rng_variables(self.model)],
                 "backend_rng": backend_rng_state()}
        temporary = os.path.join(self.directory, STATE_FILE + ".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, os.path.join(self.directory, STATE_FILE))
        for old in glob.glob(os.path.join(self.directory, "*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)
        self._last = self._clock()

    # -- callback --------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._last = self._clock()
        # Where the last fit (or the backup) left the backend's generator: a resumed
        # run is two fits where the uninterrupted one is one, and what a fit draws
        # as it starts must not shift the dropout masks that follow.
        set_backend_rng_state(self._backend_rng)

    def on_train_end(self, logs=None):
        self._backend_rng = backend_rng_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Not after an epoch's last batch: its end (validation, best checkpoint)
        # is still to come, and the save at `on_epoch_end` follows. A kill in
        # between resumes from the backup before, which has batches left to train.
        last = batch + 1 >= (self.params or {}).get("steps", float("inf"))
        if not last and self._clock() - self._last >= self.every_seconds:
            self._save(Position(self._epoch, self.batch_offset + batch + 1))

    def on_epoch_end(self, epoch, logs=None):
        self._save(Position(epoch + 1, 0))


class RestOfEpoch(keras.utils.PyDataset):
    """The batches of `epoch` from batch `start` on: what a resumed epoch has left."""

    def __init__(self, batches, epoch, start):
        super().__init__()
        batches.set_epoch(epoch)
        self.batches, self.start = batches, start

    def __len__(self):
        return len(self.batches) - self.start

    def __getitem__(self, index):
        return self.batches[self.start + index]


def _fit_input(dataset, resumed):
    """What `fit` is given. After a resume on TensorFlow, a `tf.data.Dataset`
    with every axis open: Keras would fix the input signature from the first
    two batches it sees, and only the batches at the very start of a run are
    planned for that (`ClassificationBatches` and `PretrainingBatches` lead
    with batches of distinct shapes); the rest of an epoch, or a later epoch,
    may begin with two alike. Each epoch iterates the generator afresh, after
    `EpochSync` has set the epoch."""
    if not resumed or keras.backend.backend() != "tensorflow":
        return dataset
    import tensorflow as tf

    spec = keras.tree.map_structure(
        lambda a: tf.TensorSpec((None,) * a.ndim, tf.as_dtype(a.dtype)), dataset[0])
    generated = tf.data.Dataset.from_generator(
        lambda: (dataset[i] for i in range(len(dataset))), output_signature=spec)
    return generated.apply(tf.data.experimental.assert_cardinality(len(dataset)))


def fit_resumable(model, batches, epochs, backup, resume=False, callbacks=(),
                  first_callbacks=(), **fit_kwargs):
    """`model.fit(batches, epochs=epochs, ...)` with `backup` among the callbacks
    (after `first_callbacks`, before `callbacks`), continuing from the backup's
    exact batch when `resume` is true.

    Callbacks with a `batch_offset` attribute (the backup, progress and
    divergence lines) are told where a resumed epoch starts, so the batch
    numbers they save or print are the epoch's; those with `total_epochs`
    (progress lines) the run's number of epochs. Returns `(history, epochs)`:
    the history of the epochs trained now, one dict, and those epochs'
    numbers (0-based).
    """
    position = backup.restore(model) if resume else Position()
    callbacks = [*first_callbacks, backup, *callbacks]
    history, trained = {}, []

    def fit(dataset, first_epoch, last_epoch, start):
        # `start` > 0 only for a fit of one epoch (the rest of an interrupted one).
        for callback in callbacks:
            if hasattr(callback, "batch_offset"):
                callback.batch_offset = start
            if hasattr(callback, "total_epochs"):
                callback.total_epochs = epochs
        result = model.fit(_fit_input(dataset, resumed=position != Position()),
                           initial_epoch=first_epoch, epochs=last_epoch, callbacks=callbacks,
                           **fit_kwargs)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)
        trained.extend(result.epoch)

    epoch = position.epoch
    if position.batch >= len(batches) > 0:
        raise AlbertTfError(f"the backup in {backup.directory} was taken after batch "
                            f"{position.batch} of epoch {epoch + 1}, but an epoch now has "
                            f"{len(batches)} batches: resume with the options the run "
                            "started with")
    if position.batch and epoch < epochs:
        fit(RestOfEpoch(batches, epoch, position.batch), epoch, epoch + 1, position.batch)
        epoch += 1
        if model.stop_training:
            return history, trained
    if epoch < epochs:
        fit(batches, epoch, epochs, 0)
    return history, trained
