"""Pretraining batches for `model.fit`: token-budget sized, masked on the fly."""

import keras
import numpy as np

from albert_tf.text.bucketing import plan_token_batches, rows_for_width
from albert_tf.training.pretraining.instances import mask_ngrams, pack_pair, word_start_table
from albert_tf.text.tokenizer import round_up


class PretrainingBatches(keras.utils.PyDataset):
    """Yields `(inputs, targets, sample_weights)` for `AlbertPretrainer`.

    inputs: `token_ids`, `segment_ids`, `padding_mask`, `mask_positions`;
    targets: `mlm_logits` (original ids at the masked positions) and
    `sop_logits` (1 = segments swapped); the MLM weights are 1 on real
    predictions and 0 on padding, scaled so that Keras' mean over the batch
    equals the mean over real predictions (ALBERT's normalization).

    Each batch holds about `token_budget` padded tokens. `steps` fixes the
    epoch length (an "epoch" here is the interval between evaluations); the
    data wraps around, reshuffled on every pass.

    Args:
        pairs: `(A, B)` int32 arrays from `build_segment_pairs`.
        tokenizer: the `AlbertTokenizer` (special ids, vocabulary).
        token_budget: int, rows x padded length per batch.
        steps: int or None (one pass over the pairs).
        fixed: draw the same swaps and masks every epoch (held-out
            evaluation), instead of new ones per epoch.
    """

    def __init__(self, pairs, tokenizer, token_budget=8192, steps=None, seed=0, fixed=False,
                 mask_rate=0.15, pad_to_multiple_of=8, **kwargs):
        super().__init__(**kwargs)
        if not pairs:
            raise ValueError("no segment pairs to batch (is the corpus empty?)")
        self.pairs = pairs
        self.lengths = np.array([len(a) + len(b) + 3 for a, b in pairs])
        longest = round_up(int(self.lengths.max()), pad_to_multiple_of)
        if token_budget < longest:
            raise ValueError(f"token_budget={token_budget} is smaller than one sequence "
                             f"of {longest} tokens")
        self.tokenizer = tokenizer
        self.token_budget = token_budget
        self.seed = seed
        self.fixed = fixed
        self.mask_rate = mask_rate
        self.multiple = pad_to_multiple_of
        self.word_starts = word_start_table(tokenizer)
        self.epoch = 0
        self._passes = {}
        self.batches_per_pass = len(self._plan(0))
        self.steps = steps or self.batches_per_pass

    def _plan(self, number):
        if number not in self._passes:
            batches = plan_token_batches(self.lengths, self.token_budget,
                                         seed=self.seed + number, multiple=self.multiple)
            self._passes = {number: self._lead_with_distinct_shapes(batches)}
        return self._passes[number]

    def _lead_with_distinct_shapes(self, batches):
        """Keras' TF adapter fixes each input dimension that the first two
        batches share: lead with the widest batch and one that differs from
        it in rows and width, so both dimensions stay dynamic."""
        shapes = [(len(rows), self._width(rows)) for rows in batches]
        first = int(np.argmax([w for _, w in shapes]))
        rows0, width0 = shapes[first]
        second = max((i for i in range(len(batches)) if i != first),
                     key=lambda i: ((shapes[i][0] != rows0) + (shapes[i][1] != width0),
                                    -shapes[i][1]), default=None)
        lead = [first] + ([second] if second is not None else [])
        return [batches[i] for i in lead] + [b for i, b in enumerate(batches) if i not in lead]

    def _width(self, rows):
        return round_up(int(self.lengths[rows].max()), self.multiple)

    def _num_predictions(self, width):
        """Mask slots per row: a function of the width alone, so batches of one
        width share a shape (at most `rate` of the non-special tokens are masked)."""
        return max(1, int(round((width - 3) * self.mask_rate)) + 1)

    def __len__(self):
        return self.steps

    def set_epoch(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        step = (0 if self.fixed else self.epoch * self.steps) + index
        batches = self._plan(0 if self.fixed else step // self.batches_per_pass)
        rows = batches[step % len(batches)]
        return self.collate(rows, np.random.default_rng([self.seed, step]))

    def collate(self, rows, rng):
        tok = self.tokenizer
        sequences, positions, originals = [], [], []
        swaps = rng.random(len(rows)) < 0.5
        for row, swap in zip(rows, swaps):
            tokens, segments = pack_pair(*self.pairs[row], swap, tok.cls_id, tok.sep_id)
            masked, where, original = mask_ngrams(tokens, self.word_starts, rng, tok.mask_id,
                                                  tok.vocab_size, rate=self.mask_rate)
            sequences.append((masked, segments))
            positions.append(where)
            originals.append(original)
        width = self._width(rows)
        num_predictions = self._num_predictions(width)
        # Every batch of one width has the same rows: a short one gets empty
        # rows (no tokens, zero weights), so XLA compiles once per width.
        batch = rows_for_width(self.token_budget, width)
        token_ids = np.zeros((batch, width), "int32")
        segment_ids = np.zeros((batch, width), "int32")
        padding_mask = np.zeros((batch, width), "int32")
        mask_positions = np.zeros((batch, num_predictions), "int32")
        mask_ids = np.zeros((batch, num_predictions), "int32")
        weights = np.zeros((batch, num_predictions), "float32")
        for i, ((tokens, segments), where, original) in enumerate(
                zip(sequences, positions, originals)):
            token_ids[i, :len(tokens)] = tokens
            segment_ids[i, :len(segments)] = segments
            padding_mask[i, :len(tokens)] = 1
            mask_positions[i, :len(where)] = where
            mask_ids[i, :len(where)] = original
            weights[i, :len(where)] = 1.0
        sop_labels = np.zeros(batch, "int32")
        sop_labels[:len(rows)] = swaps
        sop_weights = np.zeros(batch, "float32")
        sop_weights[:len(rows)] = 1.0
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids,
                  "padding_mask": padding_mask, "mask_positions": mask_positions}
        targets = {"mlm_logits": mask_ids, "sop_logits": sop_labels}
        return inputs, targets, {"mlm_logits": _mean_one(weights),
                                 "sop_logits": _mean_one(sop_weights)}

    def tokens_per_pass(self):
        return int(self.lengths.sum())

    def padding_ratio(self):
        """Fraction of a pass's positions that are padding (short rows and empty rows)."""
        padded = sum(rows_for_width(self.token_budget, self._width(rows)) * self._width(rows)
                     for rows in self._plan(0))
        return 1.0 - self.tokens_per_pass() / padded


def _mean_one(weights):
    """Scale 0/1 weights to mean 1: Keras' mean over all slots then equals the
    mean over real ones (ALBERT normalizes the MLM loss by real predictions)."""
    return weights * (weights.size / max(weights.sum(), 1.0))
