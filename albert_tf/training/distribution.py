"""Data-parallel training across devices, one switch for both backends, and
across processes (several hosts, or several processes on one) on JAX.

JAX: `keras.distribution.DataParallel` shards each batch across the devices
and replicates the weights. TensorFlow: `tf.distribute.MirroredStrategy`.
Either way each batch's rows must split evenly, so the batches pad their
rows to a multiple of the device count with zero-weight rows (nothing is
dropped), and metrics are weighted so those rows do not count.

Several JAX processes (`ProcessGroup`): every process plans the same global
batches (same data, same seed) and feeds only its own slice of each
(`process_share`), which is what Keras' JAX trainer expects of a process
(`jax.make_array_from_process_local_data`); gradients are averaged by XLA's
collectives (gloo on CPU). Process 0 writes the model directory; the others
write nothing. A peer that dies breaks the next collective: the survivors exit
with one line naming the coordinator, at once, rather than waiting out JAX's
heartbeat and aborting with a native stack trace.
"""

import atexit
import contextlib
import dataclasses
import os
import re
import sys

import keras

from albert_tf.errors import AlbertTfError
from albert_tf.training.config import PEER_TIMEOUT

# Where a process finds its group when no option says: Keras' variables (as
# `keras.distribution.initialize()` reads them), else JAX's.
PROCESS_ENV = {
    "coordinator": ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "JAX_COORDINATOR_ADDRESS"),
    "num_processes": ("KERAS_DISTRIBUTION_NUM_PROCESSES", "JAX_NUM_PROCESSES"),
    "process_id": ("KERAS_DISTRIBUTION_PROCESS_ID", "JAX_PROCESS_ID"),
}
# What a collective raises when a peer has gone (gloo on CPU, the coordination
# service elsewhere).
PEER_LOST = re.compile(r"gloo|connection reset|coordination service|heartbeat|"
                       r"unavailable|broken pipe", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ProcessGroup:
    """One data-parallel job over `num_processes` JAX processes; this is `process_id`.

    Example (two processes on one machine, or one per host with its address):
    ```python
    group = ProcessGroup.resolve("10.0.0.1:1234", num_processes=2, process_id=0)
    group.join()  # before anything runs on JAX
    ```
    """

    coordinator: str
    num_processes: int
    process_id: int
    peer_timeout: int = PEER_TIMEOUT

    @classmethod
    def resolve(cls, coordinator=None, num_processes=None, process_id=None,
                peer_timeout=PEER_TIMEOUT, environ=None):
        """The group the options (else `PROCESS_ENV`) describe, or None for one
        process; one line naming what is missing or wrong otherwise."""
        environ = os.environ if environ is None else environ
        given = {"coordinator": coordinator, "num_processes": num_processes,
                 "process_id": process_id}
        for name, variables in PROCESS_ENV.items():
            if given[name] is None:
                given[name] = next((environ[v] for v in variables if environ.get(v)), None)
        if given["coordinator"]:  # Keras' variable lists every host: the first leads
            given["coordinator"] = str(given["coordinator"]).split(",")[0].strip()
        if all(value is None for value in given.values()):
            return None
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise AlbertTfError(
                f"several processes need a coordinator, a process count and a process id; "
                f"missing {', '.join(missing)} (options --coordinator, --num-processes, "
                f"--process-id, or {', '.join(PROCESS_ENV[missing[0]])})")
        try:
            count, index = int(given["num_processes"]), int(given["process_id"])
        except ValueError:
            raise AlbertTfError(f"num_processes and process_id must be integers, got "
                                f"{given['num_processes']!r} and {given['process_id']!r}") from None
        if count < 1 or not 0 <= index < count:
            raise AlbertTfError(f"process_id must be in [0, {count - 1}] for {count} processes, "
                                f"got {index}")
        if not re.fullmatch(r"[^:\s]+:\d+", given["coordinator"]):
            raise AlbertTfError(f"coordinator must be HOST:PORT, got {given['coordinator']!r}")
        if not isinstance(peer_timeout, int) or peer_timeout < 1:
            raise AlbertTfError(f"peer_timeout must be a positive int, got {peer_timeout!r}")
        return None if count == 1 else cls(given["coordinator"], count, index, peer_timeout)

    is_writer = property(lambda self: self.process_id == 0)

    def describe(self):
        return (f"process {self.process_id} of {self.num_processes} (coordinator "
                f"{self.coordinator})")

    def join(self):
        """Start JAX's distributed runtime (before any JAX computation)."""
        if keras.backend.backend() != "jax":
            raise AlbertTfError("several training processes need the jax backend "
                                f"(KERAS_BACKEND=jax), not {keras.backend.backend()!r}")
        import jax

        if jax.distributed.is_initialized():
            return
        try:
            jax.distributed.initialize(self.coordinator, self.num_processes, self.process_id,
                                       initialization_timeout=self.peer_timeout,
                                       heartbeat_timeout_seconds=self.peer_timeout)
        except Exception as error:  # noqa: BLE001 - JAX raises several kinds
            raise AlbertTfError(f"{self.describe()}: could not join the group within "
                                f"{self.peer_timeout} s: {_first_line(error)}") from None
        # Registered after JAX's own shutdown hook, so it runs first: after a
        # failure, leave at once (JAX's would wait on the dead peer at a barrier,
        # then abort with a native stack trace).
        atexit.register(_leave_after_failure)

    def check_same(self, what, digest):
        """One line unless every process holds the same `digest` (hex) of `what`."""
        import numpy as np
        from jax.experimental import multihost_utils

        try:
            multihost_utils.assert_equal(np.frombuffer(bytes.fromhex(digest), "uint8"), what)
        except AssertionError:
            raise AlbertTfError(f"{self.describe()}: the processes hold different {what}s; "
                                "give every process the same data and options (a --tokenizer "
                                "or --init fixes the tokenizer)") from None

    @contextlib.contextmanager
    def guard(self):
        """Around work that runs collectives: a failure (a peer gone, or this
        process's own error) ends this process without JAX's shutdown barrier."""
        try:
            yield
        except BaseException as error:
            _FAILED.append(error)
            if isinstance(error, Exception) and PEER_LOST.search(str(error)):
                raise AlbertTfError(f"{self.describe()}: a peer process stopped; the job "
                                    f"cannot go on ({_first_line(error)})") from None
            raise


_FAILED = []


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _leave_after_failure():
    if _FAILED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def process_share():
    """`(index, count)`: which slice of every global batch this process feeds;
    `(0, 1)` in one process."""
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


@contextlib.contextmanager
def data_parallel(enabled=True):
    """Context in which models are built, compiled and fit data-parallel.

    Yields the number of replicas (1 when disabled).

    Example:
    ```python
    with data_parallel() as replicas:
        model = build_classifier("small", num_classes=2)
        model.compile(...)
        model.fit(batches)  # batches padded to a multiple of `replicas` rows
    ```
    """
    if not enabled:
        yield 1
        return
    backend = keras.backend.backend()
    if backend == "jax":
        # Every process's devices; each process feeds its own slice of a batch
        # (`process_share`), so Keras must not shard a dataset itself.
        devices = keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=False))
        try:
            yield len(devices)
        finally:
            keras.distribution.set_distribution(previous)
    elif backend == "tensorflow":
        import tensorflow as tf

        # Every GPU, else every logical CPU (one, unless split for testing).
        devices = [d.name for d in (tf.config.list_logical_devices("GPU")
                                    or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    else:
        raise AlbertTfError(f"data-parallel training supports the jax and tensorflow "
                            f"backends, not {backend!r}")
