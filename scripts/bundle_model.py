"""Copy the demo's model out of an export into the package (a few MB).

    python scripts/bundle_model.py runs/sst2-small-export \\
        --out albert_tf/bundled/sst2_sentiment --recipes int8,float16 \\
        --label-names negative,positive

Keeps the chosen `.tflite` files, the tokenizer and the labels, renames
labels if asked (names only: the output order is unchanged), carries the
export's parity and accuracy figures into a new manifest (sha256 of every
file) and writes the commands that reproduce it into README.md.
"""

import argparse
import json
import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.artifacts.manifest import (  # noqa: E402
    AVERAGED_FROM, DISTILLATION, PROVENANCE_KEYS, AtomicDirectory, verify_manifest,
    write_manifest)

KEPT_FIELDS = ("format", "source", "contract", "vocab_size", "tokenizer_sha256",
               "num_parameters", "keras_float_accuracy", "eval_metrics", "versions",
               "model_config") + PROVENANCE_KEYS


def _provenance_note(manifest):
    """A paragraph on how the model was made: its teacher, or an average's sources."""
    sources = manifest.get(AVERAGED_FROM)
    if not sources:
        note = _distillation_note(manifest.get(DISTILLATION))
        return f"{note}\n\n" if note else ""
    lines = [f"The mean of the weights of {len(sources)} models "
             "(`albert-tf average`):"]
    for source in sources:
        accuracy = source.get("eval_accuracy")
        lines.append(f"- `{source['path']}`"
                     + (f" (eval accuracy {accuracy:.4f})" if accuracy is not None else "")
                     + (f": {_distillation_note(source.get(DISTILLATION))}"
                        if source.get(DISTILLATION) else ""))
    return "\n".join(lines) + "\n\n"


def _distillation_note(record):
    """One sentence on the teacher of a distilled model ("" if not distilled)."""
    if not record:
        return ""
    teacher, counts = record["teacher"], record["transfer"]["counts"]
    accuracy = teacher.get("teacher_accuracy", teacher.get("accuracy"))
    members = teacher.get("members") or []
    kind = (f"an ensemble of {len(members)} teachers "
            f"({', '.join(member['kind'] for member in members)})" if members
            else f"a {teacher['kind']} teacher")
    return (f"Distilled from {kind} (sha256 {teacher['sha256'][:16]}..., "
            f"eval accuracy {accuracy:.4f}) on {counts['total']:,} transfer texts "
            f"({counts['labelled']:,} labelled, {counts['unlabelled']:,} unlabelled, "
            f"{counts['augmented']:,} augmented), T={record['temperature']}, "
            f"alpha={record['alpha']}; student agreement with the teacher on the eval "
            f"file: {record.get('eval_agreement_with_teacher', float('nan')):.4f}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipes", default="int8,float16")
    parser.add_argument("--label-names", help="comma-separated, in output order")
    parser.add_argument("--title", default="SST-2 sentiment, ALBERT small, trained by albert_tf")
    parser.add_argument("--description",
                        default="For English movie-review sentences: two classes, negative "
                                "and positive, no neutral. Other domains, languages and long "
                                "documents are outside what it learnt.",
                        help="what the model is for (the demo shows it)")
    parser.add_argument("--examples", help="a file of example texts, one per line, that the "
                                           "model answers right (the demo offers them)")
    parser.add_argument("--reproduce", help="a text file with the commands that made the export")
    args = parser.parse_args(argv)
    manifest = verify_manifest(args.export)
    recipes = args.recipes.split(",")
    labels = args.label_names.split(",") if args.label_names else manifest["labels"]
    if len(labels) != len(manifest["labels"]):
        raise SystemExit(f"{len(labels)} label names for {len(manifest['labels'])} outputs")
    parity = {row["recipe"]: row for row in manifest["parity"]
              if row["file"] in {f"{r}.tflite" for r in recipes}}
    with AtomicDirectory(args.out, overwrite=True) as out:
        for recipe in recipes:
            shutil.copy(os.path.join(args.export, f"{recipe}.tflite"), out)
        shutil.copytree(os.path.join(args.export, "tokenizer"), os.path.join(out, "tokenizer"))
        with open(os.path.join(out, "labels.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(labels) + "\n")
        reproduce = open(args.reproduce).read() if args.reproduce else ""
        with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
            f.write(f"# {args.title}\n\n{args.description}\n\n"
                    f"Labels (output order): {', '.join(labels)} "
                    f"(originally {', '.join(manifest['labels'])}).\n\n"
                    "| recipe | size MB | SST-2 dev accuracy | agreement with Keras float |\n"
                    "|---|---|---|---|\n" + "".join(
                        f"| {r} | {p['size_bytes'] / 1e6:.2f} | {p['accuracy']:.4f} | "
                        f"{p['agreement']:.4f} |\n" for r, p in parity.items())
                    + f"\nKeras float model: {manifest['keras_float_accuracy']:.4f}.\n\n"
                    + _provenance_note(manifest)
                    + "## Reproduce from ../shared/data\n\n```bash\n" + reproduce
                    + f"python3 scripts/bundle_model.py {args.export} --out {args.out} "
                    f"--recipes {args.recipes}"
                    + (f" --label-names {args.label_names}" if args.label_names else "")
                    + f" \\\n    --title {shlex.quote(args.title)}\n```\n")
        examples = ([line.strip() for line in open(args.examples, encoding="utf-8")
                     if line.strip()] if args.examples else [])
        write_manifest(out, title=args.title, description=args.description, labels=labels,
                       **({"examples": examples} if examples else {}),
                       original_labels=manifest["labels"],
                       **{k: manifest[k] for k in KEPT_FIELDS if k in manifest},
                       tflite_files={f"{r}.tflite": manifest["tflite_files"][f"{r}.tflite"]
                                     for r in recipes},
                       sst2_dev_accuracy={r: p["accuracy"] for r, p in parity.items()},
                       parity=list(parity.values()))
    print(json.dumps({"out": args.out, "files": sorted(os.listdir(args.out)),
                      "bytes": sum(os.path.getsize(os.path.join(dp, f))
                                   for dp, _, fs in os.walk(args.out) for f in fs)}))


if __name__ == "__main__":
    main()
