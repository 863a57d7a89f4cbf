import time

import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_tf.errors import TokenizerError
from albert_tf.text.tokenizer import SPECIAL_TOKEN_IDS, AlbertTokenizer, pad_sequences


def test_albert_special_token_ids(tokenizer):
    assert tokenizer.id_to_piece(range(5)) == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert SPECIAL_TOKEN_IDS["[MASK]"] == tokenizer.mask_id == 4


def test_model_lower_cases_itself(tokenizer):
    # Trained with nmt_nfkc_cf: the spiece.model folds case, no Python step needed.
    assert tokenizer.lowercase is False
    assert tokenizer.tokenize("GREAT Film") == tokenizer.tokenize("great film")


def test_special_tokens_typed_in_text_are_not_control_tokens(tokenizer):
    ids = tokenizer.encode("[CLS] [SEP]")["token_ids"][0]
    assert list(ids).count(tokenizer.cls_id) == 1 and list(ids).count(tokenizer.sep_id) == 1


def test_single_and_pair_packing(tokenizer):
    single = tokenizer.encode("great film", max_length=32)
    n = single["padding_mask"].sum()
    ids = single["token_ids"][0, :n]
    assert ids[0] == tokenizer.cls_id and ids[-1] == tokenizer.sep_id
    assert not single["segment_ids"].any()

    pair = tokenizer.encode(["great film"], pairs=["dull plot"], max_length=32)
    n = pair["padding_mask"].sum()
    ids, segments = pair["token_ids"][0, :n], pair["segment_ids"][0, :n]
    first_sep = list(ids).index(tokenizer.sep_id)
    assert ids[-1] == tokenizer.sep_id and (ids == tokenizer.sep_id).sum() == 2
    assert not segments[:first_sep + 1].any() and segments[first_sep + 1:].all()


def test_pads_to_longest_rounded_to_8_not_to_max_length(tokenizer):
    batch = tokenizer.encode(["fun", "the plot was great and the cast was lovely"],
                             max_length=128)
    longest = batch["padding_mask"].sum(axis=1).max()
    assert batch["token_ids"].shape[1] == -(-longest // 8) * 8 < 128
    assert (batch["token_ids"][batch["padding_mask"] == 0] == tokenizer.pad_id).all()


def test_truncation_is_flagged_and_respects_max_length(tokenizer):
    long_text = " ".join(["great film"] * 50)
    batch = tokenizer.encode([long_text, "fun"], max_length=20)
    assert batch["token_ids"].shape == (2, 20)
    assert batch["truncated"].tolist() == [True, False]
    assert batch["token_ids"][0, -1] == tokenizer.sep_id

    pair = tokenizer.encode([long_text], pairs=["dull"], max_length=20)
    ids = pair["token_ids"][0]
    assert pair["truncated"][0] and (ids == tokenizer.sep_id).sum() == 2
    # Longest-first: the short second text survives whole.
    assert pair["segment_ids"][0].sum() >= 2


def test_megabyte_string_is_bounded_in_time(tokenizer):
    start = time.perf_counter()
    batch = tokenizer.encode("great " * 200_000, max_length=64)
    assert time.perf_counter() - start < 2.0
    assert batch["truncated"][0] and batch["token_ids"].shape == (1, 64)


def test_bad_text_inputs(tokenizer):
    with pytest.raises(TypeError, match="expected a str"):
        tokenizer.encode([42])
    with pytest.raises(TokenizerError, match="not valid UTF-8"):
        tokenizer.encode([b"\xff\xfe bad"])
    assert tokenizer.encode([b"great"])["token_ids"].tolist() == \
        tokenizer.encode(["great"])["token_ids"].tolist()
    # A lone surrogate cannot be UTF-8 encoded; it must not crash the encoder.
    assert tokenizer.encode(["great \ud800 film"])["padding_mask"].sum() > 3
    empty = tokenizer.encode([""])
    assert empty["padding_mask"].sum() == 2  # [CLS] [SEP]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_valid_ids(text):
    tok = _shared_tokenizer()
    batch = tok.encode([text], max_length=32)
    n = batch["padding_mask"].sum()
    ids = batch["token_ids"][0]
    assert 2 <= n <= 32 and ids[0] == tok.cls_id and ids[n - 1] == tok.sep_id
    assert ((ids >= 0) & (ids < tok.vocab_size)).all()


_CACHE = {}


def _shared_tokenizer():
    if "tok" not in _CACHE:
        from tests.helpers import sentiment_rows

        _CACHE["tok"] = AlbertTokenizer.train([t for t, _ in sentiment_rows(300)], 120)
    return _CACHE["tok"]


def test_save_load_round_trip(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "tok")
    loaded = AlbertTokenizer.load(tmp_path / "tok")
    assert loaded.model_proto == tokenizer.model_proto
    texts = ["A clever, moving film!", "bland"]
    assert np.array_equal(loaded.encode(texts)["token_ids"], tokenizer.encode(texts)["token_ids"])
    # A bare spiece.model file works too.
    assert AlbertTokenizer.load(tmp_path / "tok" / "spiece.model").vocab_size == loaded.vocab_size


def test_training_is_deterministic(corpus):
    texts = [t for t, _ in corpus]
    assert AlbertTokenizer.train(texts, 150, seed=3).model_proto == \
        AlbertTokenizer.train(texts, 150, seed=3).model_proto


def test_rejects_files_that_are_not_albert_tokenizers(tmp_path, corpus):
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"definitely not a protobuf")
    with pytest.raises(TokenizerError, match="junk.model"):
        AlbertTokenizer.load(junk)
    with pytest.raises(TokenizerError, match="no SentencePiece model"):
        AlbertTokenizer.load(tmp_path / "missing")
    # A valid SentencePiece model without ALBERT's special ids.
    plain = tmp_path / "plain"
    spm.SentencePieceTrainer.train(sentence_iterator=iter([t for t, _ in corpus]),
                                   model_prefix=str(plain), vocab_size=60, minloglevel=2)
    with pytest.raises(TokenizerError, match=r"id 0 must be '<pad>'"):
        AlbertTokenizer.load(str(plain) + ".model")


def test_google_style_model_without_case_folding_lowercases_in_python(tmp_path, corpus):
    prefix = tmp_path / "google"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([t.lower() for t, _ in corpus]), model_prefix=str(prefix),
        vocab_size=50, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"], normalization_rule_name="nmt_nfkc",
        minloglevel=2)
    tok = AlbertTokenizer.load(str(prefix) + ".model")
    assert tok.lowercase is True
    assert tok.tokenize("GREAT") == tok.tokenize("great")


def test_pad_sequences_caps_at_max_length():
    batch = pad_sequences([([2] + [7] * 10 + [3], [0] * 12)], max_length=12)
    assert batch["token_ids"].shape == (1, 12) and batch["padding_mask"].all()
