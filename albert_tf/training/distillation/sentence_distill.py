"""Embedding distillation: an ALBERT encoder learns a sentence-transformers teacher's space.

Reimers & Gurevych (2020, "Making Monolingual Sentence Embeddings
Multilingual using Knowledge Distillation") showed a student learns a
teacher's sentence space by regressing its vectors on plain sentences. Here
the teacher is a sentence-transformers model (all-mpnet-base-v2 from its
PyPI parts, or any directory), the student an `AlbertSentenceEncoder` (mean
pooling and a projection to the teacher's width), the loss MSE on the
teacher's vectors, 1 - cosine, or 1 - cosine plus a term for the order of
each sentence's in-batch similarities (`batch_pearson_distance`). Everything
else is `train`'s: option checks, the tokenizer, length-bucketed batches,
`model.fit` with checkpoints and `--resume`, the best epoch kept (by the
Spearman correlation of its pairwise similarities with the teacher's on
held-out sentences). Teacher vectors are cached by text sha256 like soft
labels, and `label_sentences` writes them to a portable `.vectors.npz`.

```python
import albert_tf
embedder = albert_tf.distill_embeddings(
    teacher="mpnet", transfer=["imdb/unsup.jsonl.gz", "agnews/train.tsv"], per_file=30000,
    init="runs/bundled-keras", out="runs/embedder")
embedder.similarity("a gripping, funny film", "an entertaining and witty movie")
```
"""

import dataclasses
import os

import keras
import numpy as np

from albert_tf.artifacts.embedder_dir import encoder_with_dtype, save_embedder_dir
from albert_tf.artifacts.formats import is_embedder_dir, is_model_dir
from albert_tf.artifacts.manifest import DISTILLATION, recorded_path
from albert_tf.errors import AlbertTfError
from albert_tf.inference.sentence_embedder import TrainedEmbedder
from albert_tf.similarity import spearman, unit_rows
from albert_tf.text.data import Examples, iter_text_lines
from albert_tf.training.distillation.cache import open_cache, texts_digest
from albert_tf.training.distillation.config import CACHE_SUFFIX, EmbeddingDistillConfig
from albert_tf.training.distillation.hf_teacher import TEACHER_EXTRA_HINT, resolve_bf16
from albert_tf.training.distillation.labels_file import VECTORS_SUFFIX, write_vectors_file
from albert_tf.training.distillation.sentence_corpus import build_sentence_corpus
from albert_tf.training.distillation.sentence_teacher import load_sentence_teacher
from albert_tf.training.distillation.transfer import MAX_SENTENCE_WORDS
from albert_tf.training.finetune import WORK_DIR_SUFFIX, fit_classifier, preset_backbone
from albert_tf.training.run import Run, prepare_tokenizer

# Held-out sentences whose pairwise cosines are compared (n(n-1)/2 pairs).
AGREEMENT_SENTENCES = 1000
# Pairs of random sentences are nearly all unrelated (on our held-out sentences
# 99.7% of mpnet's pair cosines lie below 0.5), so a correlation over all of them
# mostly ranks noise among unrelated pairs: all-MiniLM-L6-v2, 0.82 on human
# similarity scores, gets 0.77 there against mpnet. Similarity benchmarks pick
# pairs across the whole scale instead; the graded figure does the same: up to
# GRADED_PER_BIN pairs from each tenth of the teacher's cosine (0.1 wide; below
# 0.1 one bin), drawn with a fixed seed from all held-out sentences' pairs.
GRADED_EDGES = (-1.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 + 1e-6)
GRADED_PER_BIN = 300
# The graded figure is the mean over this many seeded draws of those pairs: one
# draw's figure moved by up to 0.015 from seed to seed on 1,000 WordNet sentences
# (standard deviation 0.004), more than one training stage gained.
GRADED_DRAWS = 10
GRADED_SENTENCES = 3000  # at most this many held-out sentences (an n x n matrix)
# The best epoch is the one whose similarities follow the teacher's most closely
# on held-out sentences (what similarity and search read), not the one with the
# highest cosine to the teacher's vectors: the two part when the loss has a
# pairwise term.
MONITOR = "pairwise_spearman"
GRADED = "graded_spearman"  # logged beside it each epoch


def corpus_for(config):
    return build_sentence_corpus(
        config.transfer, per_file=config.per_file, holdout=config.holdout,
        min_words=config.min_words,
        max_words=config.max_words if config.max_words is not None else (
            MAX_SENTENCE_WORDS if config.split_sentences else float("inf")),
        text_column=config.transfer_text_column, split=config.split_sentences,
        seed=config.seed,
        heldout=list(iter_text_lines(config.heldout_file)) if config.heldout_file else None)


def _teacher(config):
    bf16 = config.teacher_bf16
    if not str(config.teacher).endswith(VECTORS_SUFFIX):
        bf16 = resolve_bf16(bf16)
    return load_sentence_teacher(config.teacher, batch_size=config.teacher_batch_size,
                                 bf16=bool(bf16))


def label_sentences(config=None, vectors_file=None, **kwargs):
    """Encode an embedding distillation's sentences (training and held-out) with its
    teacher, as `distill_embeddings` with the same options would, and write them to
    `vectors_file` (`.vectors.npz`); nothing is trained. Resumes through the
    teacher cache. Returns a summary dict."""
    vectors_file = os.fspath(vectors_file or "")
    if not vectors_file.endswith(VECTORS_SUFFIX):
        raise AlbertTfError(f"vectors_file must end in {VECTORS_SUFFIX}, got {vectors_file!r}")
    config = dataclasses.replace(config or EmbeddingDistillConfig(), **kwargs,
                                 out=vectors_file).validate()
    teacher = _teacher(config)
    corpus = corpus_for(config)
    cache = open_cache(config.cache_dir or vectors_file[:-len(VECTORS_SUFFIX)] + CACHE_SUFFIX,
                       teacher)
    texts = corpus.heldout + corpus.texts
    vectors = cache.vectors(texts, progress=config.verbose != 0)
    digest = write_vectors_file(vectors_file, teacher.describe(), texts, vectors)
    return {"vectors_file": vectors_file, "sha256": digest,
            "bytes": os.path.getsize(vectors_file), "texts": len(texts),
            "corpus": corpus.counts, "texts_sha256": texts_digest(corpus.texts),
            "teacher_calls": cache.teacher_calls, "teacher": teacher.describe()}


# Neighbour batches: clusters of about this many runs each, in this many
# principal directions of the teacher's vectors (k-means on all 768 would take
# about 20 minutes for 100k sentences on 2 cores; on 64, 2-3 minutes, and the
# clusters' own cosines still spread over 0.1-0.9 of the teacher's scale).
RUNS_PER_CLUSTER = 8
CLUSTER_DIMS = 64


def neighbour_groups(vectors, group_size, seed=0):
    """A cluster id per sentence: k-means (scikit-learn) on the teacher's vectors,
    about `group_size * RUNS_PER_CLUSTER` sentences a cluster.

    Why: with batches of random sentences nearly every in-batch pair is unrelated
    (see `GRADED_EDGES`), so the pairwise loss term learns to rank unrelated
    pairs. Batches made of runs of close neighbours hold related pairs at every
    grade as well: the "topic-aware sampling" of dense-retrieval distillation
    (Hofstaetter et al., SIGIR 2021), which clusters queries with k-means and
    draws batches from clusters.
    """
    try:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
    except ImportError:
        raise AlbertTfError(f"neighbour_group needs scikit-learn: {TEACHER_EXTRA_HINT}") from None
    vectors = unit_rows(np.asarray(vectors, np.float32))
    clusters = max(1, len(vectors) // (group_size * RUNS_PER_CLUSTER))
    if clusters == 1:
        return np.zeros(len(vectors), np.int64)
    dims = min(CLUSTER_DIMS, *vectors.shape)
    reduced = PCA(dims, random_state=seed).fit_transform(vectors)
    return KMeans(n_clusters=clusters, n_init=1, max_iter=10,
                  random_state=seed).fit_predict(reduced)


def _student_backbone(config, vocabulary_size):
    from albert_tf.artifacts.model_dir import load
    from albert_tf.artifacts.pretrained import load_pretrained

    if config.init and is_model_dir(config.init):
        return load(config.init, dtype=config.precision, dropout=config.dropout,
                    num_layers=config.num_layers).backbone
    if config.init:
        return load_pretrained(config.init, dtype=config.precision, dropout=config.dropout,
                               max_length=config.max_length).backbone
    return preset_backbone(config, vocabulary_size)


def continued_embedder(config):
    """The embedder directory `config.init`, its weights computing in the run's
    precision with the run's dropout and layer calls (where given): continued,
    not rebuilt."""
    from albert_tf.artifacts.embedder_dir import load_embedder

    try:
        return load_embedder(config.init, dtype=config.precision, dropout=config.dropout,
                             num_layers=config.num_layers).model
    except ValueError as error:  # the backbone's check: num_groups must divide num_layers
        if config.num_layers is None:
            raise
        raise AlbertTfError(f"{config.init}: {error}") from None


def student_builder(dim):
    """`build(config, vocabulary_size)` for `fit_classifier`: the embedding student.
    An embedder `init` keeps its projection; any other starts a new one."""
    from albert_tf.models.tasks import AlbertSentenceEncoder

    def build(config, vocabulary_size):
        if config.init and is_embedder_dir(config.init):
            model = continued_embedder(config)
            if model.projection_dim != dim:
                raise AlbertTfError(f"{config.init}: projects to {model.projection_dim} "
                                    f"dimensions, the teacher's vectors have {dim}")
            return model
        backbone = _student_backbone(config, vocabulary_size)
        if backbone.vocabulary_size != vocabulary_size:
            raise AlbertTfError(f"{config.init}: embeds {backbone.vocabulary_size} pieces but "
                                f"the tokenizer has {vocabulary_size}")
        return AlbertSentenceEncoder(backbone, dim)

    return build


def cosine_distance(y_true, y_pred):
    """1 - cosine per sentence (Keras' cosine_similarity loss is -cosine: shifted by
    one so a perfect student has loss 0, the same curve otherwise)."""
    return 1.0 + keras.losses.cosine_similarity(y_true, y_pred)


def batch_pearson_distance(y_true, y_pred):
    """1 - the Pearson correlation, per sentence, between its cosines to the other
    sentences of the batch under the student and under the teacher.

    Why a correlation and not the squared gap of those cosines: a squared gap
    was tried (2026-12-06) and lowered the held-out Spearman from 0.743 to 0.684,
    because the student's pairs sit at another mean and spread than the teacher's
    and the gap spends itself moving them all. A correlation is blind to that
    offset and scale, and asks only for the teacher's order, which is what the
    Spearman of the pairwise similarities (and search) reads. The diagonal (a
    sentence with itself, 1 for both) is left out.
    """
    student, teacher = (keras.ops.normalize(keras.ops.cast(v, "float32"), axis=-1)
                        for v in (y_pred, y_true))
    size = keras.ops.shape(student)[0]
    others = 1.0 - keras.ops.eye(size, dtype="float32")
    count = keras.ops.maximum(keras.ops.sum(others, axis=1, keepdims=True), 1.0)

    def centred(cosines):
        mean = keras.ops.sum(cosines * others, axis=1, keepdims=True) / count
        return (cosines - mean) * others

    s = centred(keras.ops.matmul(student, keras.ops.transpose(student)))
    t = centred(keras.ops.matmul(teacher, keras.ops.transpose(teacher)))
    r = keras.ops.sum(s * t, axis=1) / keras.ops.sqrt(
        keras.ops.sum(s * s, axis=1) * keras.ops.sum(t * t, axis=1) + 1e-12)
    return 1.0 - r


def embedding_loss(name):
    """The per-sentence loss named by `EMBEDDING_LOSSES`."""
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "cosine":
        return cosine_distance

    def cosine_and_pearson(y_true, y_pred):
        return cosine_distance(y_true, y_pred) + batch_pearson_distance(y_true, y_pred)

    return cosine_and_pearson


def graded_pairs(teacher_cosines, per_bin=GRADED_PER_BIN, seed=0):
    """Indices into `teacher_cosines` (a 1-D array of pair cosines): up to
    `per_bin` from each bin of `GRADED_EDGES`, drawn with `seed`, sorted.

    Each pair gets one seeded random rank and each bin keeps its `per_bin`
    lowest-ranked members, so a pair whose cosine crosses a bin edge changes only
    its own place (and at most one other pair's in each of its two bins). A fresh
    draw per bin would redraw the whole bin: the teacher's float16 vectors file
    against its float32 vectors (cosines apart by under 6e-5) shared only 963 of
    1,831 pairs that way, and the student's graded figure moved 0.828 -> 0.835.
    """
    cosines = np.asarray(teacher_cosines)
    rank = np.random.default_rng(seed).permutation(len(cosines))
    bins = np.digitize(cosines, GRADED_EDGES[1:-1])
    picked = [members if len(members) <= per_bin
              else members[np.argpartition(rank[members], per_bin)[:per_bin]]
              for members in (np.flatnonzero(bins == b) for b in range(len(GRADED_EDGES) - 1))]
    return np.sort(np.concatenate(picked))  # one array a bin, empty ones included


def agreement(student_vectors, teacher_vectors, pairs_of=AGREEMENT_SENTENCES):
    """How closely a student's vectors follow its teacher's on the same sentences:
    the mean and minimum cosine between the two vectors of each sentence; the
    Spearman correlation of their pairwise cosines over the first `pairs_of`
    (`pairwise_spearman`); and the same over pairs spread across the teacher's
    similarity scale (`graded_spearman`: the mean over `GRADED_DRAWS` seeded draws
    of such pairs, their standard deviation beside it; see `GRADED_EDGES`).

    Vectors of another width (another model's space, e.g. a reference embedder set
    beside the teacher) share only the correlations: the cosines are None.
    """
    student, teacher = unit_rows(student_vectors), unit_rows(teacher_vectors)
    if len(student) != len(teacher):
        raise AlbertTfError(f"agreement needs the same sentences: {len(student)} student "
                            f"vectors against {len(teacher)} teacher vectors")
    n = min(len(student), pairs_of)
    g = min(len(student), GRADED_SENTENCES)
    # One pair-cosine matrix per model serves both figures (each a leading block).
    k = max(n, g)
    student_cosines, teacher_cosines = student[:k] @ student[:k].T, teacher[:k] @ teacher[:k].T
    upper = np.triu_indices(n, k=1)
    pairwise = spearman(student_cosines[:n, :n][upper],
                        teacher_cosines[:n, :n][upper]) if n > 2 else None
    graded_upper = np.triu_indices(g, k=1)
    teacher_pairs = teacher_cosines[:g, :g][graded_upper]
    student_pairs = student_cosines[:g, :g][graded_upper]
    draws = [graded_pairs(teacher_pairs, seed=seed) for seed in range(GRADED_DRAWS)]
    graded_rs = ([spearman(student_pairs[graded], teacher_pairs[graded]) for graded in draws]
                 if len(draws[0]) > 2 else None)
    same_space = student.shape[1] == teacher.shape[1]
    cosines = (student * teacher).sum(axis=1) if same_space else None
    return {"sentences": int(len(student)),
            "mean_cosine": round(float(cosines.mean()), 4) if same_space else None,
            "min_cosine": round(float(cosines.min()), 4) if same_space else None,
            "pairwise_spearman": None if pairwise is None else round(float(pairwise), 4),
            "pairs": int(len(upper[0])),
            "graded_spearman": None if graded_rs is None else round(float(np.mean(graded_rs)), 4),
            "graded_spearman_sd": None if graded_rs is None else round(float(np.std(graded_rs)), 4),
            "graded_pairs": int(len(draws[0])), "graded_draws": GRADED_DRAWS}


def distill_embeddings(config=None, **kwargs):
    """Distil a sentence-transformers teacher into an ALBERT sentence encoder; write
    and return its embedder directory (a `TrainedEmbedder`).

    Pass an `EmbeddingDistillConfig` or its fields as keyword arguments.
    """
    config = dataclasses.replace(config or EmbeddingDistillConfig(), **kwargs).validate()
    teacher = _teacher(config)
    corpus = corpus_for(config)
    if not corpus.heldout:
        raise AlbertTfError("holdout=0 leaves no sentences to pick the best epoch by; "
                            "keep a share (the default is 0.02)")
    cache = open_cache(config.cache_dir or config.out.rstrip("/\\") + CACHE_SUFFIX, teacher)
    y_train = cache.vectors(corpus.texts, progress=config.verbose != 0)
    y_eval = cache.vectors(corpus.heldout, progress=False)
    run = Run.start(config, WORK_DIR_SUFFIX)
    with run.discarded_on_error():
        tokenizer = prepare_tokenizer(config, run.work_dir, corpus.texts)

        def pairwise_spearman(model):
            vectors = TrainedEmbedder(model, tokenizer, {"max_length": config.max_length}
                                      ).embed(corpus.heldout)
            scores = agreement(vectors, y_eval)
            return {name: scores[name] for name in (MONITOR, GRADED)}

        fitted = fit_classifier(
            run, tokenizer, None, Examples(corpus.texts), y_train, Examples(corpus.heldout),
            y_eval, loss=embedding_loss(config.loss),
            metrics=[keras.metrics.CosineSimilarity(name="cosine")],
            build=student_builder(teacher.dim), monitor=MONITOR,
            epoch_scores=pairwise_spearman, group_size=config.neighbour_group,
            train_groups=(neighbour_groups(y_train, config.neighbour_group, config.seed)
                          if config.neighbour_group else None))
    inference_model = encoder_with_dtype(fitted.model.get_config(), "float32")
    inference_model.set_weights(fitted.model.get_weights())
    training_config = {**config.settings(), "num_train_examples": len(corpus.texts),
                       "vocab_size_trained": tokenizer.vocab_size,
                       "fit_seconds": round(fitted.fit_seconds, 1),
                       "train_seconds": run.seconds()}
    embedder = TrainedEmbedder(inference_model, tokenizer, {"max_length": config.max_length})
    eval_metrics = {"heldout_agreement": agreement(embedder.embed(corpus.heldout), y_eval)}
    record = {"teacher": teacher.describe(), "loss": config.loss,
              "corpus": {"files": corpus.files, "counts": corpus.counts,
                         "texts_sha256": texts_digest(corpus.texts),
                         "heldout_sha256": texts_digest(corpus.heldout)},
              "cache": recorded_path(cache.directory), "teacher_calls": cache.teacher_calls,
              "vectors_from_files": cache.file_hits}
    written, manifest = save_embedder_dir(config.out, fitted.model, tokenizer, training_config,
                                          eval_metrics=eval_metrics, history=fitted.history,
                                          overwrite=True, heldout=corpus.heldout,
                                          extra_metadata={DISTILLATION: record})
    run.finish()
    return TrainedEmbedder(inference_model, tokenizer, written, manifest, config.out)
