"""Data-parallel training across a machine's devices, one switch for both backends.

JAX: `keras.distribution.DataParallel` shards each batch across the local
devices and replicates the weights. TensorFlow: `tf.distribute.MirroredStrategy`.
Either way each batch's rows must split evenly, so the batches pad their
rows to a multiple of the device count with zero-weight rows (nothing is
dropped), and metrics are weighted so those rows do not count.

Multi-host (JAX): start the same command on every host after
`keras.distribution.initialize()` (it reads `JAX_COORDINATOR_ADDRESS`,
`JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`); `DataParallel` then spans all
hosts' devices, and each host feeds its share of every batch.
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
