"""What every ALBERT layer shares: the initializer, the GELU forms and argument checks.

The checks fail when a layer is constructed, with a message that repeats the
value (keras-hub's convention), not later inside a traced graph.
"""

import keras
from keras import ops


# ALBERT's (and BERT's) initializer range; embeddings moved in from a teacher are
# scaled to it too (training.distillation.embeddings).
INITIALIZER_STDDEV = 0.02


def albert_initializer(stddev=INITIALIZER_STDDEV):
    return keras.initializers.TruncatedNormal(stddev=stddev)


def gelu_new(x):
    """ALBERT's `gelu_new`: the tanh approximation of GELU."""
    return ops.gelu(x, approximate=True)


def gelu_exact(x):
    """The erf form of GELU (Hugging Face's `hidden_act="gelu"`, ALBERT v1 ports)."""
    return ops.gelu(x, approximate=False)


def check_positive_int(**values):
    """`ValueError` naming the first value that is not a positive int."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def check_rate(**values):
    """`ValueError` naming the first value outside [0, 1)."""
    for name, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")


class FunctionalModel(keras.Model):
    """A functional `keras.Model` whose subclass builds its layers before calling
    `super().__init__(inputs, outputs)`, as keras-hub's models do.

    On the torch backend every Keras layer is a `torch.nn.Module`, and torch
    refuses to set a module attribute before `Module.__init__` has run
    ("cannot assign module before Module.__init__() call"). Until the model is
    initialised, attributes are set plainly (keras-hub's `Backbone` does the
    same): the functional graph tracks every layer it uses. A layer outside the
    graph (an exit head) must be assigned again after `super().__init__`, when
    Keras tracks it as usual.
    """

    def __setattr__(self, name, value):
        if keras.config.backend() == "torch" and not self.__dict__.get("_initialized"):
            return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)

    def finish_init(self):
        """Call at the end of the subclass' `__init__`: from now on, Keras tracks."""
        object.__setattr__(self, "_initialized", True)
