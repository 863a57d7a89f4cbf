"""Pretraining examples: sentence-order pairs and n-gram masks (numpy only).

Follows ALBERT's `create_pretraining_data.py`:

- Sentences of one document are gathered until they fill a target length
  (`max_length - 3`, or with probability `short_seq_prob` a random shorter
  one) and cut at a random sentence boundary into segments A and B.
- Sentence-order prediction (SOP): half of the pairs are shown swapped,
  `[CLS] B [SEP] A [SEP]`, label 1; in order, label 0.
- Masking: whole words in n-grams of n <= 3 with p(n) proportional to 1/n,
  15% of the tokens; a chosen token becomes `[MASK]` 80% of the time, a
  random piece 10%, and stays itself 10%.

Swaps and masks are drawn when a batch is built, from a generator seeded by
(seed, epoch, batch), so each epoch sees new masks (RoBERTa's dynamic
masking) and a resumed run sees exactly what an uninterrupted one would.
"""

import numpy as np

MAX_NGRAM = 3
NGRAM_PROBS = np.array([1.0 / n for n in range(1, MAX_NGRAM + 1)])
NGRAM_PROBS /= NGRAM_PROBS.sum()


def tokenize_documents(tokenizer, documents, max_length, chunk=4096):
    """Each document as a list of int32 sentence arrays (empty sentences dropped).

    `documents` is an iterable of lists of sentences; SentencePiece encodes
    them `chunk` sentences at a time.
    """
    tokenized, pending, owners = [], [], []

    def flush():
        ids, _ = tokenizer.encode_ids(pending, max_length=max_length)
        for owner, sentence in zip(owners, ids):
            if sentence:
                tokenized[owner].append(np.asarray(sentence, "int32"))
        pending.clear()
        owners.clear()

    for sentences in documents:
        tokenized.append([])
        for sentence in sentences:
            pending.append(sentence)
            owners.append(len(tokenized) - 1)
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    return [doc for doc in tokenized if doc]


def _truncate_pair(a, b, limit):
    """Drop tokens from the end of the longer segment until both fit."""
    while len(a) + len(b) > limit:
        if len(a) >= len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    return a, b


def build_segment_pairs(documents, max_length, short_seq_prob=0.1, seed=0):
    """`(A, B)` int32 segment pairs, in order, from tokenized documents.

    A one-sentence chunk (a short document) is cut inside the sentence, so
    short texts still give two segments; chunks of a single token are dropped.
    """
    rng = np.random.default_rng(seed)
    limit = max_length - 3  # [CLS] A [SEP] B [SEP]

    def target():
        return int(rng.integers(2, limit + 1)) if rng.random() < short_seq_prob else limit

    pairs = []
    for sentences in documents:
        chunk, size, goal = [], 0, target()
        for index, sentence in enumerate(sentences):
            chunk.append(sentence)
            size += len(sentence)
            if index == len(sentences) - 1 or size >= goal:
                if len(chunk) >= 2:
                    cut = int(rng.integers(1, len(chunk)))
                    a, b = np.concatenate(chunk[:cut]), np.concatenate(chunk[cut:])
                else:
                    tokens = chunk[0][:limit]
                    if len(tokens) < 2:
                        chunk, size, goal = [], 0, target()
                        continue
                    cut = int(rng.integers(1, len(tokens)))
                    a, b = tokens[:cut], tokens[cut:]
                pairs.append(_truncate_pair(a, b, limit))
                chunk, size, goal = [], 0, target()
    return pairs


def word_start_table(tokenizer):
    """`table[id]`: the piece begins a word (SentencePiece's "▁" prefix)."""
    pieces = tokenizer.id_to_piece(range(tokenizer.vocab_size))
    return np.array([p.startswith("\u2581") for p in pieces], dtype=bool)


def pack_pair(a, b, swap, cls_id, sep_id):
    """`[CLS] A [SEP] B [SEP]` (or B first when `swap`) and its segment ids."""
    first, second = (b, a) if swap else (a, b)
    tokens = np.concatenate([[cls_id], first, [sep_id], second, [sep_id]]).astype("int32")
    segments = np.zeros(len(tokens), "int32")
    segments[len(first) + 2:] = 1
    return tokens, segments


def mask_ngrams(tokens, word_starts, rng, mask_id, vocab_size, first_regular_id=5,
                rate=0.15):
    """Choose and replace n-grams of whole words in one packed sequence.

    Returns `(masked_tokens, positions, original_ids)`; positions are sorted.
    Special tokens (ids below `first_regular_id`) are never chosen.
    """
    candidates = np.flatnonzero(tokens >= first_regular_id)
    if len(candidates) == 0:
        return tokens.copy(), np.zeros(0, "int32"), np.zeros(0, "int32")
    # A word starts at a "▁" piece or right after a special token / gap.
    starts = word_starts[tokens[candidates]]
    starts[0] = True
    starts[1:] |= np.diff(candidates) > 1
    word_bounds = np.append(np.flatnonzero(starts), len(candidates))
    num_words = len(word_bounds) - 1
    budget = max(1, int(round(len(candidates) * rate)))
    chosen = np.zeros(len(candidates), dtype=bool)
    count = 0
    for word in rng.permutation(num_words):
        if count >= budget:
            break
        n = int(rng.choice(MAX_NGRAM, p=NGRAM_PROBS)) + 1
        begin, end = word_bounds[word], word_bounds[min(word + n, num_words)]
        if chosen[begin:end].any():
            continue
        if count + (end - begin) > budget:
            end = word_bounds[word + 1]  # fall back to the single word
            if count + (end - begin) > budget:
                continue
        chosen[begin:end] = True
        count += end - begin
    positions = candidates[chosen].astype("int32")
    original = tokens[positions].copy()
    masked = tokens.copy()
    draw = rng.random(len(positions))
    masked[positions[draw < 0.8]] = mask_id
    randomized = positions[draw >= 0.9]
    masked[randomized] = rng.integers(first_regular_id, vocab_size, len(randomized))
    return masked, positions, original
