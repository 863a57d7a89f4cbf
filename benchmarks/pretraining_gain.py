"""What pretraining buys: SST-2 dev (and IMDB test) accuracy with and without it.

Runs the kit's own commands in order and records each one exactly:

1. `albert-tf train-tokenizer` on the offline corpus (IMDB unsup + train,
   SST-2 train, AG News, TREC; labels unused; SST-2 dev and IMDB test are
   never read before evaluation);
2. `albert-tf pretrain` (MLM + SOP) for `--pretrain-steps` or
   `--pretrain-minutes`, whichever ends first;
3. `albert-tf train` on SST-2 train from the pretrained encoder, and the
   same fine-tune from random initialisation (same tokenizer, shape,
   hyperparameters and seed);
4. optionally (`--imdb`) `albert-tf train` on IMDB train from the
   pretrained encoder, evaluated on IMDB test.

Writes results.json and results.md (with the commands) to `--out`. On the
H100: `--backend jax --precision mixed_bfloat16`.

    python benchmarks/pretraining_gain.py --data ../shared/data --out runs/gain \\
        --preset small --pretrain-minutes 20 --backend jax --precision mixed_bfloat16 --imdb
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time


def corpus_files(data):
    files = [os.path.join(data, "imdb", "unsup.jsonl.gz"), os.path.join(data, "imdb",
             "train.jsonl.gz"), os.path.join(data, "sst2", "train.tsv"),
             os.path.join(data, "agnews", "train.tsv"), os.path.join(data, "agnews", "test.tsv"),
             os.path.join(data, "trec", "train.tsv"), os.path.join(data, "trec", "test.tsv")]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise SystemExit(f"missing corpus files: {missing}")
    return files


def run(log, name, args, backend):
    """Run `albert-tf ARGS`, echo its progress, return its JSON result."""
    command = ["albert-tf", *map(str, args)]
    print(f"\n== {name}: {shlex.join(command)}", file=sys.stderr, flush=True)
    started = time.time()
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, "-m", "albert_tf.apps.cli", *map(str, args)],
                            stdout=subprocess.PIPE, env=env, text=True)
    if result.returncode:
        raise SystemExit(f"{name} failed with exit status {result.returncode}")
    output = json.loads(result.stdout)
    log.append({"stage": name, "command": shlex.join(command),
                "seconds": round(time.time() - started, 1), "result": output})
    return output


def finetune_args(train, evaluate, out, args, start):
    return ["train", "--train", train, "--eval", evaluate, "--out", out, *start,
            "--epochs", args.finetune_epochs, "--batch-size", args.batch_size,
            "--learning-rate", args.finetune_learning_rate, "--precision", args.precision,
            "--seed", args.seed, "--overwrite"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="runs/pretraining-gain")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--vocab-size", type=int, default=30000)
    parser.add_argument("--pretrain-steps", type=int, default=100000)
    parser.add_argument("--pretrain-minutes", type=float, default=20)
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--imdb", action="store_true", help="also fine-tune and test on IMDB")
    args = parser.parse_args()

    out, data, log = args.out, args.data, []
    os.makedirs(out, exist_ok=True)
    corpus = corpus_files(data)
    tokenizer = os.path.join(out, "tokenizer")
    if not os.path.exists(os.path.join(tokenizer, "spiece.model")):
        run(log, "tokenizer", ["train-tokenizer", "--input", *corpus, "--out", tokenizer,
                               "--vocab-size", args.vocab_size, "--seed", args.seed],
            args.backend)
    pretrained = os.path.join(out, "pretrained")
    run(log, "pretrain", [
        "pretrain", "--corpus", *corpus, "--tokenizer", tokenizer, "--out", pretrained,
        "--preset", args.preset, "--steps", args.pretrain_steps,
        "--time-limit-minutes", args.pretrain_minutes, "--token-budget", args.token_budget,
        "--learning-rate", args.pretrain_learning_rate, "--eval-every", args.eval_every,
        "--precision", args.precision, "--workers", args.workers, "--seed", args.seed,
        "--overwrite"], args.backend)

    sst2_train, sst2_dev = (os.path.join(data, "sst2", f) for f in ("train.tsv", "dev.tsv"))
    results = {}
    for name, start in (("pretrained", ["--init", pretrained]),
                        ("random init", ["--preset", args.preset, "--tokenizer", tokenizer])):
        summary = run(log, f"SST-2 fine-tune ({name})", finetune_args(
            sst2_train, sst2_dev, os.path.join(out, f"sst2-{name.split()[0]}"), args, start),
            args.backend)
        results[f"SST-2 dev accuracy, {name}"] = summary["accuracy"]
    if args.imdb:
        imdb_train, imdb_test = (os.path.join(data, "imdb", f)
                                 for f in ("train.jsonl.gz", "test.jsonl.gz"))
        summary = run(log, "IMDB fine-tune (pretrained)", finetune_args(
            imdb_train, imdb_test, os.path.join(out, "imdb-pretrained"), args,
            ["--init", pretrained, "--max-length", "512"]), args.backend)
        results["IMDB test accuracy, pretrained"] = summary["accuracy"]

    with open(os.path.join(pretrained, "metadata.json"), encoding="utf-8") as f:
        metadata = json.load(f)
    report = {"results": results, "heldout": metadata["heldout"], "run": metadata["run"],
              "stages": log}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in results.items()]
    lines += [f"| held-out MLM accuracy | {metadata['heldout']['mlm_accuracy']:.4f} |",
              f"| held-out SOP accuracy | {metadata['heldout']['sop_accuracy']:.4f} |",
              f"| pretraining steps | {metadata['run']['steps']} |", "", "Commands:", ""]
    lines += [f"- {s['stage']} ({s['seconds']} s): `{s['command']}`" for s in log]
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
