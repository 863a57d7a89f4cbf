"""ALBERT's SentencePiece tokenizer: train, load, encode, pad.

This module needs only `sentencepiece` and `numpy` (no Keras, no
TensorFlow), so the light runtime can share it and tokenize exactly as
training did.

ALBERT's conventions, which every tokenizer here follows and `load`
checks: `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4, a unigram
model, NFKC normalization and lower-cased text.

Lower-casing: models trained here use SentencePiece's `nmt_nfkc_cf` rule
(NFKC + Unicode case folding) so the *model file itself* lower-cases. That
way every consumer of `spiece.model` (tensorflow-text in a SavedModel,
MediaPipe, which lower-cases ASCII only) produces the same ids as this class
without reimplementing case rules. Google's original `spiece.model` files do
not fold case, so for those we lower-case in Python, as ALBERT did; `load`
detects which kind it has.

Imported tokenizers keep their source's rules (`strip_accents`,
`replace_quotes`; see `AlbertTokenizer`) so ids match the model's training.
"""

import io
import json
import os
import re
import unicodedata

import numpy as np
import sentencepiece as spm

from albert_tf.contract import DEFAULT_MAX_LENGTH
from albert_tf.errors import TokenizerError

PAD, UNK, CLS, SEP, MASK = "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKEN_IDS = {PAD: 0, UNK: 1, CLS: 2, SEP: 3, MASK: 4}

# Characters kept per requested token before tokenizing: a token is rarely
# shorter than one character, so 32 per token never cuts a text that would
# fit, yet a 1 MB string costs no more than a few kB of SentencePiece work.
CHARS_PER_TOKEN_CAP = 32

SPIECE_FILE = "spiece.model"
CONFIG_FILE = "tokenizer.json"


def round_up(value, multiple):
    """Smallest multiple of `multiple` that is >= `value`."""
    return -(-value // multiple) * multiple


def pad_sequences(sequences, max_length=DEFAULT_MAX_LENGTH, pad_to_multiple_of=8, pad_id=0):
    """Pad `(token_ids, segment_ids)` pairs to the batch's longest sequence.

    The length is rounded up to `pad_to_multiple_of` (kernels like aligned
    shapes, and compiled graphs see few distinct shapes) but never beyond
    `max_length`: most sentences are far shorter than it. Returns the
    model's three int32 inputs.
    """
    longest = max((len(t) for t, _ in sequences), default=0)
    length = min(max_length, round_up(max(longest, 1), pad_to_multiple_of))
    token_ids = np.full((len(sequences), length), pad_id, dtype="int32")
    segment_ids = np.zeros((len(sequences), length), dtype="int32")
    padding_mask = np.zeros((len(sequences), length), dtype="int32")
    for row, (tokens, segments) in enumerate(sequences):
        token_ids[row, :len(tokens)] = tokens
        segment_ids[row, :len(segments)] = segments
        padding_mask[row, :len(tokens)] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


_LATEX_QUOTES = re.compile("``|''")


def _strip_accents(text):
    """NFKD, then drop nonspacing marks: Google's and Hugging Face's `keep_accents=False`."""
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if unicodedata.category(c) != "Mn")


def _clean_text(text):
    """Return `text` as a str SentencePiece can take, or raise TypeError.

    Bytes must be UTF-8; lone surrogates (which Python strings may hold but
    UTF-8 cannot) become '?' instead of crashing the encoder.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise TokenizerError(f"text is not valid UTF-8: {error}") from None
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}: {text!r:.80}")
    return text.encode("utf-8", "replace").decode("utf-8")


class AlbertTokenizer:
    """SentencePiece tokenizer with ALBERT's special tokens and packing.

    Args:
        model_proto: bytes of a SentencePiece model (`spiece.model`).
        lowercase: lower-case text in Python before SentencePiece. `None`
            detects it: on for models that do not fold case themselves.
        strip_accents: NFKD-decompose and drop accents first (Google's
            ALBERT and Hugging Face's `keep_accents=False`). Off for
            tokenizers trained here.
        replace_quotes: turn LaTeX quotes `` and '' into `"` (Google's and
            Hugging Face's preprocessing). Off for tokenizers trained here.

    Example:
    ```python
    tokenizer = AlbertTokenizer.train(
        ["a fine film", "a dull film", "the plot is thin"] * 20, vocab_size=40
    )
    batch = tokenizer.encode(["A fine film!", "dull"], max_length=16)
    batch["token_ids"].shape  # (2, 8): padded to the longest, rounded to 8
    ```
    """

    def __init__(self, model_proto, lowercase=None, strip_accents=False, replace_quotes=False):
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except (RuntimeError, OSError, TypeError) as error:
            raise TokenizerError(f"not a SentencePiece model: {error}") from None
        self._check_special_tokens()
        if lowercase is None:
            lowercase = self._sp.encode("HELLO World") != self._sp.encode("hello world")
        self.lowercase = bool(lowercase)
        self.strip_accents = bool(strip_accents)
        self.replace_quotes = bool(replace_quotes)
        # What `unknown_share` does not count: special tokens, padding, and the
        # bare word-start piece (SentencePiece puts it before an unknown character).
        space = self._sp.piece_to_id("\u2581")
        self._not_content = {self.pad_id, self.cls_id, self.sep_id, self.mask_id} | (
            {space} if space != self.unk_id else set())

    # --- construction -----------------------------------------------------

    @classmethod
    def train(cls, texts, vocab_size=8000, *, max_sentences=2_000_000, seed=0,
              num_threads=None):
        """Train a unigram model on an iterable of strings.

        `vocab_size` is an upper bound: on a tiny corpus SentencePiece stops
        where the data runs out of pieces instead of failing.
        """
        if vocab_size < 16:
            raise TokenizerError(f"vocab_size must be at least 16, got {vocab_size}")
        # Strings are lower-cased by the model's normalizer; empty lines
        # carry no information and SentencePiece would count them.
        sentences = (t for t in map(_clean_text, texts) if t.strip())
        model = io.BytesIO()
        # Input sampling and shuffling draw from this global generator.
        spm.set_random_generator_seed(seed)
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences,
            model_writer=model,
            model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            normalization_rule_name="nmt_nfkc_cf",
            pad_id=0, pad_piece=PAD,
            unk_id=1, unk_piece=UNK,
            bos_id=-1, eos_id=-1,
            control_symbols=[CLS, SEP, MASK],
            character_coverage=0.9995,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            max_sentence_length=1 << 16,
            num_threads=num_threads or os.cpu_count() or 1,
            minloglevel=2,
        )
        return cls(model.getvalue(), lowercase=False)

    @classmethod
    def train_from_files(cls, paths, vocab_size=8000, **kwargs):
        """Train on plain-text files, one text per line (UTF-8, optionally .gz)."""
        from albert_tf.text.data import iter_text_lines

        def lines():
            for path in paths:
                yield from iter_text_lines(path)

        return cls.train(lines(), vocab_size=vocab_size, **kwargs)

    @classmethod
    def load(cls, path):
        """Load a tokenizer directory (written by `save`) or a `spiece.model` file."""
        path = os.fspath(path)
        config = {}
        if os.path.isdir(path):
            config_path = os.path.join(path, CONFIG_FILE)
            if os.path.exists(config_path):
                with open(config_path, encoding="utf-8") as f:
                    config = json.load(f)
            path = os.path.join(path, SPIECE_FILE)
        if not os.path.isfile(path):
            raise TokenizerError(f"no SentencePiece model at {path}")
        with open(path, "rb") as f:
            proto = f.read()
        try:
            return cls(proto, lowercase=config.get("lowercase"),
                       strip_accents=config.get("strip_accents", False),
                       replace_quotes=config.get("replace_quotes", False))
        except TokenizerError as error:
            raise TokenizerError(f"{path}: {error}") from None

    def save(self, directory):
        """Write `spiece.model` and `tokenizer.json` into `directory`."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, SPIECE_FILE), "wb") as f:
            f.write(self._proto)
        with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f, indent=2)

    def sha256(self):
        """One hex digest of the model and its settings: equal tokenizers, equal digests."""
        import hashlib

        return hashlib.sha256(self._proto + json.dumps(
            self.get_config(), sort_keys=True).encode("utf-8")).hexdigest()

    def get_config(self):
        return {"lowercase": self.lowercase, "strip_accents": self.strip_accents,
                "replace_quotes": self.replace_quotes, "vocab_size": self.vocab_size,
                "special_tokens": SPECIAL_TOKEN_IDS}

    def _check_special_tokens(self):
        for piece, expected in SPECIAL_TOKEN_IDS.items():
            if expected >= self._sp.get_piece_size():
                raise TokenizerError(
                    f"vocabulary of {self._sp.get_piece_size()} pieces has no id "
                    f"{expected} for {piece}")
            found = self._sp.id_to_piece(expected)
            if found != piece:
                raise TokenizerError(
                    f"id {expected} must be {piece!r} (ALBERT convention), found {found!r}")

    # --- properties -------------------------------------------------------

    @property
    def vocab_size(self):
        return self._sp.get_piece_size()

    @property
    def model_proto(self):
        return self._proto

    pad_id = SPECIAL_TOKEN_IDS[PAD]
    unk_id = SPECIAL_TOKEN_IDS[UNK]
    cls_id = SPECIAL_TOKEN_IDS[CLS]
    sep_id = SPECIAL_TOKEN_IDS[SEP]
    mask_id = SPECIAL_TOKEN_IDS[MASK]

    def id_to_piece(self, ids):
        return [self._sp.id_to_piece(int(i)) for i in ids]

    def unknown_share(self, token_ids):
        """Share of a text's own pieces that are `<unk>`: how much of it the model
        cannot read. Special tokens, padding and the bare word-start piece "▁"
        (which SentencePiece puts before an unknown character) do not count; a
        text with no pieces left counts as wholly unknown (1.0)."""
        content = [int(i) for i in token_ids if int(i) not in self._not_content]
        return sum(i == self.unk_id for i in content) / len(content) if content else 1.0

    # --- encoding ---------------------------------------------------------

    def _prepare(self, text, max_chars):
        text = _clean_text(text)
        cut = len(text) > max_chars
        text = text[:max_chars]
        # The order of Hugging Face's normalizer sequence: quotes, accents, case.
        if self.replace_quotes:
            text = _LATEX_QUOTES.sub('"', text)
        if self.strip_accents:
            text = _strip_accents(text)
        return (text.lower() if self.lowercase else text), cut

    def tokenize(self, text):
        """The SentencePiece pieces of one text, without special tokens."""
        return self._sp.encode(self._prepare(text, len(text) + 1)[0], out_type=str)

    def encode_ids(self, texts, max_length=None):
        """Piece ids of each text (no special tokens) and whether it was cut.

        With `max_length`, characters past `max_length * 32` are dropped
        before SentencePiece sees them, bounding time and memory.
        """
        max_chars = (max_length or 1 << 62) * CHARS_PER_TOKEN_CAP
        prepared = [self._prepare(t, max_chars) for t in texts]
        strings = [p[0] for p in prepared]
        # SentencePiece encodes a list on a thread pool: for the runtime's
        # usual single text that costs 6x the encoding itself (p50 0.030
        # against 0.005 ms, 2 cores), and far more on a busy machine.
        ids = ([self._sp.encode(strings[0], out_type=int)] if len(strings) == 1
               else self._sp.encode(strings, out_type=int))
        return ids, [p[1] for p in prepared]

    def pack(self, ids_a, ids_b=None, max_length=DEFAULT_MAX_LENGTH):
        """`[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, longest-first truncation.

        Returns `(token_ids, segment_ids, truncated)` as Python lists.
        """
        budget = max_length - (3 if ids_b is not None else 2)
        if budget < 1:
            raise ValueError(f"max_length={max_length} leaves no room for tokens")
        ids_a, ids_b = list(ids_a), (list(ids_b) if ids_b is not None else None)
        truncated = False
        if ids_b is None:
            truncated = len(ids_a) > budget
            ids_a = ids_a[:budget]
        else:
            while len(ids_a) + len(ids_b) > budget:
                truncated = True
                (ids_a if len(ids_a) >= len(ids_b) else ids_b).pop()
        token_ids = [self.cls_id] + ids_a + [self.sep_id]
        segment_ids = [0] * len(token_ids)
        if ids_b is not None:
            token_ids += ids_b + [self.sep_id]
            segment_ids += [1] * (len(ids_b) + 1)
        return token_ids, segment_ids, truncated

    def pad(self, sequences, max_length=DEFAULT_MAX_LENGTH, pad_to_multiple_of=8):
        """Pad `(token_ids, segment_ids)` pairs; see `pad_sequences`."""
        return pad_sequences(sequences, max_length, pad_to_multiple_of, self.pad_id)

    def encode(self, texts, pairs=None, max_length=DEFAULT_MAX_LENGTH, pad_to_multiple_of=8):
        """Tokenize, pack and pad a batch of texts (and optional second texts).

        Returns a dict of int32 arrays `token_ids`, `segment_ids` and
        `padding_mask` (the model's inputs) plus a bool array `truncated`.
        A single string is treated as a batch of one.
        """
        if isinstance(texts, (str, bytes)):
            texts = [texts]
            pairs = [pairs] if isinstance(pairs, (str, bytes)) else pairs
        texts = list(texts)
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
        packed, truncated = self.encode_unpadded(texts, pairs, max_length)
        batch = self.pad(packed, max_length, pad_to_multiple_of)
        batch["truncated"] = np.array(truncated, dtype=bool)
        return batch

    def encode_unpadded(self, texts, pairs=None, max_length=DEFAULT_MAX_LENGTH):
        """Packed `(token_ids, segment_ids)` per text and truncation flags.

        What a data pipeline stores: batches are padded later, per batch.
        """
        ids_a, cut_a = self.encode_ids(texts, max_length)
        if pairs is not None:
            ids_b, cut_b = self.encode_ids(pairs, max_length)
        else:
            ids_b, cut_b = [None] * len(ids_a), [False] * len(ids_a)
        return self.pack_batch(ids_a, ids_b, cut_a, cut_b, max_length)

    def pack_batch(self, ids_a, ids_b, cut_a, cut_b, max_length):
        packed, truncated = [], []
        for a, b, ca, cb in zip(ids_a, ids_b, cut_a, cut_b):
            tokens, segments, cut = self.pack(a, b, max_length)
            packed.append((tokens, segments))
            truncated.append(cut or ca or cb)
        return packed, truncated
