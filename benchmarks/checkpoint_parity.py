"""Checkpoint import parity: max abs difference against each reference implementation.

Builds the same random-weight references as `tests/test_checkpoints.py`
(offline: transformers on CPU torch, keras-hub, a TF1 checkpoint with
Google's names), at the test shape and at ALBERT-base's shape, imports each,
and prints the largest output difference per output, single and pair inputs
with padding.

    python benchmarks/checkpoint_parity.py --out runs/checkpoint-parity
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from albert_tf.checkpoints import export_checkpoint, import_checkpoint  # noqa: E402
from tests.helpers import (hf_outputs, hf_reference, max_differences,  # noqa: E402
                           random_inputs, write_google_checkpoint)

BASE = dict(embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512)


def _worst(pretrained, reference, length):
    worst = {}
    positions = np.array([[1, 4, 7], [2, 3, 9], [1, 5, 6]], "int32")
    for pairs in (False, True):
        inputs = random_inputs(3, length, pretrained.backbone.vocabulary_size, pairs=pairs)
        ours = {**pretrained.backbone(inputs),
                **pretrained.pretrainer({**inputs, "mask_positions": positions})}
        found = max_differences(ours, hf_outputs(reference, inputs, positions),
                                inputs["padding_mask"])
        for name, value in found.items():
            worst[name] = max(worst.get(name, 0.0), value)
    return worst


def measure(work, shape_name, config, length):
    import transformers

    results = {}
    ref_dir = os.path.join(work, f"{shape_name}-hf")
    reference = hf_reference(ref_dir, **config)
    hf = import_checkpoint("hf", ref_dir, os.path.join(work, f"{shape_name}-from-hf"))
    results["hf (safetensors)"] = _worst(hf, reference, length)

    google = write_google_checkpoint(reference, os.path.join(ref_dir, "spiece.model"),
                                     os.path.join(work, f"{shape_name}-google"))
    tf1 = import_checkpoint("tf1", google, os.path.join(work, f"{shape_name}-from-tf1"))
    results["tf1 (Google names)"] = _worst(tf1, reference, length)

    back = export_checkpoint(hf.path, "hf", os.path.join(work, f"{shape_name}-back-hf"))
    reloaded = transformers.AlbertForPreTraining.from_pretrained(back).eval()
    results["export -> transformers"] = _worst(hf, reloaded, length)

    preset = export_checkpoint(hf.path, "keras-hub", os.path.join(work, f"{shape_name}-preset"))
    from_preset = import_checkpoint("keras-hub", preset,
                                    os.path.join(work, f"{shape_name}-from-preset"))
    import keras_hub

    keras_hub_backbone = keras_hub.models.AlbertBackbone.from_preset(preset)
    inputs = random_inputs(3, length, hf.backbone.vocabulary_size, pairs=True)
    expected = {k: np.asarray(v) for k, v in keras_hub_backbone(inputs).items()}
    results["keras-hub preset (export, then import)"] = max_differences(
        from_preset.backbone(inputs), expected, inputs["padding_mask"])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/checkpoint-parity")
    parser.add_argument("--skip-base", action="store_true", help="test shape only")
    args = parser.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as work:
        report["test shape (H=32, 3 layers, 2 inner)"] = measure(work, "test", {}, 16)
        if not args.skip_base:
            report["base shape (H=768, 12 layers)"] = measure(work, "base", BASE, 128)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "parity.json"), "w") as f:
        json.dump(report, f, indent=2)
    for shape, rows in report.items():
        print(f"\n{shape}")
        for reference, worst in rows.items():
            cells = ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
            print(f"  {reference:42s} {cells}")


if __name__ == "__main__":
    main()
