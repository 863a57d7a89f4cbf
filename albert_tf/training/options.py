"""Checks shared by every run's options (`training.config`): fail before any work,
with a message that repeats the bad value."""

import os

from albert_tf.artifacts.formats import is_model_dir, is_pretrained_dir
from albert_tf.artifacts.manifest import check_output_dir
from albert_tf.errors import AlbertTfError


def fail(message):
    raise AlbertTfError(message)


def check_choice(name, value, choices):
    if value not in choices:
        fail(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def check_positive(options, *names):
    for name in names:
        value = getattr(options, name)
        if value is None or isinstance(value, bool) or int(value) < 1:
            fail(f"{name} must be a positive integer, got {getattr(options, name)}")


def check_rates(options, *names, open_low=False):
    """Each named value is None or in [0, 1) ((0, 1) with `open_low`)."""
    for name in names:
        value = getattr(options, name)
        if value is None:
            continue
        if not (0 < value < 1 if open_low else 0 <= value < 1):
            fail(f"{name} must be in {'(0' if open_low else '[0'}, 1), got {value}")


def check_inputs(*paths):
    for path in paths:
        if path is not None and not os.path.exists(path):
            fail(f"{path}: no such file or directory")


def check_output(out, overwrite):
    if not out:
        fail("an output directory is required (out=... / --out)")
    check_output_dir(out, overwrite, error=AlbertTfError)


def check_init(init, tokenizer, model_dir_ok=False):
    """`init` is a pretrained directory (or, with `model_dir_ok`, a trained
    model directory to warm-start from), which brings its own tokenizer."""
    if init is None:
        return
    if not (is_pretrained_dir(init) or (model_dir_ok and is_model_dir(init))):
        kinds = "a pretrained or model directory" if model_dir_ok else "a pretrained directory"
        fail(f"{init}: not {kinds} (write one with `albert-tf import`, `albert-tf pretrain`"
             + (", `train` or `distill`)" if model_dir_ok else ")"))
    if tokenizer is not None:
        fail("pass either init (which brings its tokenizer) or tokenizer, not both")
