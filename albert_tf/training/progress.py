"""A progress line every few minutes for runs that write to a log file.

With `verbose=2` (what the CLI picks when stderr is not a terminal: `nohup`,
a CI job, a scheduler) Keras prints one line per epoch and nothing between. A
distillation epoch on 2 CPU cores takes 40-85 minutes, so a log could not say
whether a run was alive, how far it was, or when it would end. This prints
one line every `every_seconds` instead of a progress bar, which a log file
cannot show.
"""

import time

import keras

# Often enough to show a run is alive, rarely enough that an hour is 12 lines.
LOG_EVERY_SECONDS = 300


def print_line(line):
    print(line, flush=True)  # a log file read while the run goes on


def _duration(seconds):
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class ProgressLog(keras.callbacks.Callback):
    """Print `epoch 2/3 · step 1200/5678 (21%) · 14 min, about 52 min left · loss 0.81`
    at most once every `every_seconds` of training.

    Reading the logged loss waits for the step to finish on an asynchronous
    backend (JAX), so the clock is checked first and the loss read only when a
    line is due.

    Example:
    ```python
    model.fit(batches, epochs=3, verbose=2, callbacks=[ProgressLog(every_seconds=300)])
    ```
    """

    def __init__(self, every_seconds=LOG_EVERY_SECONDS, clock=time.monotonic, write=print_line):
        super().__init__()
        if not isinstance(every_seconds, (int, float)) or every_seconds < 0:
            raise ValueError(f"every_seconds must be a number >= 0, got {every_seconds!r}")
        self.every_seconds = every_seconds
        self._clock = clock
        self._write = write
        self._epoch = 0
        # Batches of this epoch trained before a resume (`training.resume`).
        self.batch_offset = 0
        # The run's epochs: a resumed run fits the rest of an epoch apart from
        # the later ones, and Keras' `params["epochs"]` counts only one `fit`'s.
        self.total_epochs = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._started = self._last = self._clock()

    def on_train_batch_end(self, batch, logs=None):
        now = self._clock()
        if now - self._last < self.every_seconds:
            return
        self._last = now
        self._write(self._line(batch + 1, now - self._started, logs or {}))

    def _line(self, done, elapsed, logs):
        """`done` batches trained since this epoch (or its resumed rest) began."""
        params = self.params or {}
        parts = [f"epoch {self._epoch + 1}/{self.total_epochs or params.get('epochs', '?')}"]
        step, total = done + self.batch_offset, params.get("steps")
        if total:
            total += self.batch_offset
            parts.append(f"step {step}/{total} ({100 * step // total}%)")
            left = elapsed * (total - step) / done
            parts.append(f"{_duration(elapsed)}, about {_duration(left)} left")
        else:
            parts.append(f"step {step}")
            parts.append(_duration(elapsed))
        parts += [f"{name} {float(value):.4f}" for name, value in sorted(logs.items())]
        return " · ".join(parts)


def progress_callbacks(verbose):
    """`[ProgressLog]` for log-file verbosity (2), else nothing: a terminal has
    Keras' progress bar, and `verbose=0` asked for silence."""
    return [ProgressLog(LOG_EVERY_SECONDS)] if verbose == 2 else []
