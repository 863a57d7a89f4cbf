"""MLM + SOP pretraining: segments, masks, token-budget batches, the run itself."""

import json

import keras
import numpy as np
import pytest

from albert_tf.text.bucketing import plan_token_batches, rows_for_width
from albert_tf.errors import AlbertTfError
from albert_tf.artifacts.pretrained import load_pretrained
from albert_tf.training.pretraining.batches import PretrainingBatches
from albert_tf.text.sentences import split_sentences
from albert_tf.training.pretraining.instances import (build_segment_pairs, mask_ngrams, pack_pair,
                                             tokenize_documents, word_start_table)
from albert_tf.training.pretraining.trainer import pretrain
from albert_tf.text.tokenizer import AlbertTokenizer
from tests.helpers import MICRO_MODEL, ordered_documents, run_cli

FAST = dict(preset="tiny", model_overrides=MICRO_MODEL, vocab_size=60, max_length=32,
            token_budget=512, eval_every=50, learning_rate=1e-2, heldout_fraction=0.1,
            verbose=0)


@pytest.fixture(scope="module")
def documents_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "docs.txt"
    path.write_text("\n".join(ordered_documents(400)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus_tokenizer():
    return AlbertTokenizer.train(ordered_documents(200), vocab_size=60)


def test_split_sentences():
    text = 'I loved it. The cast was great!  Was it "good"? Yes. "Wow." Mr. smith left at 5 p.m. today.'
    assert split_sentences(text) == ["I loved it.", "The cast was great!", 'Was it "good"?',
                                     "Yes.", '"Wow."', "Mr. smith left at 5 p.m. today."]
    assert split_sentences("  ") == []
    assert split_sentences("no end mark") == ["no end mark"]


def test_segment_pairs_stay_inside_documents_and_fit():
    # Documents of disjoint id ranges: a pair mixing ranges crossed a boundary.
    docs = [[np.arange(10 * d + 5, 10 * d + 5 + n, dtype="int32") for n in (3, 4, 2, 5)]
            for d in range(40)]
    pairs = build_segment_pairs(docs, max_length=16, short_seq_prob=0.3, seed=1)
    for a, b in pairs:
        assert len(a) >= 1 and len(b) >= 1 and len(a) + len(b) <= 13
        assert len({int(t - 5) // 10 for t in np.concatenate([a, b])}) == 1
    again = build_segment_pairs(docs, max_length=16, short_seq_prob=0.3, seed=1)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
               for x, y in zip(pairs, again))
    # One-sentence documents are cut inside the sentence; one-token ones dropped.
    single = build_segment_pairs([[np.arange(5, 12, dtype="int32")], [np.array([7], "int32")]],
                                 max_length=32)
    assert len(single) == 1 and np.array_equal(np.concatenate(single[0]), np.arange(5, 12))


def test_ngram_masking_follows_albert(corpus_tokenizer):
    tok = corpus_tokenizer
    starts = word_start_table(tok)
    docs = tokenize_documents(tok, [split_sentences(d) for d in ordered_documents(300)], 64)
    pairs = build_segment_pairs(docs, 64)
    rng = np.random.default_rng(0)
    total = masked_total = 0
    kinds = {"mask": 0, "same": 0, "other": 0}
    for a, b in pairs:
        tokens, segments = pack_pair(a, b, False, tok.cls_id, tok.sep_id)
        masked, positions, original = mask_ngrams(tokens, starts, rng, tok.mask_id,
                                                  tok.vocab_size)
        assert np.array_equal(tokens[positions], original)
        assert (tokens[positions] >= 5).all(), "special tokens are never masked"
        unchanged = np.setdiff1d(np.arange(len(tokens)), positions)
        assert np.array_equal(masked[unchanged], tokens[unchanged])
        # Whole words: a chosen run starts at a word start and never ends mid-word.
        chosen = np.zeros(len(tokens) + 1, bool)
        chosen[positions] = True
        for p in positions:
            if not chosen[p - 1]:
                assert starts[tokens[p]] or tokens[p - 1] < 5
            if not chosen[p + 1] and p + 1 < len(tokens) and tokens[p + 1] >= 5:
                assert starts[tokens[p + 1]]
        total += int((tokens >= 5).sum())
        masked_total += len(positions)
        kinds["mask"] += int((masked[positions] == tok.mask_id).sum())
        kinds["same"] += int((masked[positions] == original).sum())
        kinds["other"] += int(((masked[positions] != original)
                               & (masked[positions] != tok.mask_id)).sum())
    assert 0.12 <= masked_total / total <= 0.16
    share = {k: v / masked_total for k, v in kinds.items()}
    assert 0.75 <= share["mask"] <= 0.85 and 0.07 <= share["same"] <= 0.15
    assert 0.05 <= share["other"] <= 0.13


def test_token_budget_batches_cover_everything_once():
    lengths = np.random.default_rng(0).integers(5, 128, 3000)
    batches = plan_token_batches(lengths, 4096, seed=3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(3000))
    for rows in batches:
        width = -(-lengths[rows].max() // 8) * 8
        assert len(rows) * width <= 4096
    assert [b.tolist() for b in plan_token_batches(lengths, 4096, seed=3)] == \
        [b.tolist() for b in batches]
    # One width per batch, so a batch pads only to the next multiple of 8
    # (and a width's last batch with empty rows): far less than padding to 128.
    widths = [int(-(-lengths[r].max() // 8) * 8) for r in batches]
    assert all((-(-lengths[r] // 8) * 8 == w).all() for r, w in zip(batches, widths))
    padded = sum(rows_for_width(4096, w) * w for w in widths)
    assert padded / lengths.sum() < 1.3


def test_pretraining_batches(corpus_tokenizer):
    tok = corpus_tokenizer
    docs = tokenize_documents(tok, [split_sentences(d) for d in ordered_documents(200)], 32)
    pairs = build_segment_pairs(docs, 32)
    batches = PretrainingBatches(pairs, tok, token_budget=256, seed=0)
    inputs, targets, weights = batches[0]
    assert set(inputs) == {"token_ids", "segment_ids", "padding_mask", "mask_positions"}
    rows, width = inputs["token_ids"].shape
    assert rows * width <= 256 and rows == rows_for_width(256, width)
    # Shapes depend on the width alone (one XLA compilation per width).
    shapes = {}
    for index in range(len(batches)):
        batch = batches[index]
        width = batch[0]["token_ids"].shape[1]
        shapes.setdefault(width, set()).add(
            tuple(v.shape for v in (*batch[0].values(), *batch[1].values(),
                                    *batch[2].values())))
    assert all(len(found) == 1 for found in shapes.values())
    assert 0 < batches.padding_ratio() < 0.5
    # The mean of the scaled MLM weights is 1 over the batch, 0 on empty slots.
    w = weights["mlm_logits"]
    assert np.isclose(w.mean(), 1.0) and (w[inputs["mask_positions"] == 0] == 0).all()
    # Swapped pairs: label 1, and segment A holds the second half of the pair.
    swapped = targets["sop_logits"]
    assert 0 < swapped.mean() < 1
    # Keras' TF adapter reads the first two batches' shapes: they must differ.
    assert batches[0][0]["token_ids"].shape[0] != batches[1][0]["token_ids"].shape[0]
    assert batches[0][0]["token_ids"].shape[1] != batches[1][0]["token_ids"].shape[1]
    # Deterministic per (seed, epoch, step); new masks every epoch.
    first = batches[3][0]["token_ids"]
    assert np.array_equal(first, PretrainingBatches(pairs, tok, 256, seed=0)[3][0]["token_ids"])
    batches.set_epoch(1)
    fixed = PretrainingBatches(pairs, tok, 256, seed=0, fixed=True)
    fixed_first = fixed[3][0]["token_ids"]
    fixed.set_epoch(5)
    assert np.array_equal(fixed[3][0]["token_ids"], fixed_first)


def test_pretraining_learns_and_writes_a_reproducible_directory(tmp_path, documents_file):
    pretrained = pretrain(corpus=[str(documents_file)], out=str(tmp_path / "p"), steps=200,
                          **FAST)
    heldout = pretrained.metadata["heldout"]
    history = json.loads((tmp_path / "p" / "history.json").read_text())
    print("held-out", heldout, "MLM per eval", history["val_mlm_logits_accuracy"])
    assert heldout["mlm_accuracy"] > 0.35 and heldout["sop_accuracy"] > 0.8
    assert history["val_mlm_logits_accuracy"][-1] > history["val_mlm_logits_accuracy"][0]
    assert history["step"] == [50, 100, 150, 200]
    metadata = pretrained.metadata
    from albert_tf.artifacts.manifest import recorded_path

    assert metadata["corpus"][recorded_path(documents_file)]["sha256"]
    assert metadata["pretraining"]["steps"] == 200 and metadata["run"]["steps"] == 200
    assert (tmp_path / "p" / "pretraining_curves.png").stat().st_size > 1000
    assert pretrained.heads == "trained"
    assert not (tmp_path / "p.pretraining").exists()
    reloaded = load_pretrained(tmp_path / "p")
    for a, b in zip(reloaded.pretrainer.get_weights(), pretrained.pretrainer.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Interrupt(keras.callbacks.Callback):
    """Crash inside the second evaluation period, after its fifth batch."""

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (1, 4):
            raise KeyboardInterrupt("simulated crash in evaluation period 2")


def test_resume_gives_the_uninterrupted_weights(tmp_path, documents_file, monkeypatch):
    # A backup after every batch: the resumed run starts at step 15 of 30.
    kwargs = dict(corpus=[str(documents_file)], out=str(tmp_path / "resumed"), steps=30,
                  backup_minutes=0, **{**FAST, "eval_every": 10})
    original_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, callbacks=(), **kw: original_fit(
        self, *a, callbacks=list(callbacks) + [_Interrupt()], **kw))
    with pytest.raises(KeyboardInterrupt):
        pretrain(**kwargs)
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    resumed = pretrain(**kwargs, resume=True)
    # The periods trained after the resume, labelled by their own steps.
    assert json.loads((tmp_path / "resumed" / "history.json").read_text())["step"] == [20, 30]
    assert resumed.metadata["run"]["steps"] == 30
    straight = pretrain(**{**kwargs, "out": str(tmp_path / "straight")})
    for a, b in zip(resumed.pretrainer.get_weights(), straight.pretrainer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_options_fail_before_work(tmp_path, documents_file):
    with pytest.raises(AlbertTfError, match="no such file"):
        pretrain(corpus=[str(tmp_path / "missing.txt")], out=str(tmp_path / "o"), **FAST)
    with pytest.raises(AlbertTfError, match="token_budget=16"):
        pretrain(corpus=[str(documents_file)], out=str(tmp_path / "o"),
                 **{**FAST, "token_budget": 16})
    empty = tmp_path / "one.txt"
    empty.write_text("Only one document here.\n")
    with pytest.raises(AlbertTfError, match="1 document"):
        pretrain(corpus=[str(empty)], out=str(tmp_path / "o"), **FAST)


def test_cli_pretrain_then_fine_tune_on_jax(tmp_path, documents_file, data_files):
    """The whole path on the JAX backend: pretrain, then `train --init`."""
    pytest.importorskip("jax")
    env = {"KERAS_BACKEND": "jax"}
    result = run_cli("pretrain", "--corpus", documents_file, "--out", tmp_path / "p",
                     "--preset", "tiny",
                     "--vocab-size", 60, "--max-length", 16, "--token-budget", 256,
                     "--steps", 20, "--eval-every", 10, "--learning-rate", "0.01",
                     "--heldout-fraction", "0.1", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["keras_backend"] == "jax" and summary["steps"] == 20
    metadata = json.loads((tmp_path / "p" / "metadata.json").read_text())
    assert metadata["command"].startswith("albert-tf pretrain --corpus")

    result = run_cli("train", "--train", data_files / "train.tsv", "--init", tmp_path / "p",
                     "--out", tmp_path / "c", "--epochs", 1, "--max-length", 16,
                     "--max-train-examples", 64, env=env)
    assert result.returncode == 0, result.stderr[-2000:]

    result = run_cli("pretrain", "--corpus", tmp_path / "nope.txt", "--out", tmp_path / "q")
    assert result.returncode == 1 and "no such file" in result.stderr


def test_time_limit_stops_early_and_still_writes_the_model(tmp_path, documents_file):
    pretrained = pretrain(corpus=[str(documents_file)], out=str(tmp_path / "t"), steps=200,
                          time_limit_minutes=1e-4, **FAST)
    run = pretrained.metadata["run"]
    assert run["stopped_by_time_limit"] and 1 <= run["steps"] < 50
    history = json.loads((tmp_path / "t" / "history.json").read_text())
    assert history["step"] == [run["steps"]]
