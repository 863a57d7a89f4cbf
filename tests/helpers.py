"""Fixtures the tests build themselves: tiny data, tokenizers and models."""

import os
import random
import subprocess
import sys

import numpy as np

POSITIVE = ["great", "superb", "lovely", "moving", "clever", "fun"]
NEGATIVE = ["awful", "boring", "dull", "clumsy", "bland", "weak"]
FILLER = ["the", "film", "plot", "cast", "was", "a", "story", "with", "and", "ending",
          "music", "very", "quite", "its", "this", "movie"]

# Strings that stress the tokenizer: case, accents, punctuation, digits, CJK, emoji.
VARIED = ["A superb film.", "THE PLOT WAS AWFUL!!", "Café crème, déjà vu", "1999: 42 films",
          "東京の映画", "great 😀 fun", "  spaced   out  ", "weak " * 200]

# Prepended to `python -c` code: importing these packages raises, proving
# the code under test never needs them.
BLOCK_HEAVY_IMPORTS = """
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "tf_keras", "torch"):
            raise ImportError(f"importing {name} is blocked in this test")
sys.meta_path.insert(0, _Blocked())
"""

# A backbone small enough that a test trains it in seconds.
MICRO_MODEL = dict(num_layers=2, hidden_dim=32, embedding_dim=16, num_heads=2,
                   intermediate_dim=64, max_sequence_length=64)


def sentiment_rows(n, seed=0):
    """(text, "pos"|"neg") rows: filler words around one sentiment word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if positive else NEGATIVE))
        rows.append((" ".join(words).capitalize() + ".", "pos" if positive else "neg"))
    return rows


def write_tsv(path, rows, header=("sentence", "label")):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


def fast_train_kwargs(data_files, out, **overrides):
    """Keyword arguments of `albert_tf.train` for a seconds-long run."""
    kwargs = dict(train=str(data_files / "train.tsv"), eval=str(data_files / "dev.tsv"),
                  out=str(out), preset="tiny", model_overrides=dict(MICRO_MODEL),
                  vocab_size=200, max_length=32, batch_size=16, epochs=4,
                  learning_rate=3e-3, warmup_ratio=0.1, verbose=0, seed=0)
    kwargs.update(overrides)
    return kwargs


def micro_backbone(vocabulary_size=200, **overrides):
    from albert_tf.models import AlbertBackbone

    return AlbertBackbone(**{"vocabulary_size": vocabulary_size, **MICRO_MODEL, **overrides})


def random_inputs(batch=3, length=16, vocabulary_size=200, seed=0, pairs=True):
    """Model inputs with padding at different lengths and two segments."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, (batch, length)).astype("int32")
    mask = np.zeros((batch, length), "int32")
    segments = np.zeros((batch, length), "int32")
    for row in range(batch):
        real = length - 3 * row
        mask[row, :real] = 1
        token_ids[row, real:] = 0
        if pairs:
            segments[row, real // 2:real] = 1
    return {"token_ids": token_ids, "segment_ids": segments, "padding_mask": mask}


def benchmark_module(name):
    """A module of benchmarks/, imported as its scripts run (their directory first on
    the path: they import `reporting` beside them), whatever ran before."""
    import importlib

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def run_cli(*args, stdin=None, env=None, timeout=600):
    """Run `albert-tf ARGS` in a fresh process; returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "albert_tf.apps.cli", *map(str, args)], input=stdin,
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})


# --- checkpoints and pretraining -----------------------------------------

# Google's ALBERT conventions for a SentencePiece model that does *not*
# fold case (like 30k-clean.model): the tokenizer lower-cases in Python.
def google_style_spiece(path, vocab_size=160):
    import io

    import sentencepiece as spm

    texts = ([t for t, _ in sentiment_rows(300)] + VARIED * 5
             + ["Ünïcödé naïve résumé façade", "東京 大阪 京都 映画 音楽", "😀 😃 🎬 ``quoted''"] * 5)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, normalization_rule_name="nmt_nfkc",
        pad_id=0, pad_piece="<pad>", unk_id=1, unk_piece="<unk>", bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"], character_coverage=1.0, minloglevel=2)
    with open(path, "wb") as f:
        f.write(model.getvalue())
    return path


def hf_reference(directory, seed=0, **config):
    """A random-weight `transformers.AlbertForPreTraining` saved with its tokenizer.

    Weights get extra noise on top of the initializer so that LayerNorm
    gains and biases are not the trivial 1 and 0 (a swapped gamma/beta
    would otherwise go unnoticed).
    """
    import torch
    import transformers

    os.makedirs(directory, exist_ok=True)
    spiece = google_style_spiece(os.path.join(directory, "spiece.model"))
    tokenizer = transformers.AlbertTokenizer.from_pretrained(directory)
    settings = dict(embedding_size=16, hidden_size=32, num_hidden_layers=3,
                    num_hidden_groups=1, num_attention_heads=4, intermediate_size=64,
                    inner_group_num=2, max_position_embeddings=64, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0)
    settings.update(config)
    torch.manual_seed(seed)
    model = transformers.AlbertForPreTraining(
        transformers.AlbertConfig(vocab_size=tokenizer.vocab_size, **settings)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    assert os.path.exists(spiece)
    return model


def hf_outputs(model, inputs, mask_positions=None):
    """Sequence, pooled, MLM (at `mask_positions`) and SOP outputs of a torch ALBERT."""
    import torch

    feed = dict(input_ids=torch.tensor(inputs["token_ids"]).long(),
                attention_mask=torch.tensor(inputs["padding_mask"]).long(),
                token_type_ids=torch.tensor(inputs["segment_ids"]).long())
    with torch.no_grad():
        encoder = model.albert(**feed)
        outputs = {"sequence_output": encoder.last_hidden_state.numpy(),
                   "pooled_output": encoder.pooler_output.numpy()}
        if hasattr(model, "predictions"):
            full = model(**feed)
            logits = full.prediction_logits.numpy()
            outputs["mlm_logits"] = np.take_along_axis(
                logits, mask_positions[..., None].astype("int64"), axis=1)
            outputs["sop_logits"] = full.sop_logits.numpy()
    return outputs


def max_differences(ours, reference, padding_mask):
    """Max abs difference per output; padded positions of sequences are ignored."""
    real = padding_mask[..., None].astype(bool)
    found = {}
    for name, expected in reference.items():
        got = np.asarray(ours[name], "float32")
        diff = np.abs(got - expected)
        found[name] = float((diff * real).max() if name == "sequence_output" else diff.max())
    return found


# HF name -> Google name (google-research/albert), written out independently
# of albert_tf/checkpoints/tf1.py so the test checks that table.
def google_names(num_inner):
    names = {
        "albert.embeddings.word_embeddings.weight": "bert/embeddings/word_embeddings",
        "albert.embeddings.position_embeddings.weight": "bert/embeddings/position_embeddings",
        "albert.embeddings.token_type_embeddings.weight":
            "bert/embeddings/token_type_embeddings",
        "albert.embeddings.LayerNorm.weight": "bert/embeddings/LayerNorm/gamma",
        "albert.embeddings.LayerNorm.bias": "bert/embeddings/LayerNorm/beta",
        "albert.encoder.embedding_hidden_mapping_in.weight":
            "bert/encoder/embedding_hidden_mapping_in/kernel",
        "albert.encoder.embedding_hidden_mapping_in.bias":
            "bert/encoder/embedding_hidden_mapping_in/bias",
        "albert.pooler.weight": "bert/pooler/dense/kernel",
        "albert.pooler.bias": "bert/pooler/dense/bias",
        "predictions.dense.weight": "cls/predictions/transform/dense/kernel",
        "predictions.dense.bias": "cls/predictions/transform/dense/bias",
        "predictions.LayerNorm.weight": "cls/predictions/transform/LayerNorm/gamma",
        "predictions.LayerNorm.bias": "cls/predictions/transform/LayerNorm/beta",
        "predictions.bias": "cls/predictions/output_bias",
        "sop_classifier.classifier.weight": "cls/seq_relationship/output_weights",
        "sop_classifier.classifier.bias": "cls/seq_relationship/output_bias",
    }
    for i in range(num_inner):
        hf = f"albert.encoder.albert_layer_groups.0.albert_layers.{i}."
        google = f"bert/encoder/transformer/group_0/inner_group_{i}/"
        for part in ("query", "key", "value"):
            names[hf + f"attention.{part}.weight"] = google + f"attention_1/self/{part}/kernel"
            names[hf + f"attention.{part}.bias"] = google + f"attention_1/self/{part}/bias"
        names.update({
            hf + "attention.dense.weight": google + "attention_1/output/dense/kernel",
            hf + "attention.dense.bias": google + "attention_1/output/dense/bias",
            hf + "attention.LayerNorm.weight": google + "LayerNorm/gamma",
            hf + "attention.LayerNorm.bias": google + "LayerNorm/beta",
            hf + "ffn.weight": google + "ffn_1/intermediate/dense/kernel",
            hf + "ffn.bias": google + "ffn_1/intermediate/dense/bias",
            hf + "ffn_output.weight": google + "ffn_1/intermediate/output/dense/kernel",
            hf + "ffn_output.bias": google + "ffn_1/intermediate/output/dense/bias",
            hf + "full_layer_layer_norm.weight": google + "LayerNorm_1/gamma",
            hf + "full_layer_layer_norm.bias": google + "LayerNorm_1/beta",
        })
    return names


def write_google_checkpoint(model, spiece, directory, step=1000, skip=()):
    """Save a torch ALBERT's weights as a TF1 checkpoint with Google's names,
    beside `albert_config.json` and the SentencePiece model as `30k-clean.model`."""
    import json
    import shutil

    import tensorflow as tf

    os.makedirs(directory, exist_ok=True)
    config = model.config
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    with tf.Graph().as_default():
        for hf, google in google_names(config.inner_group_num).items():
            if google in skip:
                continue
            value = state[hf]
            # torch Linear is (out, in); TF kernels are (in, out). Google's
            # seq_relationship/output_weights is (2, H), like torch.
            if google.endswith("/kernel"):
                value = value.T
            tf.compat.v1.get_variable(google, initializer=tf.constant(value))
        tf.compat.v1.get_variable("global_step", initializer=tf.constant(step, tf.int64))
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, os.path.join(directory, f"model.ckpt-{step}"),
                                            write_meta_graph=False)
    with open(os.path.join(directory, "albert_config.json"), "w") as f:
        json.dump({"vocab_size": config.vocab_size, "embedding_size": config.embedding_size,
                   "hidden_size": config.hidden_size,
                   "num_hidden_layers": config.num_hidden_layers,
                   "num_hidden_groups": config.num_hidden_groups,
                   "num_attention_heads": config.num_attention_heads,
                   "intermediate_size": config.intermediate_size,
                   "inner_group_num": config.inner_group_num, "hidden_act": "gelu",
                   "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                   "max_position_embeddings": config.max_position_embeddings,
                   "type_vocab_size": config.type_vocab_size, "initializer_range": 0.02}, f)
    shutil.copy(spiece, os.path.join(directory, "30k-clean.model"))
    return directory


# Documents a tiny model learns from in seconds: the masked word is
# predictable from context, and the sentence order from the counting.
NUMBERS = ["one", "two", "three", "four", "five", "six"]
THINGS = ["apples", "boats", "cats", "drums", "eggs", "flags", "gates", "hats"]


def ordered_documents(n, seed=0):
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        thing, start = rng.choice(THINGS), rng.randint(0, 2)
        docs.append(" ".join(f"{NUMBERS[i].capitalize()} {thing} went "
                             f"{'up' if i % 2 else 'down'}." for i in range(start, start + 4)))
    return docs
