"""Data-parallel training across a machine's devices, one switch for both backends.

JAX: `keras.distribution.DataParallel` shards each batch across the local
devices and replicates the weights. TensorFlow: `tf.distribute.MirroredStrategy`.
Either way each batch's rows must split evenly, so the batches pad their
rows to a multiple of the device count with zero-weight rows (nothing is
dropped), and metrics are weighted so those rows do not count.

One process only, for now. Keras' JAX trainer takes what each process feeds as
that process's share of the global batch, and the batches here are built
whole in every process: started on several processes (after
`keras.distribution.initialize()`), each would feed a whole batch, so the
global batch would be N times as large with every row N times, and the
weights would not be a one-process run's. `data_parallel` refuses that
instead of training it.
"""

import contextlib

import keras

from albert_tf.errors import AlbertTfError


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
        import jax

        if jax.process_count() > 1:
            raise AlbertTfError(
                f"data-parallel training runs in one process; this is process "
                f"{jax.process_index()} of {jax.process_count()} (each would feed a whole "
                "batch as its share: every row counted once per process). Train on one "
                "host's devices")
        devices = keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
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
