"""Early exit on the TF-free runtime: an adaptive file (`export/adaptive.py`),
driven call by call of ALBERT's shared layer, stopping when an exit rule says so.

Rules (`parse_exit_rule`), PABEE's and the usual others:

| rule | stops after call i when |
|---|---|
| `patience:K` | exits i-K .. i all gave the same label (PABEE, Zhou et al. 2020) |
| `confidence:P` | exit i's best probability is at least P |
| `calls:N` | i == N (a fixed, shallower model) |
| `none` | never: every call, the last exit (the whole model) |

A text whose answer keeps changing runs every call. In a batch, the rows that
have exited are dropped before the next call, so the batch shrinks as it goes
deeper and no row pays for another's depth.
"""

import dataclasses
import os
import queue

import numpy as np

from albert_tf.contract import (ADAPTIVE_EMBED, ADAPTIVE_EXIT, ADAPTIVE_HIDDEN, ADAPTIVE_LAYER,
                                INPUTS, PROBABILITIES)
from albert_tf.errors import ModelFileError
from albert_tf.text.tokenizer import pad_sequences

from .interpreters import find_interpreter

RULE_FORMS = ("patience:K", "confidence:P", "calls:N", "none")


@dataclasses.dataclass(frozen=True)
class ExitRule:
    """When to stop calling the shared layer; see the module's table."""

    kind: str  # "patience", "confidence", "calls" or "none"
    value: float = None

    def __str__(self):
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"

    def stops(self, call, labels, best):
        """Whether rows stop after `call` (1-based): `labels` `(calls, rows)` the
        argmax of every exit so far, `best` `(rows,)` this exit's top probability."""
        if self.kind == "none":
            return np.zeros(labels.shape[1], bool)
        if self.kind == "calls":
            return np.full(labels.shape[1], call >= self.value)
        if self.kind == "confidence":
            return best >= self.value
        patience = int(self.value)
        if call <= patience:
            return np.zeros(labels.shape[1], bool)
        return (labels[-patience - 1:] == labels[-1]).all(axis=0)


def parse_exit_rule(rule, num_calls=None):
    """An `ExitRule` from "patience:2", "confidence:0.9", "calls:3" or "none"
    (None: "none"); a bad string is one ValueError naming the allowed forms."""
    if isinstance(rule, ExitRule):
        parsed = rule
    else:
        text = "none" if rule is None else str(rule).strip().lower()
        kind, _, value = text.partition(":")
        forms = ", ".join(RULE_FORMS)
        if kind == "none" and not value:
            return ExitRule("none")
        if kind not in ("patience", "confidence", "calls") or not value:
            raise ValueError(f"exit rule {rule!r}: use one of {forms}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"exit rule {rule!r}: {value!r} is not a number; use one of "
                             f"{forms}") from None
        parsed = ExitRule(kind, number)
    kind, value = parsed.kind, parsed.value
    if kind == "confidence" and not 0 < value <= 1:
        raise ValueError(f"exit rule {rule!r}: confidence P must be in (0, 1]")
    if kind in ("patience", "calls") and (value != int(value) or value < 1):
        raise ValueError(f"exit rule {rule!r}: {kind} takes a whole number >= 1")
    if kind == "calls" and num_calls is not None and value > num_calls:
        raise ValueError(f"exit rule {rule!r}: the model has {num_calls} layer calls")
    return parsed


class AdaptiveRunner:
    """Run an adaptive `.tflite` on packed `(token_ids, segment_ids)` sequences
    under an `ExitRule`; the same padding as `ModelRunner` (a batch to its
    longest sequence, rounded to 8), so with `none` it answers as the
    whole-model file does."""

    def __init__(self, model_path, num_threads=None, num_interpreters=1, backend=None):
        self.backend, interpreter_class = find_interpreter(backend)
        self.num_threads = num_threads or os.cpu_count() or 1
        self._pool = queue.Queue()
        for _ in range(num_interpreters):
            try:
                interpreter = interpreter_class(model_path=os.fspath(model_path),
                                                num_threads=self.num_threads)
            except (ValueError, RuntimeError, SystemError) as error:
                raise ModelFileError(f"not a readable TFLite model: {error}") from None
            self._pool.put(self._signatures(interpreter))

    def _signatures(self, interpreter):
        keys = interpreter.get_signature_list()
        exits = sorted((k for k in keys if k.startswith(ADAPTIVE_EXIT)),
                       key=lambda k: int(k[len(ADAPTIVE_EXIT):]))
        if ADAPTIVE_EMBED not in keys or ADAPTIVE_LAYER not in keys or not exits:
            raise ModelFileError(f"not an adaptive file: signatures {sorted(keys)}, expected "
                                 f"{ADAPTIVE_EMBED}, {ADAPTIVE_LAYER} and "
                                 f"{ADAPTIVE_EXIT}1..N")
        self.num_calls = len(exits)
        runners = [interpreter.get_signature_runner(k) for k in exits]
        self.num_labels = int(runners[0].get_output_details()[PROBABILITIES]
                              ["shape_signature"][-1])
        return (interpreter.get_signature_runner(ADAPTIVE_EMBED),
                interpreter.get_signature_runner(ADAPTIVE_LAYER), runners)

    def run(self, packed, max_length, rule):
        """`(probabilities (n, labels), calls (n,))` for one batch of sequences."""
        batch = pad_sequences(packed, max_length)
        embed, layer, exits = self._pool.get()
        try:
            hidden = embed(**{k: batch[k] for k in INPUTS[:2]})[ADAPTIVE_HIDDEN]
            mask = batch[INPUTS[2]]
            rows = np.arange(len(packed))  # the batch rows still running
            labels = np.zeros((0, len(packed)), int)  # every exit's argmax so far, per row
            probabilities = np.zeros((len(packed), self.num_labels), "float32")
            calls = np.zeros(len(packed), int)
            # A fixed depth reads one exit, at its end; the other rules read every exit.
            last = self.num_calls if rule.kind == "none" else (
                int(rule.value) if rule.kind == "calls" else None)
            for call in range(1, (last or self.num_calls) + 1):
                hidden = layer(**{ADAPTIVE_HIDDEN: hidden, INPUTS[2]: mask})[ADAPTIVE_HIDDEN]
                if last is not None and call < last:
                    continue
                answer = exits[call - 1](**{ADAPTIVE_HIDDEN: hidden})[PROBABILITIES]
                labels = np.concatenate([labels, answer.argmax(-1)[None]])
                done = rule.stops(call, labels, answer.max(-1)) | (call == self.num_calls)
                probabilities[rows[done]] = answer[done]
                calls[rows[done]] = call
                if done.all():
                    break
                # Rows that exited leave the batch: the next call runs only the others.
                keep = ~done
                rows, hidden, mask, labels = rows[keep], hidden[keep], mask[keep], labels[:, keep]
            return probabilities, calls
        finally:
            self._pool.put((embed, layer, exits))
