"""Add early exit to a bundled model: copy the adaptive files of an export of the
same weights with exit heads (`distill --exit-heads per_call --exit-heads-only`)
into the bundle, next to its unchanged whole-model files.

    python scripts/bundle_adaptive.py runs/bundled-exits-export \\
        --out albert_tf/bundled/sst2_sentiment --recipes dynamic_int8 \\
        --eval ../shared/data/sst2/dev.tsv

Refuses an export whose model is not the bundle's (another tokenizer, or the
adaptive file with exits off disagreeing with the bundle's own file of that
recipe on more than `--max-disagreement` of the eval texts), then rewrites the
bundle's manifest with `adaptive_files`, the adaptive parity rows, each file's
agreement with the bundled file, how the exit heads were trained, and every
file's sha256. Writes into a copy and swaps it in, as the kit's writers do.
"""

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from albert_tf.artifacts.manifest import (AtomicDirectory, verify_manifest,  # noqa: E402
                                          write_manifest)
from albert_tf.contract import ADAPTIVE_FILES, ADAPTIVE_PREFIX  # noqa: E402
from albert_tf.runtime import Classifier  # noqa: E402
from albert_tf.text.data import load_examples  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="export of the bundle's weights with exit heads")
    parser.add_argument("--out", required=True, help="the bundled model directory")
    parser.add_argument("--recipes", default="dynamic_int8", help="adaptive recipes to add")
    parser.add_argument("--eval", required=True, help="labelled texts for the agreement check")
    parser.add_argument("--max-disagreement", type=float, default=0.0,
                        help="share of eval texts the two files may answer differently")
    args = parser.parse_args(argv)
    export, bundle = verify_manifest(args.export), verify_manifest(args.out)
    if export["tokenizer_sha256"] != bundle["tokenizer_sha256"]:
        raise SystemExit(f"{args.export}: another tokenizer than {args.out}'s")
    texts = load_examples(args.eval).texts
    rows, files = [], {}
    for recipe in args.recipes.split(","):
        name = f"{ADAPTIVE_PREFIX}{recipe}.tflite"
        if name not in (export.get(ADAPTIVE_FILES) or {}):
            raise SystemExit(f"{args.export}: no {name}")
        bundled = Classifier.load(args.out, recipe=recipe).predict_proba(texts).argmax(-1)
        adaptive = Classifier.load(args.export, recipe=recipe, exit="none")
        agreement = float((adaptive.predict_proba(texts).argmax(-1) == bundled).mean())
        if 1 - agreement > args.max_disagreement:
            raise SystemExit(f"{name} with exits off agrees with {args.out}/{recipe}.tflite on "
                             f"{agreement:.4f} of {args.eval}: not the bundle's model")
        row = next(r for r in export["parity"] if r["file"] == name)
        rows.append({**row, "agreement_with_bundled_file": agreement})
        files[name] = export[ADAPTIVE_FILES][name]
    with AtomicDirectory(args.out, overwrite=True) as out:
        for entry in os.listdir(args.out):
            copy = shutil.copytree if os.path.isdir(os.path.join(args.out, entry)) else shutil.copy
            copy(os.path.join(args.out, entry), os.path.join(out, entry))
        for name in files:
            shutil.copy(os.path.join(args.export, name), out)
        kept = {k: v for k, v in bundle.items() if k not in ("created", "files")}
        kept["parity"] = [r for r in kept["parity"] if r["file"] not in files] + rows
        write_manifest(out, **{**kept, ADAPTIVE_FILES: files,
                               # How the exit heads were trained (the model's own
                               # weights are the bundle's: checked above).
                               "exit_heads": {"export": args.export,
                                              "source": export.get("source"),
                                              "distillation": export.get("distillation")}})
    print(json.dumps({"out": args.out, "added": sorted(files), "parity": rows}, indent=2))


if __name__ == "__main__":
    main()
