"""Run in a subprocess: one fine-tuning step, single-device or data-parallel.

`python -m tests.data_parallel_worker single|parallel DATA_DIR OUT`; the
backend comes from KERAS_BACKEND. Parallel runs see two CPU devices (XLA's
host device count for JAX, two logical CPUs for TensorFlow).
"""

import os
import sys


def main(mode, data_dir, out):
    if mode == "parallel" and os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import albert_tf
    from tests.helpers import MICRO_MODEL

    # 12 examples in one batch of 12: one optimizer step; the parallel
    # run splits it 6 + 6.
    albert_tf.train(train=os.path.join(data_dir, "train.tsv"),
                    eval=os.path.join(data_dir, "dev.tsv"), out=out, preset="tiny",
                    model_overrides={**MICRO_MODEL, "dropout": 0.0}, classifier_dropout=0.0,
                    vocab_size=200, max_length=32, batch_size=12, epochs=1,
                    max_train_examples=12, learning_rate=1e-2, warmup_ratio=0.0,
                    data_parallel=(mode == "parallel"), verbose=0, seed=0)


if __name__ == "__main__":
    main(*sys.argv[1:])
