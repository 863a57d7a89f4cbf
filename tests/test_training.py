import json
import os

import keras
import numpy as np
import pytest

import albert_tf
from albert_tf.training.batching import ClassificationBatches
from albert_tf.text.bucketing import plan_batches, plan_group_batches
from albert_tf.errors import AlbertTfError
from albert_tf.training.schedule import WarmupLinearDecay
from tests.helpers import fast_train_kwargs, sentiment_rows, write_tsv


def test_trains_well_above_chance_and_writes_a_model_dir(trained_dir):
    model = albert_tf.load(trained_dir)
    metrics = model.metadata["eval_metrics"]
    assert metrics["accuracy"] >= 0.85, metrics
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert sum(map(sum, metrics["confusion_matrix"])) == 100
    history = json.loads((trained_dir / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert set(os.listdir(trained_dir)) >= {
        "config.json", "model.weights.h5", "labels.txt", "tokenizer", "metadata.json"}
    assert model.predict(["A superb and lovely film."])[0]["label"] == "pos"
    assert model.predict(["The plot was awful and boring."])[0]["label"] == "neg"


def test_same_seed_same_weights(tmp_path, data_files):
    kwargs = dict(epochs=1, max_train_examples=96)
    first = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "a", **kwargs))
    second = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "b", **kwargs))
    for w1, w2 in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_allclose(w1, w2, atol=1e-6)


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated crash after epoch 2")


def test_resume_continues_after_the_last_finished_epoch(tmp_path, data_files, monkeypatch):
    out = tmp_path / "resumed"
    kwargs = fast_train_kwargs(data_files, out, epochs=3, max_train_examples=96)
    original_fit = keras.Model.fit
    seen_epochs = []

    def crashing_fit(self, *args, callbacks=(), **kw):
        return original_fit(self, *args, callbacks=list(callbacks) + [_Interrupt()], **kw)

    monkeypatch.setattr(keras.Model, "fit", crashing_fit)
    with pytest.raises(KeyboardInterrupt):
        albert_tf.train(**kwargs)
    assert not out.exists() and (tmp_path / "resumed.training" / "backup").exists()

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen_epochs.append(epoch)

    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, callbacks=(), **kw: original_fit(
        self, *a, callbacks=list(callbacks) + [Record()], **kw))
    model = albert_tf.train(**kwargs, resume=True)
    assert seen_epochs == [2]  # epochs 0 and 1 were restored, not redone
    assert not (tmp_path / "resumed.training").exists()

    # Same weights as a run that was never interrupted: data order, optimizer
    # state and schedule all continue where they stopped.
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    straight = albert_tf.train(**{**kwargs, "out": str(tmp_path / "straight")})
    for resumed, uninterrupted in zip(model.model.get_weights(), straight.model.get_weights()):
        np.testing.assert_array_equal(resumed, uninterrupted)


class _InterruptInEpoch(keras.callbacks.Callback):
    """Crash after batch index `batch` of epoch `epoch` (after the backup saw it)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self._current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._current, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt(f"simulated crash in epoch {self.epoch + 1}")


def test_resume_inside_an_epoch_trains_only_the_batches_left(tmp_path, data_files,
                                                             monkeypatch, capsys):
    from albert_tf.training import progress

    out = tmp_path / "resumed"
    # 96 examples in batches of 16: 6 batches an epoch; a backup after every batch.
    kwargs = fast_train_kwargs(data_files, out, epochs=3, max_train_examples=96,
                               backup_minutes=0)
    original_fit = keras.Model.fit

    def fit_with(*extra):
        def fit(self, *args, callbacks=(), **kw):
            return original_fit(self, *args, callbacks=list(callbacks) + list(extra), **kw)
        return fit

    monkeypatch.setattr(keras.Model, "fit", fit_with(_InterruptInEpoch(1, 2)))
    with pytest.raises(KeyboardInterrupt):
        albert_tf.train(**kwargs)
    backup = tmp_path / "resumed.training" / "backup"
    state = json.loads((backup / "state.json").read_text())
    assert (state["epoch"], state["batch"]) == (1, 3)  # 3 batches of epoch 2 were done
    assert sorted(os.listdir(backup)) == sorted([state["weights"], "state.json"])

    # Other options give other batches: the saved position would mean nothing.
    with pytest.raises(AlbertTfError, match="after batch 3 of epoch 2, but an epoch now has 2"):
        albert_tf.train(**{**kwargs, "batch_size": 48}, resume=True)
    assert (backup / "state.json").exists()  # the backup is kept for the right options

    trained = []  # (epoch, batches) of each epoch the resumed run trains

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            trained.append([epoch, 0])

        def on_train_batch_end(self, batch, logs=None):
            trained[-1][1] += 1

    monkeypatch.setattr(keras.Model, "fit", fit_with(Record()))
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0)  # a progress line every batch
    capsys.readouterr()
    model = albert_tf.train(**{**kwargs, "verbose": 2}, resume=True)
    assert trained == [[1, 3], [2, 6]]  # the rest of epoch 2, then epoch 3
    # Its log counts the run's epochs and the epoch's batches, not those of each `fit`.
    steps = [line.split(" · ")[:2] for line in capsys.readouterr().out.splitlines()
             if line.startswith("epoch ")]
    assert steps[0] == ["epoch 2/3", "step 4/6 (66%)"] and steps[-1] == ["epoch 3/3",
                                                                         "step 6/6 (100%)"]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2

    monkeypatch.setattr(keras.Model, "fit", original_fit)
    straight = albert_tf.train(**{**kwargs, "out": str(tmp_path / "straight"),
                                  "backup_minutes": 10})
    for resumed, uninterrupted in zip(model.model.get_weights(), straight.model.get_weights()):
        np.testing.assert_array_equal(resumed, uninterrupted)


def test_a_backup_restores_dropouts_random_state(tmp_path):
    """`save_weights` leaves out the dropout seed generators: without them a resumed
    run drew other masks and ended up to 0.09 away from an uninterrupted one."""
    from albert_tf.training.resume import TrainingBackup, rng_variables
    from tests.resume_worker import dropout_data, dropout_model as model

    x, y = dropout_data()

    original = model()
    original.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                 callbacks=[TrainingBackup(str(tmp_path / "backup"), every_seconds=0)])
    resumed = model()
    untouched = [keras.ops.convert_to_numpy(v.value) for v in rng_variables(resumed)]
    TrainingBackup(str(tmp_path / "backup")).restore(resumed)
    state = [keras.ops.convert_to_numpy(v.value) for v in rng_variables(resumed)]
    assert len(state) == 1 and not np.array_equal(state[0], untouched[0])
    np.testing.assert_array_equal(state[0], keras.ops.convert_to_numpy(
        rng_variables(original)[0].value))
    # One more epoch from each: the same masks, the same weights.
    for m in (original, resumed):
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(original.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_backup_is_due_by_the_clock_and_a_failed_save_keeps_the_last(tmp_path,
                                                                      monkeypatch):
    from albert_tf.training.resume import Position, TrainingBackup

    def tiny_model(seed):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
        return model

    now = [0.0]
    model = tiny_model(0)
    backup = TrainingBackup(str(tmp_path / "backup"), every_seconds=60, clock=lambda: now[0])
    backup.set_model(model)
    backup.set_params({"epochs": 1, "steps": 7})
    backup.on_train_begin()
    backup.on_epoch_begin(0)
    now[0] = 59
    backup.on_train_batch_end(4)
    assert not (tmp_path / "backup").exists()  # not due yet
    now[0] = 61
    backup.on_train_batch_end(5)  # due: 6 batches done
    now[0] = 200
    # Not after the epoch's last batch: the epoch's end (and its save) comes next.
    backup.on_train_batch_end(6)
    saved = [w.copy() for w in model.get_weights()]

    # A kill between the weights file and the state file: the last backup stays whole.
    model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    def fail(*args):
        raise OSError("simulated kill")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        backup.on_epoch_end(0)
    monkeypatch.undo()

    fresh = tiny_model(1)
    assert TrainingBackup(str(tmp_path / "backup")).restore(fresh) == Position(0, 6)
    for restored, expected in zip(fresh.get_weights(), saved):
        np.testing.assert_array_equal(restored, expected)
    assert fresh.optimizer.iterations.numpy() == 1  # the optimizer came back too
    assert TrainingBackup(str(tmp_path / "none")).restore(fresh) == Position()

    # A run backed up by Keras' BackupAndRestore (before this kit's backups) resumes
    # after its last finished epoch.
    legacy = tiny_model(2)
    legacy.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=2, verbose=0,
               callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "keras"),
                                                           delete_checkpoint=False)])
    assert TrainingBackup(str(tmp_path / "keras")).restore(fresh) == Position(2, 0)
    for restored, expected in zip(fresh.get_weights(), legacy.get_weights()):
        np.testing.assert_array_equal(restored, expected)
    with pytest.raises(ValueError, match="-1"):
        TrainingBackup(str(tmp_path / "x"), every_seconds=-1)


def test_early_stopping_and_best_checkpoint(tmp_path, data_files):
    model = albert_tf.train(**fast_train_kwargs(
        data_files, tmp_path / "m", epochs=30, patience=1, learning_rate=1e-2))
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert len(history["loss"]) < 30
    best = max(history["val_accuracy"])
    assert model.metadata["eval_metrics"]["accuracy"] == pytest.approx(best, abs=1e-6)


def test_sentence_pairs_multi_label_and_class_weights(tmp_path):
    rows = sentiment_rows(160, seed=5)
    pairs = write_tsv(tmp_path / "pairs.tsv", [(t, "the end", l) for t, l in rows],
                      ("first", "second", "label"))
    model = albert_tf.train(**fast_train_kwargs(
        tmp_path, tmp_path / "pairs", train=str(pairs), eval=None, epochs=1,
        text_column="first", text_pair_column="second", class_weight="balanced"))
    assert model.config["training"]["text_pair_column"] == "second"

    multi = write_tsv(tmp_path / "multi.tsv",
                      [(t, l if i % 3 else f"{l}|long") for i, (t, l) in enumerate(rows)])
    model = albert_tf.train(**fast_train_kwargs(
        tmp_path, tmp_path / "multi", train=str(multi), eval=str(multi), epochs=2,
        multi_label=True))
    assert model.labels.names == ["long", "neg", "pos"] and model.labels.multi_label
    result = model.predict(["a superb film"])[0]
    assert set(result) == {"labels", "scores", "truncated", "num_tokens", "unknown_share",
                           "abstained"}
    assert "micro_f1" in model.metadata["eval_metrics"]


def test_label_names_rename_the_files_values_in_class_order(tmp_path, data_files):
    from albert_tf.text.data import parse_label_names

    assert parse_label_names("neg=negative, pos=positive") == {"neg": "negative",
                                                              "pos": "positive"}
    assert parse_label_names('{"0": "no"}') == {"0": "no"}
    for bad in ("negative", "a=x,b=x", "=x"):
        with pytest.raises(albert_tf.AlbertTfError, match="label names"):
            parse_label_names(bad)
    model = albert_tf.train(**fast_train_kwargs(
        data_files, tmp_path / "named", label_names="neg=negative,pos=positive"))
    assert model.labels.names == ["negative", "positive"]  # the file's order: neg, pos
    assert model.predict(["A superb and lovely film."])[0]["label"] == "positive"
    assert model.metadata["eval_metrics"]["accuracy"] > 0.8  # the eval file was renamed too
    assert albert_tf.load(str(tmp_path / "named")).config["training"]["label_names"] == \
        "neg=negative,pos=positive"
    with pytest.raises(albert_tf.AlbertTfError, match=r"names \['good'\], which .* does not"):
        albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "bad", epochs=1,
                                            label_names="good=positive"))
    assert not (tmp_path / "bad").exists()


def test_a_model_no_better_than_the_majority_class_is_said_to_be(tmp_path, data_files):
    # A learning rate too small to move anything: the model stays at chance.
    with pytest.warns(UserWarning, match="no better than always answering the most common"):
        model = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "m", epochs=1,
                                                    learning_rate=1e-9))
    metrics = model.metadata["eval_metrics"]
    assert metrics["accuracy"] <= metrics["majority_class_accuracy"]
    assert 0.5 <= metrics["majority_class_accuracy"] < 1


def test_class_weights_become_sample_weights(tmp_path):
    rows = [("great", "pos")] * 30 + [("awful", "neg")] * 10
    path = write_tsv(tmp_path / "skewed.tsv", rows)
    from albert_tf.training.config import TrainConfig
    from albert_tf.training.finetune import class_sample_weights, read_split

    config = TrainConfig(train=str(path), out=str(tmp_path / "o"), class_weight="balanced")
    _, labels, y = read_split(config, str(path))
    weights = class_sample_weights(config, labels, y)
    assert weights[np.array(y) == labels.names.index("neg")][0] == pytest.approx(2.0)
    assert weights[np.array(y) == labels.names.index("pos")][0] == pytest.approx(40 / 60)
    config.class_weight = '{"nope": 2}'
    with pytest.raises(AlbertTfError, match="unknown labels"):
        class_sample_weights(config, labels, y)


@pytest.mark.parametrize("overrides, message", [
    (dict(preset="huge"), "unknown preset 'huge'"),
    (dict(precision="float8"), "unknown precision 'float8'"),
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(learning_rate=5.0), "learning_rate must be in"),
    (dict(train="missing.tsv"), "missing.tsv: no such file"),
    (dict(class_weight="balanced", multi_label=True), "class weights are for single-label"),
    (dict(num_groups=3), "num_groups must divide the model's 2 layers, got 3"),
])
def test_bad_options_fail_before_any_work(tmp_path, data_files, overrides, message):
    with pytest.raises(AlbertTfError, match=message):
        albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "x", **overrides))
    assert not (tmp_path / "x.training").exists()


def test_refuses_to_overwrite_without_permission(tmp_path, data_files):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(AlbertTfError, match="exists and is not empty"):
        albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "taken"))
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_unknown_eval_label_is_reported_with_its_line(tmp_path, data_files):
    dev = write_tsv(tmp_path / "dev.tsv", [("great film", "pos"), ("meh", "neutral")])
    with pytest.raises(AlbertTfError, match=r"dev.tsv:3: unknown label 'neutral'"):
        albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "m", eval=str(dev)))


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1e-3, warmup_steps=10, total_steps=110)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    assert values == pytest.approx([0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0])


def test_bucketing_reduces_padding_and_keeps_every_example():
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 120, 2000)
    sequences = [([2] * n, [0] * n) for n in lengths]
    bucketed = ClassificationBatches(sequences, np.zeros(2000), 32, 128, shuffle=True)
    unbucketed_padding = 1 - lengths.sum() / (128 * len(lengths))
    assert bucketed.padding_ratio() < 0.1 < unbucketed_padding
    seen = np.sort(np.concatenate(bucketed.batches))
    assert np.array_equal(seen, np.arange(2000))
    first = [b.tolist() for b in bucketed.batches]
    bucketed.on_epoch_end()
    assert [b.tolist() for b in bucketed.batches] != first  # reshuffled each epoch
    # Batch 0 is the widest and batch 1 the narrowest (see _plan).
    widths = [lengths[b].max() for b in bucketed.batches]
    assert widths[0] == max(widths) and widths[1] == min(widths)
    inputs, labels = bucketed[1]
    assert inputs["token_ids"].shape[1] % 8 == 0 and len(labels) == 32
    assert len(plan_batches(lengths, 32)) == 63


def padding_of(batches, lengths, max_length, multiple=8):
    width = lambda rows: min(max_length, -(-lengths[rows].max() // multiple) * multiple)  # noqa: E731
    return 1 - lengths.sum() / sum(width(rows) * len(rows) for rows in batches)


def test_grouped_batches_are_runs_of_one_group_and_keep_every_example():
    """With `groups`, each shuffled batch is made of runs of `group_size`
    examples of one group: every example once, a new plan each epoch, the same
    plan for the same seed; evaluation batches ignore the groups."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 37, 1000)
    sequences = [([2] * n, [0] * n) for n in rng.integers(4, 60, 1000)]
    grouped = ClassificationBatches(sequences, np.zeros(1000), 32, 64, shuffle=True,
                                    groups=groups, group_size=4)
    order = np.concatenate(grouped.batches)
    assert np.array_equal(np.sort(order), np.arange(1000))
    # Nearly every example shares its batch with group_size - 1 of its group (the
    # rest: a group's last short run, or a run cut by a batch's end).
    partners = np.concatenate([(groups[b][:, None] == groups[b][None, :]).sum(axis=1) - 1
                               for b in grouped.batches])
    assert np.mean(partners >= 3) > 0.8, np.mean(partners >= 3)  # random batches: ~5%
    # Bucketed as well: far less padding than runs laid out in random order.
    lengths = np.array([len(t) for t, _ in sequences])
    unbucketed = plan_group_batches(groups, 32, 4, seed=0)
    assert grouped.padding_ratio() < 0.7 * padding_of(unbucketed, lengths, 64)
    first = [b.tolist() for b in grouped.batches]
    again = ClassificationBatches(sequences, np.zeros(1000), 32, 64, shuffle=True,
                                  groups=groups, group_size=4)
    assert [b.tolist() for b in again.batches] == first
    grouped.on_epoch_end()
    assert [b.tolist() for b in grouped.batches] != first
    evaluation = ClassificationBatches(sequences, np.zeros(1000), 32, 64, groups=groups)
    assert (sorted(map(tuple, evaluation.batches))
            == sorted(map(tuple, plan_batches(lengths, 32))))  # length-sorted, as ever
    with pytest.raises(ValueError, match="group ids"):
        ClassificationBatches(sequences, None, 32, 64, groups=groups[:10])


def test_fixed_length_padding_for_comparison_with_bucketing(tmp_path, data_files):
    kwargs = dict(epochs=1, max_train_examples=64)
    fixed = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "fixed",
                                                pad_to_max_length=True, **kwargs))
    bucketed = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "bucketed", **kwargs))
    fixed_ratio = fixed.config["training"]["train_padding_ratio"]
    bucketed_ratio = bucketed.config["training"]["train_padding_ratio"]
    assert fixed_ratio > 0.5 > bucketed_ratio
    assert fixed.config["training"]["train_examples_per_second"] > 0


def test_a_failed_run_leaves_no_work_directory(tmp_path, data_files):
    bad = write_tsv(tmp_path / "bad.tsv", [("fine", "pos"), ("", "neg")])
    out = tmp_path / "x"
    with pytest.raises(AlbertTfError, match="bad.tsv"):
        albert_tf.train(**fast_train_kwargs(data_files, out, train=str(bad)))
    with pytest.raises(AlbertTfError, match="no label column 'nope'"):
        albert_tf.train(**fast_train_kwargs(data_files, out, label_column="nope"))
    # An unreadable tokenizer fails after the work directory exists.
    with pytest.raises(AlbertTfError, match="bad.tsv"):
        albert_tf.train(**fast_train_kwargs(data_files, out, tokenizer=str(bad)))
    assert sorted(os.listdir(tmp_path)) == ["bad.tsv"]



def test_a_diverging_run_stops_at_once_with_one_line(tmp_path, data_files, monkeypatch):
    from albert_tf.training import finetune
    from albert_tf.training.divergence import StopOnDivergence

    # The callback on its own: the running-mean loss is checked every `every` batches.
    stop = StopOnDivergence("lower it", every=3)
    stop.on_epoch_begin(1)
    stop.on_train_batch_end(1, {"loss": float("nan")})  # not a checking batch
    with pytest.raises(AlbertTfError, match=r"diverged: the loss is nan at batch 3 of epoch 2; "
                                            r"lower it"):
        stop.on_train_batch_end(2, {"loss": float("nan")})
    stop.on_train_batch_end(2, {"loss": 0.7})
    with pytest.raises(AlbertTfError, match="loss is inf at the end of epoch 1"):
        stop.on_epoch_end(0, {"loss": float("inf")})

    # In a real run: a loss that turns to NaN (as a too-high learning rate makes it)
    # stops training in its first epoch, names the options to change, leaves nothing.
    real = finetune.task_loss_and_metrics

    def nan_loss(multi_label):
        loss, metrics = real(multi_label)
        return (lambda y, p: loss(y, p) * float("nan")), metrics

    monkeypatch.setattr(finetune, "task_loss_and_metrics", nan_loss)
    epochs_run = []
    monkeypatch.setattr(finetune.EpochSync, "on_epoch_begin",
                        lambda self, epoch, logs=None: epochs_run.append(epoch))
    with pytest.raises(AlbertTfError, match=r"diverged: the loss is nan at .* epoch 1; restart "
                                            r"with a lower --learning-rate \(was 0.003\)"):
        albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "nan"))
    assert epochs_run == [0]
    assert os.listdir(tmp_path) == []


def test_a_log_file_run_prints_progress_between_epochs(tmp_path, data_files, monkeypatch,
                                                       capsys):
    """verbose=2 (what the CLI picks when writing to a file) gets a progress line
    every LOG_EVERY_SECONDS, besides Keras' one line per epoch."""
    from albert_tf.training import progress
    from albert_tf.training.progress import ProgressLog

    # The callback on a fake clock: nothing before the interval, then one line with the
    # step, the share done, the time spent and left, and the logged figures.
    now = [0.0]
    lines = []
    log = ProgressLog(every_seconds=60, clock=lambda: now[0], write=lines.append)
    log.set_params({"epochs": 3, "steps": 400})
    log.on_epoch_begin(1)
    now[0] = 59
    log.on_train_batch_end(99, {"loss": 0.5})
    assert lines == []
    now[0] = 600
    log.on_train_batch_end(99, {"loss": 0.8123456, "accuracy": 0.75})
    assert lines == ["epoch 2/3 · step 100/400 (25%) · 10 min, about 30 min left · "
                     "accuracy 0.7500 · loss 0.8123"]
    now[0] = 630
    log.on_train_batch_end(119, {"loss": 0.8})
    assert len(lines) == 1  # 30 s since the last line
    now[0] = 4200
    log.on_train_batch_end(199, {})
    assert lines[-1] == "epoch 2/3 · step 200/400 (50%) · 1 h 10 min, about 1 h 10 min left"
    with pytest.raises(ValueError, match="every_seconds must be a number >= 0, got -1"):
        ProgressLog(every_seconds=-1)

    # In a real run: a line per batch at interval 0; none with a terminal's verbosity.
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0)
    albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "logged", epochs=1,
                                        max_train_examples=32, verbose=2))
    printed = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith("epoch 1/1 · step ")]
    assert printed and "loss " in printed[0]
    assert progress.progress_callbacks(1) == [] and progress.progress_callbacks(0) == []


def test_num_groups_unshares_layers_at_the_same_shape(tmp_path, data_files, trained_dir):
    """num_groups = num_layers: one set of weights per layer call, so twice the
    encoder parameters of the shared model, with the same layer shapes."""
    unshared = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "u", num_groups=2,
                                                   epochs=1, max_train_examples=32))
    backbone = unshared.model.backbone
    assert backbone.get_config()["num_groups"] == 2
    shared = albert_tf.load(str(trained_dir)).model.backbone
    shapes = [[tuple(w.shape) for w in group[0].weights] for group in backbone.transformer_groups]
    assert len(shapes) == 2 and len(shared.transformer_groups) == 1
    assert shapes[0] == shapes[1] == [tuple(w.shape) for w in
                                      shared.transformer_groups[0][0].weights]


def test_init_model_untied_into_groups(tmp_path, data_files, trained_dir):
    """num_groups with init= a shared-layer model directory unties its layer: each
    group starts as the shared layer, so the model answers as before (a tiny
    learning rate keeps it there) with twice the encoder weights."""
    start = albert_tf.load(trained_dir)
    kwargs = fast_train_kwargs(data_files, tmp_path / "untied", epochs=1, max_train_examples=32,
                               learning_rate=1e-9, init=str(trained_dir), num_groups=2)
    kwargs.pop("preset"), kwargs.pop("vocab_size", None)
    untied = albert_tf.train(**kwargs)
    reloaded = albert_tf.load(tmp_path / "untied").backbone
    assert reloaded.num_groups == 2 and start.backbone.num_groups == 1
    first, second = (group[0].get_weights() for group in reloaded.transformer_groups)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, atol=1e-6)
    texts = ["a fine film", "dull and long"]
    np.testing.assert_allclose(untied.predict_proba(texts), start.predict_proba(texts), atol=1e-5)
    with pytest.raises(AlbertTfError, match=r"must be a multiple .* num_groups=3"):
        albert_tf.train(**{**kwargs, "out": str(tmp_path / "odd"), "num_groups": 3})
    assert sorted(os.listdir(tmp_path)) == ["untied"]


def test_a_shared_layer_model_continues_at_another_depth(tmp_path, data_files, trained_dir):
    """num_layers with init= a model directory calls the same (shared) weights a
    different number of times: the depth changes, the weights do not."""
    start = albert_tf.load(trained_dir)
    assert start.backbone.num_layers == 2
    kwargs = fast_train_kwargs(data_files, tmp_path / "shallow", epochs=1, max_train_examples=32,
                               learning_rate=1e-9, init=str(trained_dir), num_layers=1)
    kwargs.pop("preset"), kwargs.pop("vocab_size", None)
    shallow = albert_tf.train(**kwargs)
    assert shallow.backbone.num_layers == 1
    assert albert_tf.load(tmp_path / "shallow").backbone.num_layers == 1
    for before, after in zip(start.model.get_weights(), shallow.model.get_weights()):
        np.testing.assert_allclose(before, after, atol=1e-6)
    texts = ["a fine film", "dull and long"]
    assert not np.allclose(start.predict_proba(texts), shallow.predict_proba(texts), atol=1e-4)

    with pytest.raises(AlbertTfError, match="num_layers must be a positive integer, got 0"):
        albert_tf.train(**{**kwargs, "out": str(tmp_path / "zero"), "num_layers": 0})
    unshared = albert_tf.train(**fast_train_kwargs(data_files, tmp_path / "g2", num_groups=2,
                                                   epochs=1, max_train_examples=32))
    with pytest.raises(AlbertTfError, match=r"g2: .*num_layers=3, num_groups=2"):
        albert_tf.train(**{**kwargs, "out": str(tmp_path / "odd"), "num_layers": 3,
                           "init": unshared.path})
    assert sorted(os.listdir(tmp_path)) == ["g2", "shallow"]


def test_warm_start_from_a_model_directory(tmp_path, data_files, trained_dir):
    """`init=` a trained model directory continues it: same tokenizer, its
    weights (head included) as the starting point, labels checked by name."""
    start = albert_tf.load(trained_dir)
    kwargs = fast_train_kwargs(data_files, tmp_path / "more", epochs=1, max_train_examples=32,
                               learning_rate=1e-9, init=str(trained_dir))
    kwargs.pop("preset"), kwargs.pop("vocab_size", None)
    continued = albert_tf.train(**kwargs)
    assert continued.tokenizer.model_proto == start.tokenizer.model_proto
    for before, after in zip(start.model.get_weights(), continued.model.get_weights()):
        np.testing.assert_allclose(before, after, atol=1e-6)
    other = write_tsv(tmp_path / "other.tsv", [("fine", "good"), ("bad", "poor")] * 8)
    with pytest.raises(AlbertTfError, match=r"labels \['neg', 'pos'\] do not match this "
                                            r"run's \['good', 'poor'\]"):
        albert_tf.train(**{**kwargs, "train": str(other), "eval": None,
                           "out": str(tmp_path / "y")})
    assert not (tmp_path / "y.training").exists()
    # A new task from the fine-tuned model: its encoder and tokenizer, a new head.
    retasked = albert_tf.train(**{**kwargs, "train": str(other), "eval": None,
                                  "out": str(tmp_path / "z"), "new_head": True})
    assert retasked.labels.names == ["good", "poor"]
    assert retasked.tokenizer.model_proto == start.tokenizer.model_proto
    for before, after in zip(start.backbone.get_weights(), retasked.backbone.get_weights()):
        np.testing.assert_allclose(before, after, atol=1e-6)
    with pytest.raises(AlbertTfError, match="new_head takes init= a model directory"):
        albert_tf.train(**{**kwargs, "init": None, "new_head": True, "out": str(tmp_path / "w")})
