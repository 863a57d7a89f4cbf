"""Checkpoint import/export: parity with transformers, keras-hub and Google TF1 names.

Every reference is a random-weight model built here, offline. Parity means
sequence, pooled, MLM and SOP outputs within 1e-4 (float32) on single and
pair inputs with padding, and identical token ids.
"""

import json
import os
import shutil

import numpy as np
import pytest

from albert_tf.checkpoints import export_checkpoint, import_checkpoint
from albert_tf.errors import CheckpointError
from albert_tf.artifacts.pretrained import load_pretrained
from tests.helpers import (VARIED, fast_train_kwargs, hf_outputs, hf_reference, max_differences,
                           random_inputs, run_cli, write_google_checkpoint)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
keras_hub = pytest.importorskip("keras_hub")

TOLERANCE = 1e-4
TEXTS = VARIED + ["``Quoted'' text", "Ünïcödé naïve résumé façade", "Tokyo 東京 😀 42,000"]


def _inputs(vocabulary_size, pairs):
    inputs = random_inputs(batch=3, length=16, vocabulary_size=vocabulary_size, pairs=pairs)
    positions = np.array([[1, 4, 7], [2, 3, 9], [1, 5, 6]], "int32")
    return inputs, positions


def _ours(pretrained, inputs, positions):
    outputs = pretrained.pretrainer({**inputs, "mask_positions": positions})
    return {**pretrained.backbone(inputs), **outputs}


def _assert_parity(pretrained, reference, pairs=(False, True)):
    vocabulary_size = pretrained.backbone.vocabulary_size
    worst = {}
    for pair in pairs:
        inputs, positions = _inputs(vocabulary_size, pair)
        expected = hf_outputs(reference, inputs, positions)
        found = max_differences(_ours(pretrained, inputs, positions), expected,
                                inputs["padding_mask"])
        for name, value in found.items():
            worst[name] = max(worst.get(name, 0.0), value)
    assert max(worst.values()) <= TOLERANCE, worst
    return worst


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf-reference")
    return directory, hf_reference(str(directory))


@pytest.fixture(scope="module")
def hf_imported(hf_dir, tmp_path_factory):
    directory, _ = hf_dir
    return import_checkpoint("hf", str(directory), str(tmp_path_factory.mktemp("imp") / "m"))


def test_hf_import_matches_transformers(hf_dir, hf_imported):
    _, reference = hf_dir
    worst = _assert_parity(hf_imported, reference)
    assert set(worst) == {"sequence_output", "pooled_output", "mlm_logits", "sop_logits"}
    assert hf_imported.heads == "imported"
    metadata = hf_imported.metadata
    assert metadata["source"]["format"] == "hf"
    assert set(metadata["source"]["files"]) >= {"config.json", "model.safetensors",
                                                "spiece.model"}


def test_hf_tokenizer_ids_match_transformers(hf_dir, hf_imported):
    directory, _ = hf_dir
    reference = transformers.AlbertTokenizer.from_pretrained(str(directory))
    ours = hf_imported.tokenizer
    assert (ours.lowercase, ours.strip_accents, ours.replace_quotes) == (True, True, True)
    for text in TEXTS:
        expected = reference(text)["input_ids"]
        batch = ours.encode([text], max_length=4096)
        assert batch["token_ids"][0][batch["padding_mask"][0] == 1].tolist() == expected, text
    pair = reference("A superb film.", "Café crème", return_token_type_ids=True)
    batch = ours.encode(["A superb film."], ["Café crème"], max_length=64)
    real = batch["padding_mask"][0] == 1
    assert batch["token_ids"][0][real].tolist() == pair["input_ids"]
    assert batch["segment_ids"][0][real].tolist() == pair["token_type_ids"]


@pytest.mark.parametrize("variant", ["pytorch_model.bin", "exact_gelu", "groups"])
def test_hf_variants(tmp_path, variant):
    config = {"exact_gelu": dict(hidden_act="gelu"),
              "groups": dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1),
              }.get(variant, {})
    reference = hf_reference(str(tmp_path / "ref"), seed=1, **config)
    if variant == "pytorch_model.bin":
        state = reference.state_dict()
        torch.save(state, tmp_path / "ref" / "pytorch_model.bin")
        os.remove(tmp_path / "ref" / "model.safetensors")
    pretrained = import_checkpoint("hf", str(tmp_path / "ref"), str(tmp_path / "out"))
    _assert_parity(pretrained, reference, pairs=(True,))
    assert pretrained.backbone.gelu_approximate == (variant != "exact_gelu")


def test_tf1_import_matches_reference(tmp_path, hf_dir):
    directory, reference = hf_dir
    google = write_google_checkpoint(reference, str(directory / "spiece.model"),
                                     str(tmp_path / "google"))
    # Two checkpoints: the newest step is the one imported.
    write_google_checkpoint(reference, str(directory / "spiece.model"), google, step=10)
    pretrained = import_checkpoint("tf1", google, str(tmp_path / "out"))
    _assert_parity(pretrained, reference)
    assert pretrained.metadata["source"]["checkpoint"] == "model.ckpt-1000"
    reference_tokenizer = transformers.AlbertTokenizer.from_pretrained(str(directory))
    for text in TEXTS:
        batch = pretrained.tokenizer.encode([text], max_length=4096)
        ids = batch["token_ids"][0][batch["padding_mask"][0] == 1].tolist()
        assert ids == reference_tokenizer(text)["input_ids"], text


def test_tf1_missing_tensor_is_named(tmp_path, hf_dir):
    directory, reference = hf_dir
    name = "bert/encoder/transformer/group_0/inner_group_1/ffn_1/intermediate/dense/kernel"
    google = write_google_checkpoint(reference, str(directory / "spiece.model"),
                                     str(tmp_path / "google"), skip=(name,))
    with pytest.raises(CheckpointError, match=name):
        import_checkpoint("tf1", google, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def _vocabulary_size(hf_dir):
    import sentencepiece as spm

    directory, _ = hf_dir
    return spm.SentencePieceProcessor(model_file=str(directory / "spiece.model")).vocab_size()


def _keras_hub_backbone(vocabulary_size, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=vocabulary_size, num_layers=3, num_heads=4, embedding_dim=16, hidden_dim=32,
        intermediate_dim=64, num_groups=1, num_inner_repetitions=2, max_sequence_length=64)
    for variable in backbone.weights:  # non-trivial LayerNorm gains and biases
        noise = np.random.default_rng(seed).normal(0, 0.05, variable.shape)
        variable.assign(variable.numpy() + noise.astype("float32"))
    return backbone


def _keras_hub_parity(pretrained, backbone):
    worst = 0.0
    for pairs in (False, True):
        inputs = random_inputs(batch=3, length=16, pairs=pairs,
                               vocabulary_size=pretrained.backbone.vocabulary_size)
        expected, found = backbone(inputs), pretrained.backbone(inputs)
        real = inputs["padding_mask"][..., None].astype(bool)
        worst = max(worst, float((np.abs(np.asarray(found["sequence_output"])
                                         - np.asarray(expected["sequence_output"])) * real).max()),
                    float(np.abs(np.asarray(found["pooled_output"])
                                 - np.asarray(expected["pooled_output"])).max()))
    assert worst <= TOLERANCE
    return worst


def test_keras_hub_preset_round_trip(tmp_path, hf_dir):
    """Import a saved preset (parity), then export ours back and load it in keras-hub."""
    directory, _ = hf_dir
    backbone = _keras_hub_backbone(_vocabulary_size(hf_dir))
    backbone.save_to_preset(str(tmp_path / "preset"))
    with open(directory / "spiece.model", "rb") as f:
        keras_hub.models.AlbertTokenizer(proto=f.read()).save_to_preset(str(tmp_path / "preset"))

    pretrained = import_checkpoint("keras-hub", str(tmp_path / "preset"), str(tmp_path / "ours"))
    _keras_hub_parity(pretrained, backbone)
    assert pretrained.heads == "random"
    # keras-hub feeds raw text to SentencePiece: the same ids, case and all.
    reference_tokenizer = keras_hub.models.AlbertTokenizer.from_preset(str(tmp_path / "preset"))
    for text in TEXTS:
        ids = pretrained.tokenizer.encode_ids([text])[0][0]
        assert ids == np.asarray(reference_tokenizer(text)).tolist(), text

    export_checkpoint(str(tmp_path / "ours"), "keras-hub", str(tmp_path / "back"))
    reloaded = keras_hub.models.AlbertBackbone.from_preset(str(tmp_path / "back"))
    _keras_hub_parity(pretrained, reloaded)


def test_keras_hub_in_memory_backbone(tmp_path, hf_dir):
    directory, _ = hf_dir
    backbone = _keras_hub_backbone(_vocabulary_size(hf_dir), seed=3)
    with open(directory / "spiece.model", "rb") as f:
        tokenizer = keras_hub.models.AlbertTokenizer(proto=f.read())
    from albert_tf.checkpoints import read_checkpoint

    with pytest.raises(CheckpointError, match="tokenizer"):
        read_checkpoint("keras-hub", backbone)
    pretrained = import_checkpoint("keras-hub", backbone, str(tmp_path / "out"),
                                   tokenizer=tokenizer)
    _keras_hub_parity(pretrained, backbone)


def test_export_to_hugging_face_loads_in_transformers(tmp_path, hf_imported):
    out = export_checkpoint(hf_imported.path, "hf", str(tmp_path / "hf"))
    reloaded = transformers.AlbertForPreTraining.from_pretrained(out).eval()
    _assert_parity(hf_imported, reloaded, pairs=(True,))
    with pytest.raises(CheckpointError, match="not empty"):
        export_checkpoint(hf_imported.path, "hf", out)


def _copy_reference(hf_dir, tmp_path):
    import shutil

    directory, _ = hf_dir
    target = tmp_path / "broken"
    shutil.copytree(directory, target)
    return target


def test_wrong_shape_and_missing_tensor_are_named(tmp_path, hf_dir):
    from safetensors.numpy import load_file, save_file

    target = _copy_reference(hf_dir, tmp_path)
    state = load_file(target / "model.safetensors")
    name = "albert.encoder.albert_layer_groups.0.albert_layers.1.ffn.weight"
    state[name] = state[name][:, :-1]
    save_file(state, target / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"albert_layers\.1\.ffn\.weight.*shape"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))

    del state[name]
    save_file(state, target / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing tensor .*albert_layers\.1\.ffn\.weight"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_vocabulary_mismatch_and_bad_config(tmp_path, hf_dir):
    target = _copy_reference(hf_dir, tmp_path)
    from tests.helpers import google_style_spiece

    google_style_spiece(str(target / "spiece.model"), vocab_size=100)
    with pytest.raises(CheckpointError, match="word_embeddings.*rows but the tokenizer has"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))

    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(CheckpointError, match="model_type='bert'"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))
    (target / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))
    os.remove(target / "config.json")
    with pytest.raises(CheckpointError, match="no config.json"):
        import_checkpoint("hf", str(target), str(tmp_path / "out"))
    with pytest.raises(CheckpointError, match="unknown checkpoint format 'onnx'"):
        import_checkpoint("onnx", str(target), str(tmp_path / "out"))


def test_fine_tuning_starts_from_the_imported_weights(tmp_path, hf_imported, data_files):
    """`train --init`: the classifier's encoder is the imported one (a tiny
    learning rate leaves it where it started)."""
    import albert_tf

    kwargs = fast_train_kwargs(data_files, tmp_path / "tuned", init=hf_imported.path,
                               epochs=1, learning_rate=1e-9, max_train_examples=32,
                               model_overrides={})
    kwargs.pop("vocab_size")
    kwargs.pop("preset")
    trained = albert_tf.train(**kwargs)
    imported = hf_imported.backbone.get_weights()
    tuned = trained.backbone.get_weights()
    assert len(imported) == len(tuned)
    for a, b in zip(imported, tuned):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert trained.tokenizer.model_proto == hf_imported.tokenizer.model_proto
    assert trained.config["training"]["init"] == hf_imported.path

    with pytest.raises(albert_tf.AlbertTfError, match="not a pretrained or model directory"):
        albert_tf.train(**{**kwargs, "init": str(data_files), "out": str(tmp_path / "x")})
    with pytest.raises(albert_tf.AlbertTfError, match=r"max_length=128 exceeds .* table \(64\)"):
        albert_tf.train(**{**kwargs, "max_length": 128, "out": str(tmp_path / "y")})


def test_distillation_student_starts_from_the_imported_weights(tmp_path, hf_imported,
                                                               data_files, trained_dir):
    """`distill --init`: the student's encoder (and tokenizer) are the pretrained ones."""
    import albert_tf

    kwargs = fast_train_kwargs(data_files, tmp_path / "student", init=hf_imported.path,
                               teacher=str(trained_dir), epochs=1, learning_rate=1e-9,
                               max_train_examples=32, model_overrides={})
    kwargs.pop("vocab_size")
    kwargs.pop("preset")
    student = albert_tf.distill(**kwargs)
    for a, b in zip(hf_imported.backbone.get_weights(), student.backbone.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert student.tokenizer.model_proto == hf_imported.tokenizer.model_proto
    from albert_tf.artifacts.manifest import recorded_path

    assert student.metadata["distillation"]["teacher"]["path"] == recorded_path(trained_dir)


def test_cli_import_and_export(tmp_path, hf_dir):
    directory, _ = hf_dir
    result = run_cli("import", "hf", directory, "--out", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["heads"] == "imported" and summary["num_layers"] == 3
    assert load_pretrained(tmp_path / "m").backbone.num_inner_repetitions == 2

    result = run_cli("import", "hf", tmp_path / "nowhere", "--out", tmp_path / "n")
    assert result.returncode == 1 and "not a directory" in result.stderr
    assert "Traceback" not in result.stderr

    result = run_cli("export-checkpoint", tmp_path / "m", "--format", "hf",
                     "--out", tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hf" / "model.safetensors").exists()


def test_pretraining_continues_from_an_imported_checkpoint(tmp_path, hf_imported):
    """`pretrain --init`: the imported MLM/SOP heads and encoder keep training."""
    from albert_tf.training.pretraining.trainer import pretrain
    from tests.helpers import ordered_documents

    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(ordered_documents(100)) + "\n", encoding="utf-8")
    before = [w.copy() for w in hf_imported.pretrainer.get_weights()]
    continued = pretrain(corpus=[str(corpus)], out=str(tmp_path / "p"), init=hf_imported.path,
                         max_length=32, token_budget=256, steps=10, eval_every=10,
                         heldout_fraction=0.1, verbose=0)
    assert continued.heads == "trained"
    assert continued.config["backbone"] == hf_imported.config["backbone"]
    assert continued.tokenizer.model_proto == hf_imported.tokenizer.model_proto
    after = continued.pretrainer.get_weights()
    assert len(before) == len(after)
    assert any(not np.allclose(a, b) for a, b in zip(before, after))  # it trained


def test_safetensors_import_needs_neither_torch_nor_transformers(tmp_path, hf_dir):
    import subprocess
    import sys

    directory, _ = hf_dir
    code = ("import importlib.abc, sys\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'transformers'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from albert_tf.checkpoints import import_checkpoint\n"
            f"p = import_checkpoint('hf', {str(directory)!r}, {str(tmp_path / 'out')!r})\n"
            "assert p.heads == 'imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 0, result.stderr[-2000:]


def test_imported_text_rules_hold_in_the_saved_model_tokenizer(hf_imported):
    """The SavedModel's in-graph tokenizer applies the imported rules too."""
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_text")
    from albert_tf.export.graphs import InGraphTokenizer

    ours = hf_imported.tokenizer
    in_graph = InGraphTokenizer(ours, max_length=64)
    found = in_graph(tf.constant(TEXTS[:-1]))
    expected = ours.encode(TEXTS[:-1], max_length=64, pad_to_multiple_of=1)
    width = expected["token_ids"].shape[1]
    np.testing.assert_array_equal(found["token_ids"].numpy()[:, :width], expected["token_ids"])


def _hf_cache(cache, repo_id, files_from, commit="0" * 39 + "1"):
    """A Hugging Face hub cache holding one snapshot, in huggingface_hub's layout."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(files_from, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


def test_hub_ids_resolve_through_the_offline_cache(hf_dir, hf_imported, tmp_path):
    """`import hf ORG/NAME` as `from_pretrained` takes it: from the cache when
    HF_HUB_OFFLINE=1, and one clear line for an id that is not there."""
    from tests.helpers import run_cli

    directory, _ = hf_dir
    commit = _hf_cache(tmp_path / "cache", "tiny-org/tiny-albert", directory)
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    result = run_cli("import", "hf", "tiny-org/tiny-albert", "--out", tmp_path / "pre", env=env)
    assert result.returncode == 0, result.stderr
    imported = load_pretrained(tmp_path / "pre")
    assert imported.metadata["source"]["hub"] == {
        "repo_id": "tiny-org/tiny-albert", "revision": None, "commit": commit}
    for ours, theirs in zip(imported.backbone.get_weights(),
                            hf_imported.backbone.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    missing = run_cli("import", "hf", "other-org/absent", "--out", tmp_path / "x", env=env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "other-org/absent: not in the local Hugging Face cache" in missing.stderr
    assert "HF_HUB_OFFLINE" in missing.stderr and not (tmp_path / "x").exists()
    handle = run_cli("import", "keras-hub", "hf://other-org/absent", "--out", tmp_path / "y",
                     env=env)
    assert handle.returncode == 1 and "not in the local Hugging Face cache" in handle.stderr


def test_from_preset_means_pretrained_weights_as_in_keras_hub(hf_imported, tmp_path):
    from albert_tf.models import AlbertBackbone

    with pytest.raises(ValueError, match=r"'small' names a shape, not pretrained weights; "
                                         r"AlbertBackbone.from_shape\('small'"):
        AlbertBackbone.from_preset("small")
    assert AlbertBackbone.from_shape("tiny", vocabulary_size=100).vocabulary_size == 100
    keras_hub_preset = export_checkpoint(hf_imported.path, "keras-hub", str(tmp_path / "kh"))
    expected = hf_imported.backbone.get_weights()
    for source in (hf_imported.path, keras_hub_preset):
        loaded = AlbertBackbone.from_preset(source)
        assert len(loaded.get_weights()) == len(expected)
        for ours, theirs in zip(loaded.get_weights(), expected):
            np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert AlbertBackbone.from_preset(hf_imported.path, dtype="mixed_bfloat16"
                                      ).dtype_policy.name == "mixed_bfloat16"
