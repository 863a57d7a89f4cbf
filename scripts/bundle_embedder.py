"""Copy the sentence embedder out of its export into the package (a few MB).

    python scripts/bundle_embedder.py runs/embedder-export \\
        --out albert_tf/bundled/sentence_embedder --files dynamic_int8,mediapipe_dynamic_int8 \\
        --reproduce runs/embedder-reproduce.txt

Keeps the chosen `.tflite` files and the tokenizer, carries the export's
parity, the student's agreement with its teacher and how it was made into a
new manifest (sha256 of every file), and writes README.md with the commands
that reproduce it.
"""

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.artifacts.manifest import (  # noqa: E402
    DISTILLATION, AtomicDirectory, verify_manifest, write_manifest)

KEPT_FIELDS = ("format", "source", "contract", "vocab_size", "tokenizer_sha256",
               "num_parameters", "eval_metrics", "versions", "model_config", DISTILLATION)


def graded_figure(agreement):
    """The graded Spearman as recorded: a mean of seeded draws with its spread, or
    (embedders trained before the draws were averaged) one draw."""
    if agreement.get("graded_spearman_sd") is None:
        return f"{agreement.get('graded_spearman')} (one draw)"
    return (f"{agreement['graded_spearman']} ± {agreement['graded_spearman_sd']} (mean of "
            f"{agreement.get('graded_draws')} draws)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--out", required=True)
    parser.add_argument("--files", default="dynamic_int8,mediapipe_dynamic_int8",
                        help="file names without .tflite, comma-separated")
    parser.add_argument("--title", default="Sentence embedder: ALBERT small distilled from "
                                           "all-mpnet-base-v2")
    parser.add_argument("--extra", help="a JSON file of figures measured on the bundle "
                                        "(latency, agreement), kept in the manifest as is")
    parser.add_argument("--reproduce", help="a text file with the commands that made the export")
    args = parser.parse_args(argv)
    manifest = verify_manifest(args.export)
    names = [f"{name}.tflite" for name in args.files.split(",")]
    parity = [row for row in manifest["parity"] if row["file"] in names]
    extra = json.load(open(args.extra, encoding="utf-8")) if args.extra else {}
    agreement = manifest.get("eval_metrics", {}).get("heldout_agreement", {})
    teacher = (manifest.get(DISTILLATION) or {}).get("teacher", {})
    with AtomicDirectory(args.out, overwrite=True) as out:
        for name in names:
            shutil.copy(os.path.join(args.export, name), out)
        shutil.copytree(os.path.join(args.export, "tokenizer"), os.path.join(out, "tokenizer"))
        reproduce = open(args.reproduce, encoding="utf-8").read() if args.reproduce else ""
        with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
            f.write(
                f"# {args.title}\n\nUnit-length {manifest['contract']['dim']}-dimensional "
                "sentence vectors whose cosine follows the teacher's "
                f"({teacher.get('name', teacher.get('kind'))}, sha256 "
                f"{str(teacher.get('sha256'))[:16]}...). English; sentences and short "
                "passages (the model reads "
                f"{manifest['contract']['max_length']} tokens).\n\n"
                "| file | MB | mean cosine with the Keras float vectors | min |\n"
                "|---|---|---|---|\n" + "".join(
                    f"| {r['file']} | {r['size_bytes'] / 1e6:.2f} | {r['mean_cosine']} | "
                    f"{r['min_cosine']} |\n" for r in parity)
                + f"\nThe Keras float student at training time against its teacher on "
                  f"{agreement.get('sentences')} held-out sentences: mean cosine "
                  f"{agreement.get('mean_cosine')}, Spearman of the pairwise similarities "
                  f"{agreement.get('pairwise_spearman')} ({agreement.get('pairs'):,} pairs of "
                  f"random sentences), {graded_figure(agreement)} on "
                  f"{agreement.get('graded_pairs')} pairs spread over the teacher's "
                  "similarity scale, as similarity benchmarks pick them.\n\n"
                + "".join(f"- {key}: {value}\n" for key, value in extra.items())
                + "\n## Reproduce from ../shared/data\n\n```bash\n" + reproduce
                + f"python3 scripts/bundle_embedder.py {args.export} --out {args.out} "
                  f"--files {args.files}\n```\n")
        write_manifest(out, title=args.title,
                       **{k: manifest[k] for k in KEPT_FIELDS if k in manifest},
                       tflite_files={n: manifest["tflite_files"][n] for n in names},
                       parity=parity, **({"measured": extra} if extra else {}))
    print(json.dumps({"out": args.out, "files": sorted(os.listdir(args.out)),
                      "bytes": sum(os.path.getsize(os.path.join(dp, f))
                                   for dp, _, fs in os.walk(args.out) for f in fs)}))


if __name__ == "__main__":
    main()
