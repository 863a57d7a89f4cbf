"""Teacher against student: size and p50 latency on real sentences, one thread, one run.

The teacher (a Hugging Face directory) runs through torch, batch 1, float32
and bf16 autocast; the student (a kit export) through the TF-free runtime,
batch 1, one line per recipe and student (`--student` again for another
export: shallower students are compared with the teacher in the same run).
Texts are a seeded sample of the eval file, timed in blocks of `--block`
texts: each model classifies a block back to back, then the next model takes
the same block, round after round, so that machine noise hits all of them
alike. Back to back is how a served model runs (and how TFLite's
benchmark_model times one); `--block 1` switches model on every text instead,
which pushes the teacher's 90 MB of weights through the caches before each
student call (the figures before 2026-12-03 were taken that way). The CPU
model and its flags are printed with the figures: compare ratios from one
run, never absolute times across machines.

```bash
python benchmarks/distill_latency.py --teacher runs/teacher-sst2 \
    --student runs/sst2-distilled-export --data ../shared/data/sst2/dev.tsv
python benchmarks/distill_latency.py --teacher runs/teacher-sst2 --recipes dynamic_int8,int8 \
    --student albert_tf/bundled/sst2_sentiment --student runs/sst2-4calls-export \
    --data ../shared/data/sst2/dev.tsv
python benchmarks/distill_latency.py --teacher mpnet --teacher minilm \
    --student sst2 --student runs/untied-soup-export \
    --recipes dynamic_int8,int8 --data ../shared/data/sst2/dev.tsv --out runs/bench-tiers
```
"""

import os
import tempfile
import time

import numpy as np

from albert_tf.text.data import load_examples
from albert_tf.training.distillation.packaged_bases import PACKAGED_BASES, unpack_base
from reporting import benchmark_parser, emit, machine


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def teacher_shape(base, out):
    """A Hugging Face directory of the packaged base `base` with a new 2-class head:
    the fine-tuned teacher's graph and cost, for timing when its weights are gone."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path, _ = unpack_base(base)
    AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).save_pretrained(out)
    AutoTokenizer.from_pretrained(path).save_pretrained(out)
    return out


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--teacher", required=True, action="append",
                        help="Hugging Face teacher directory, or a packaged base name "
                             "(mpnet, minilm: timed as that shape with a new 2-class head, "
                             "the cost of the fine-tuned teacher without its weights); "
                             "repeat to time several; ratios are to the first one's float32")
    parser.add_argument("--student", required=True, action="append",
                        help="kit export directory (repeat to compare several)")
    parser.add_argument("--data", required=True, help="file of real texts")
    parser.add_argument("--recipes", default="dynamic_int8,int8,float16",
                        help="student .tflite recipes")
    parser.add_argument("--sample", type=int, default=300, help="texts timed")
    parser.add_argument("--warmup", type=int, default=20, help="untimed texts first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the text sample")
    parser.add_argument("--block", type=int, default=50,
                        help="texts each model runs back to back before the next model "
                             "takes them (1: switch model on every text)")
    parser.add_argument("--out", help="directory for report.json (default: print only)")
    args = parser.parse_args(argv)
    if args.block < 1:
        parser.error(f"--block must be >= 1, got {args.block}")

    import torch

    from albert_tf.training.distillation.hf_teacher import HF_WEIGHTS, HFTeacher
    from albert_tf.runtime import Classifier

    torch.set_num_threads(1)
    texts = load_examples(args.data, require_labels=False).texts
    rng = np.random.default_rng(args.seed)
    texts = [texts[i] for i in rng.choice(len(texts), min(args.sample + args.warmup,
                                                           len(texts)), replace=False)]
    models, sizes = {}, {}
    scratch = tempfile.TemporaryDirectory()
    for given in args.teacher:
        teacher = given
        if given in PACKAGED_BASES and not os.path.exists(given):
            teacher = teacher_shape(given, os.path.join(scratch.name, given))
        # One teacher keeps the short row names earlier reports used.
        prefix = "teacher" if len(args.teacher) == 1 else f"{given}:"
        for precision, bf16 in (("float32", False), ("bf16", True)):
            name = f"{prefix} {precision} (torch)"
            models[name] = HFTeacher(teacher, batch_size=1, bf16=bf16)
            sizes[name] = os.path.getsize(os.path.join(teacher, HF_WEIGHTS))
    for student in args.student:
        # One student keeps the short row names earlier reports used.
        prefix = "student" if len(args.student) == 1 else f"{student}:"
        for recipe in args.recipes.split(","):
            name = f"{prefix} {recipe} (runtime)"
            models[name] = Classifier.load(student, recipe=recipe, num_threads=1,
                                           max_batch_size=1)
            sizes[name] = models[name].describe()["size_bytes"]
    times = {name: [] for name in models}
    for start in range(0, len(texts), args.block):
        for name, model in models.items():
            for i in range(start, min(start + args.block, len(texts))):
                started = time.perf_counter()
                model.predict_proba([texts[i]])
                if i >= args.warmup:
                    times[name].append(time.perf_counter() - started)
    rows = {name: {"p50_ms": round(1e3 * float(np.median(t)), 2),
                   "p90_ms": round(1e3 * float(np.percentile(t, 90)), 2),
                   "size_mb": round(sizes[name] / 1e6, 2)} for name, t in times.items()}
    teacher_p50 = rows[next(iter(models))]["p50_ms"]  # the first teacher in float32
    for row in rows.values():
        row["teacher_fp32_over_this"] = round(teacher_p50 / row["p50_ms"], 1)
    emit({"machine": machine(), "threads": 1, "texts": len(times[name]), "block": args.block,
          "data": args.data, "torch": torch.__version__, "models": rows}, args.out)


if __name__ == "__main__":
    main()
