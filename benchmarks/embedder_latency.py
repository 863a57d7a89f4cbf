"""Sentence embedder against its teacher: size, p50 latency on real sentences (one
thread, batch 1, one run), agreement on held-out sentences, and MediaPipe's
TextEmbedder against the runtime (issue 34).

The teacher is a sentence-transformers directory or packaged base ("mpnet")
run through torch (float32, one thread); the student is an embedder export or
bundle run through the TF-free runtime (`albert_tf.runtime.Embedder`). The
held-out sentences are the distillation's own (rebuilt from the embedder
directory's recorded corpus options) or a file of them (`--heldout`); their
teacher vectors are read from `--vectors` when given (the labelling run's file,
so the teacher runs only for the timing), else the teacher encodes them here
(a few minutes for 3,000 sentences on one thread: no labelling run needed).
Timing alternates blocks of `--block` sentences between the models (machine
noise hits both alike).
Agreement: mean and minimum cosine between student and teacher vectors of each
sentence, and the Spearman correlation of their pairwise cosines over the first
1,000 (`albert_tf.training.distillation.sentence_distill.agreement`).
`--reference minilm` adds the same pairwise correlation for another
sentence-transformers model against the teacher: a landmark for the student's
figure (what a model trained on its own, not distilled, gets on the same pairs).

`--pairs FILE` measures on designed pairs instead of all pairs of a sentence
set, as similarity benchmarks do: a TSV/CSV/JSONL file with `sentence1` and
`sentence2` columns, an optional `score` (or `label`: a human similarity score,
as Hugging Face's stsb has it) and an optional `kind` (or `genre`). Reported:
the Spearman of the student's pair cosines with the teacher's (and each
reference's), overall and by kind, and, where the file has scores, each model's
Spearman with them: the figure a similarity benchmark reports.
`benchmarks/data/sts_kinds_probe.tsv` is 61 pairs we wrote of the kinds such
benchmarks hold (captions, headlines, forum posts, one-word changes); no scores.

    python benchmarks/embedder_latency.py --teacher mpnet \\
        --student albert_tf/bundled/sentence_embedder --embedder-dir runs/embedder-cosine \\
        --vectors runs/mpnet-sentences.vectors.npz --out runs/embedder-latency
"""

import dataclasses
import os
import time

import numpy as np

from reporting import benchmark_parser, emit, machine


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def heldout_sentences(embedder_dir):
    """The held-out sentences of the distillation that made `embedder_dir`: its
    heldout.txt, or (a directory written before there was one) rebuilt from its
    recorded corpus options."""
    from albert_tf.artifacts.manifest import read_manifest
    from albert_tf.contract import HELDOUT_FILE
    from albert_tf.text.data import iter_text_lines
    from albert_tf.training.distillation.config import EmbeddingDistillConfig
    from albert_tf.training.distillation.sentence_distill import corpus_for

    import json

    read_manifest(embedder_dir)  # a directory with its files intact
    if os.path.isfile(os.path.join(embedder_dir, HELDOUT_FILE)):
        return list(iter_text_lines(os.path.join(embedder_dir, HELDOUT_FILE)))
    with open(os.path.join(embedder_dir, "config.json"), encoding="utf-8") as f:
        settings = json.load(f)["training"]
    if not settings.get("transfer"):
        # A directory rebuilt from a .tflite file (scripts/model_from_tflite.py) keeps
        # the weights but not the run's corpus, so it has no held-out sentences.
        raise SystemExit(f"embedder_latency: {embedder_dir} names no --transfer files "
                         "(rebuilt from a .tflite file?): give the --embedder-dir of "
                         "the distillation run, or --heldout")
    fields = {f.name for f in dataclasses.fields(EmbeddingDistillConfig)}
    config = EmbeddingDistillConfig(**{k: v for k, v in settings.items() if k in fields})
    return corpus_for(config).heldout


PAIR_COLUMNS = ("sentence1", "sentence2")
SCORE_COLUMNS = ("score", "label")  # the first present is the human score
KIND_COLUMNS = ("kind", "genre")


def read_pairs(path):
    """`(firsts, seconds, scores or None, kinds or None)` from a pairs file; a bad file
    is a one-line SystemExit naming it."""
    from albert_tf.errors import DataError
    from albert_tf.text.data import read_records

    try:
        records = list(read_records(path))
    except DataError as error:
        raise SystemExit(f"embedder_latency: {error}") from None
    if not records:  # a pairs file whose every base drew nothing, say (word_variants --dev)
        raise SystemExit(f"embedder_latency: {path}: no pairs (no rows after the header)")
    if any(c not in records[0][1] for c in PAIR_COLUMNS):
        raise SystemExit(f"embedder_latency: {path}: expected columns "
                         f"{' and '.join(PAIR_COLUMNS)} in a header row")
    columns = records[0][1]
    score = next((c for c in SCORE_COLUMNS if c in columns), None)
    kind = next((c for c in KIND_COLUMNS if c in columns), None)
    scores = [] if score else None
    for number, record in records if score else ():
        try:
            scores.append(float(record[score]))
        except ValueError:
            raise SystemExit(f"embedder_latency: {path}:{number}: {score} is not a "
                             "number") from None
    return ([r[PAIR_COLUMNS[0]] for _, r in records], [r[PAIR_COLUMNS[1]] for _, r in records],
            None if scores is None else np.array(scores),
            [r[kind] for _, r in records] if kind else None)


def pair_report(pairs, teacher_cosines, model_cosines):
    """Spearman of each model's pair cosines with the teacher's, overall and by kind,
    and, where the pairs have human scores, each model's (the teacher's too) with them."""
    from albert_tf.similarity import spearman

    _, _, scores, kinds = pairs
    # Each kind's pairs, where there are enough of them for a correlation.
    labels = np.array(kinds or [])
    chosen = {kind: mask for kind in sorted(set(kinds or []))
              if (mask := labels == kind).sum() > 2}
    report = {"count": len(teacher_cosines), "vs_teacher": {}}
    for name, cosines in model_cosines.items():
        figures = {"all": round(float(spearman(cosines, teacher_cosines)), 4)}
        for kind, mask in chosen.items():
            figures[kind] = round(float(spearman(cosines[mask], teacher_cosines[mask])), 4)
        report["vs_teacher"][name] = figures
    if scores is not None:
        report["vs_scores"] = {
            name: round(float(spearman(cosines, scores)), 4)
            for name, cosines in {"teacher": teacher_cosines, **model_cosines}.items()}
    return report


def pair_cosines(encode, pairs):
    """The cosine of each pair's two sentences under `encode` (texts -> vectors)."""
    from albert_tf.similarity import unit_rows

    return (unit_rows(encode(pairs[0])) * unit_rows(encode(pairs[1]))).sum(axis=1)


def mediapipe_cosines(path, texts, runtime_vectors):
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.text import TextEmbedder, TextEmbedderOptions

    options = TextEmbedderOptions(base_options=BaseOptions(model_asset_path=path))
    with TextEmbedder.create_from_options(options) as embedder:
        vectors = np.array([embedder.embed(t).embeddings[0].embedding for t in texts])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = (vectors * runtime_vectors).sum(axis=1)
    return {"texts": len(texts), "mean_cosine": round(float(cosines.mean()), 5),
            "min_cosine": round(float(cosines.min()), 5)}


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--teacher", default="mpnet",
                        help="sentence-transformers directory or packaged base name")
    parser.add_argument("--student", required=True, help="embedder export or bundle")
    parser.add_argument("--recipe", default="dynamic_int8", help="the student's .tflite")
    parser.add_argument("--pairs", help="a file of designed sentence pairs (sentence1, "
                                        "sentence2[, score][, kind]) measured on as well")
    heldout = parser.add_mutually_exclusive_group(required=True)
    heldout.add_argument("--embedder-dir",
                         help="the student's embedder directory (its held-out sentences)")
    heldout.add_argument("--heldout", help="a file of held-out sentences, one per line "
                                           "(to measure two students on the same ones)")
    parser.add_argument("--vectors", help="the teacher's .vectors.npz (default: the teacher "
                                           "encodes the held-out sentences itself)")
    parser.add_argument("--sample", type=int, default=300, help="sentences timed")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sentences first")
    parser.add_argument("--block", type=int, default=50, help="sentences per model turn")
    parser.add_argument("--mediapipe", type=int, default=200,
                        help="sentences MediaPipe's TextEmbedder embeds (0: skip)")
    parser.add_argument("--reference", action="append", default=[],
                        help="sentence-transformers directory or packaged base whose "
                             "pairwise agreement with the teacher is reported beside the "
                             "student's (repeatable; default: none)")
    parser.add_argument("--out", help="directory for report.json (default: print only)")
    args = parser.parse_args(argv)
    pairs = read_pairs(args.pairs) if args.pairs else None  # a bad file fails before work

    import torch

    from albert_tf.runtime import Embedder
    from albert_tf.text.data import iter_text_lines
    from albert_tf.training.distillation.sentence_distill import agreement
    from albert_tf.training.distillation.sentence_teacher import (SentenceTeacher,
                                                                    VectorsFileTeacher)

    torch.set_num_threads(1)
    heldout = (list(iter_text_lines(args.heldout)) if args.heldout
               else heldout_sentences(args.embedder_dir))
    student = Embedder.load(args.student, recipe=args.recipe, num_threads=1)
    student_vectors = student.embed(heldout)
    teacher = SentenceTeacher(args.teacher, num_threads=1)  # timed one text at a time
    teacher_vectors = (VectorsFileTeacher(args.vectors) if args.vectors
                       else teacher).encode(heldout)
    report = {"command": "python benchmarks/embedder_latency.py " + " ".join(argv or []),
              "machine": machine(), "heldout_sentences": len(heldout),
              "agreement": agreement(student_vectors, teacher_vectors)}
    references = {name: SentenceTeacher(name, num_threads=1) for name in args.reference}
    if references:  # all held-out sentences: the graded figure draws from all
        report["reference_agreement"] = {
            name: agreement(reference.encode(heldout), teacher_vectors)
            for name, reference in references.items()}
    if pairs:
        encoders = {"student": student.embed, **{n: r.encode for n, r in references.items()}}
        report["pairs"] = {"file": args.pairs, **pair_report(
            pairs, pair_cosines(teacher.encode, pairs),
            {name: pair_cosines(encode, pairs) for name, encode in encoders.items()})}

    rng = np.random.default_rng(0)
    texts = [heldout[i] for i in rng.choice(len(heldout), args.warmup + args.sample,
                                            replace=False)]
    runners = {"teacher": lambda t: teacher.encode([t]), "student": lambda t: student.embed(t)}
    for text in texts[:args.warmup]:
        for run in runners.values():
            run(text)
    times = {name: [] for name in runners}
    timed = texts[args.warmup:]
    with torch.inference_mode():
        for start in range(0, len(timed), args.block):
            for name, run in runners.items():
                for text in timed[start:start + args.block]:
                    began = time.perf_counter()
                    run(text)
                    times[name].append(time.perf_counter() - began)
    p50 = {name: round(float(np.median(t)) * 1e3, 3) for name, t in times.items()}
    student_file = student.bundle.model_path
    report.update({
        "p50_ms": p50, "p90_ms": {n: round(float(np.percentile(t, 90)) * 1e3, 3)
                                  for n, t in times.items()},
        "speedup": round(p50["teacher"] / p50["student"], 1),
        "bytes": {"teacher": directory_bytes(teacher.path),
                  "student_file": os.path.getsize(student_file)},
        "student": student.describe(), "teacher": teacher.describe(),
        "sample": args.sample, "block": args.block, "threads": 1, "batch": 1})
    mediapipe_file = os.path.join(os.path.dirname(student_file),
                                  f"mediapipe_{args.recipe}.tflite")
    if args.mediapipe and os.path.isfile(mediapipe_file):
        some = heldout[:args.mediapipe]
        report["mediapipe_vs_runtime"] = mediapipe_cosines(mediapipe_file, some,
                                                           student.embed(some))
    emit(report, args.out)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
