"""Run in a subprocess: a tiny fine-tuning run, single-device, data-parallel on two
devices, or one of several data-parallel processes.

`python -m tests.data_parallel_worker single|parallel DATA_DIR OUT`: one
optimizer step (12 examples, one batch of 12; the parallel run splits it 6 + 6).
`python -m tests.data_parallel_worker process DATA_DIR OUT COORDINATOR N ID
[EXAMPLES]`: process ID of N, each feeding its share of every batch of 12;
EXAMPLES (default 12) sets how many steps one epoch is. The backend comes from
KERAS_BACKEND. Parallel runs see two CPU devices (XLA's host device count for
JAX, two logical CPUs for TensorFlow).
"""

import os
import sys


def main(mode, data_dir, out, coordinator=None, num_processes=None, process_id=None,
         examples="12"):
    if mode == "parallel" and os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import albert_tf
    from tests.helpers import MICRO_MODEL

    group, learning_rate = {}, 1e-2
    if mode == "process":
        learning_rate = 1e-3  # stable over a long epoch (the dead-peer test's)
        # A tokenizer trained once, before: every process reads the same one.
        group = dict(peer_timeout=30, tokenizer=os.path.join(data_dir, "tokenizer"),
                     backup_minutes=0)
        if coordinator:  # else one process, fed whole batches
            group.update(coordinator=coordinator, num_processes=int(num_processes),
                         process_id=int(process_id))
    albert_tf.train(train=os.path.join(data_dir, "train.tsv"),
                    eval=os.path.join(data_dir, "dev.tsv"), out=out, preset="tiny",
                    model_overrides={**MICRO_MODEL, "dropout": 0.0}, classifier_dropout=0.0,
                    vocab_size=200, max_length=32, batch_size=12, epochs=1,
                    max_train_examples=int(examples), learning_rate=learning_rate,
                    warmup_ratio=0.0,
                    data_parallel=(mode != "single"), verbose=0, seed=0, **group)


if __name__ == "__main__":
    main(*sys.argv[1:])
