"""The optimizer every training run uses: AdamW, linear warm-up, then linear decay."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then linear decay to 0.

    Example:
    ```python
    schedule = WarmupLinearDecay(1e-4, warmup_steps=10, total_steps=100)
    float(schedule(5))  # 5e-05
    ```
    """

    def __init__(self, peak, warmup_steps, total_steps):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * ops.clip(ops.minimum(warmup, decay), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


def adamw(config, total_steps):
    """AdamW at `config.learning_rate` over `total_steps` (warm-up share
    `config.warmup_ratio`), global-norm clipping at `config.clipnorm`; biases
    and LayerNorm scales take no weight decay, as in BERT and ALBERT."""
    schedule = WarmupLinearDecay(config.learning_rate,
                                 int(total_steps * config.warmup_ratio), total_steps)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule,
                                       weight_decay=config.weight_decay,
                                       global_clipnorm=config.clipnorm or None)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
