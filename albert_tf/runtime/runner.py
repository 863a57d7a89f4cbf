"""One TFLite classifier (or embedder) file -> outputs for packed token sequences.

`ModelRunner` owns the interpreters of one `.tflite` file and knows the
kit's input contract. It pads each batch to its longest sequence (rounded
to 8) for the dynamic-shape files, or to the fixed length of a static
file (the MediaPipe variant), and feeds every input by signature name:
the tensor order differs between files and quantized ones silently drop
to chance accuracy when fed by position.

Thread safety: an interpreter must not run two calls at once, so calls
borrow one from a pool (`num_interpreters`, default 1) and give it back.
More interpreters serve more threads at once, at the cost of memory.
"""

import os
import queue

import numpy as np

from albert_tf.contract import (EMBEDDING, INPUTS, MEDIAPIPE_INPUTS, MEDIAPIPE_PROBABILITY,
                                PROBABILITIES)
from albert_tf.errors import ModelFileError
from albert_tf.text.bucketing import plan_batches
from albert_tf.text.tokenizer import pad_sequences

from .interpreters import find_interpreter

# The kit's dynamic-shape files: `token_ids` signature, int32 [batch, length].
# MediaPipe TextClassifier files: int32 [1, L] inputs, one `probability` output.
_NAME_MAPS = (dict(zip(INPUTS, INPUTS)), dict(zip(INPUTS, MEDIAPIPE_INPUTS)))


class ModelRunner:
    """Run a classifier `.tflite` on packed `(token_ids, segment_ids)` pairs.

    Args:
        model: path of a `.tflite` file, or its bytes.
        num_threads: threads per interpreter (default: all cores).
        num_interpreters: interpreters in the pool, i.e. calls that can
            run at once from different threads.
        backend: force one of `interpreters.NAMES`; default: the first found.
    """

    def __init__(self, model, num_threads=None, num_interpreters=1, backend=None):
        if num_interpreters < 1:
            raise ValueError(f"num_interpreters must be >= 1, got {num_interpreters}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.backend, interpreter_class = find_interpreter(backend)
        self.num_threads = num_threads or os.cpu_count() or 1
        source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) \
            else {"model_path": os.fspath(model)}
        self._pool = queue.Queue()
        for _ in range(num_interpreters):
            try:
                interpreter = interpreter_class(num_threads=self.num_threads, **source)
            except (ValueError, RuntimeError, SystemError) as error:
                raise ModelFileError(f"not a readable TFLite model: {error}") from None
            self._pool.put(self._describe(interpreter))

    def _describe(self, interpreter):
        """(signature runner, input name map) of one interpreter; records the
        file's outputs, label count and static length (the same for every
        interpreter of the pool)."""
        signatures = interpreter.get_signature_list()
        if not signatures:
            raise ModelFileError("the TFLite model has no signature")
        key = "token_ids" if "token_ids" in signatures else next(iter(signatures))
        runner = interpreter.get_signature_runner(key)
        inputs = runner.get_input_details()
        names = next((m for m in _NAME_MAPS if set(m.values()) == set(inputs)), None)
        if names is None:
            raise ModelFileError(
                f"model inputs {sorted(inputs)} are neither {list(INPUTS)} (albert_tf) nor "
                f"{list(MEDIAPIPE_INPUTS)} (MediaPipe)")
        shape = list(inputs[names["token_ids"]]["shape_signature"])
        static_length = None if -1 in shape else int(shape[-1])
        self.outputs = runner.get_output_details()
        self.probability_output = next(
            (n for n in (PROBABILITIES, MEDIAPIPE_PROBABILITY) if n in self.outputs), None)
        # An embedder's files have one output, the sentence vector.
        self.primary_output = self.probability_output or (
            EMBEDDING if EMBEDDING in self.outputs else None)
        if self.primary_output is None:
            raise ModelFileError(f"model outputs {sorted(self.outputs)} lack "
                                 f"{PROBABILITIES!r} (a classifier) or {EMBEDDING!r} "
                                 "(an embedder)")
        self.num_labels = (int(self.outputs[self.probability_output]["shape_signature"][-1])
                           if self.probability_output else None)
        self.static_length = static_length
        return runner, names

    def run(self, packed, max_length, outputs=None, pad_to=None):
        """Outputs for one batch of packed sequences: `{name: (n, ...) float32}`.

        Dynamic-shape files get the batch padded to its longest sequence
        (rounded to 8), or to `pad_to` (answers must not depend on it). A
        static-length file runs one sequence at a time (its batch is 1).
        """
        outputs = outputs or (self.primary_output,)
        runner, names = self._pool.get()
        try:
            if self.static_length is None:
                batch = (pad_sequences(packed, max_length) if pad_to is None
                         else pad_sequences(packed, pad_to, pad_to))
                return self._invoke(runner, names, batch, outputs)
            rows = [self._invoke(runner, names,
                                 pad_sequences([p], self.static_length, self.static_length),
                                 outputs) for p in packed]
            return {name: np.concatenate([r[name] for r in rows]) for name in outputs}
        finally:
            self._pool.put((runner, names))

    def width(self, output):
        """Size of the last axis of `output` (labels, or the embedding width)."""
        return int(self.outputs[output]["shape_signature"][-1])

    def run_all(self, packed, max_length, batch_size, outputs=None):
        """Outputs for any number of sequences, in their order.

        Sequences of similar length share a batch of at most `batch_size`, so
        little of each batch is padding.
        """
        outputs = outputs or (self.primary_output,)
        results = {name: np.zeros((len(packed), self.width(name)), "float32")
                   for name in outputs}
        for rows in plan_batches([len(tokens) for tokens, _ in packed], batch_size):
            values = self.run([packed[i] for i in rows], max_length, outputs)
            for name in outputs:
                results[name][rows] = values[name]
        return results

    @staticmethod
    def _invoke(runner, names, batch, outputs):
        try:
            result = runner(**{names[k]: v for k, v in batch.items()})
        except RuntimeError as error:
            # A damaged file can load and still fail to prepare or run (found
            # by benchmarks/fuzz_model_files.py: a flipped zero-point).
            raise ModelFileError(f"the model file cannot run: {str(error)[:300]}") from None
        return {name: np.asarray(result[name], dtype="float32") for name in outputs}
