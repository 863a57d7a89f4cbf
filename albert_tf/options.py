"""Checks shared by fine-tuning and pretraining options: fail before any work,
with a message that repeats the bad value."""

import os

from albert_tf.errors import AlbertTfError


def fail(message):
    raise AlbertTfError(message)


def check_choice(name, value, choices):
    if value not in choices:
        fail(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def check_positive(options, *names):
    for name in names:
        if int(getattr(options, name)) < 1:
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
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        fail(f"{out} exists and is not empty; pass overwrite=True / --overwrite")


def check_init(init, tokenizer):
    """`init` is a pretrained directory, which brings its own tokenizer."""
    if init is None:
        return
    from albert_tf.pretrained import is_pretrained_dir

    if not is_pretrained_dir(init):
        fail(f"{init}: not a pretrained directory (write one with `albert-tf import` "
             "or `albert-tf pretrain`)")
    if tokenizer is not None:
        fail("pass either init (which brings its tokenizer) or tokenizer, not both")
