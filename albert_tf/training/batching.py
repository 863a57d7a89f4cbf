"""Batches for `model.fit`/`predict`: padded per batch, bucketed by length.

A `keras.utils.PyDataset`, so the same pipeline feeds the TensorFlow, JAX
and torch backends. Each batch is padded only to its own longest sequence
(rounded to a multiple of 8); with length bucketing, sentences of similar
length share a batch, so a set of short sentences is not padded to 128.
"""

import keras
import numpy as np

from albert_tf.contract import DEFAULT_MAX_LENGTH
from albert_tf.text.bucketing import plan_batches, plan_group_batches
from albert_tf.text.tokenizer import pad_sequences


class EpochSync(keras.callbacks.Callback):
    """Tell a `ClassificationBatches` which epoch Keras is starting (resume-safe)."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


class ClassificationBatches(keras.utils.PyDataset):
    """Yields `(inputs, labels[, sample_weights])` batches of packed sequences.

    Args:
        sequences: list of `(token_ids, segment_ids)` from
            `AlbertTokenizer.encode_unpadded`.
        labels: None, class indices, or multi-hot rows.
        batch_size: int.
        max_length: int, the longest a padded batch may be.
        shuffle: reshuffle (with bucketing) every epoch, seeded by
            `seed + epoch`.
        sample_weights: optional per-example weights (e.g. class weights).
        row_multiple: pad each batch's rows to a multiple of this (the
            device count in data-parallel training) with zero-weight rows.
        process_share: `(index, count)`: yield only this process's slice of
            every batch (several training processes, each feeding its share of
            the global batch; `row_multiple` must be a multiple of `count`).
        groups: optional per-example group ids: shuffled batches are then made
            of runs of `group_size` examples of one group
            (`bucketing.plan_group_batches`) instead of length buckets.
        group_size: examples of one group per run (with `groups`).

    Example:
    ```python
    packed, _ = tokenizer.encode_unpadded(texts)
    batches = ClassificationBatches(packed, labels, batch_size=32, shuffle=True)
    classifier.fit(batches, epochs=3)
    ```
    """

    def __init__(self, sequences, labels=None, batch_size=32, max_length=DEFAULT_MAX_LENGTH,
                 shuffle=False, seed=0, sample_weights=None, pad_to_multiple_of=8,
                 row_multiple=1, process_share=(0, 1), groups=None, group_size=8,
                 **kwargs):
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        index, count = process_share
        if not 0 <= index < count or row_multiple % count:
            raise ValueError(f"process_share {process_share!r} needs 0 <= index < count and "
                             f"row_multiple ({row_multiple}) a multiple of count")
        if labels is not None and len(labels) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        self.sequences = sequences
        self.labels = None if labels is None else np.asarray(
            labels, dtype="float32" if np.ndim(labels) == 2 else "int32")
        self.sample_weights = (None if sample_weights is None
                               else np.asarray(sample_weights, dtype="float32"))
        self.batch_size = batch_size
        self.max_length = max_length
        self.shuffle = shuffle
        self.seed = seed
        self.pad_to_multiple_of = pad_to_multiple_of
        self.row_multiple = row_multiple
        self.process_share = process_share
        self.lengths = np.array([len(t) for t, _ in sequences])
        if groups is not None and len(groups) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(groups)} group ids")
        self.groups = None if groups is None else np.asarray(groups)
        self.group_size = group_size
        self.epoch = 0
        self.batches = self._plan()

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self._whole(self.batches[index])
        share, count = self.process_share
        if count == 1:
            return batch
        # Padded as the whole batch (one width in every process), then sliced.
        size = len(next(iter(batch[0].values()))) // count  # rows padded to row_multiple
        part = slice(share * size, (share + 1) * size)
        return tuple({k: v[part] for k, v in item.items()} if isinstance(item, dict)
                     else item[part] for item in batch)

    def _whole(self, rows):
        inputs = pad_sequences([self.sequences[i] for i in rows], self.max_length,
                               self.pad_to_multiple_of)
        if self.labels is None:
            return (inputs,)
        if self.row_multiple > 1:
            return self._pad_rows(inputs, rows)
        if self.sample_weights is None:
            return inputs, self.labels[rows]
        return inputs, self.labels[rows], self.sample_weights[rows]

    def _pad_rows(self, inputs, rows):
        """Append empty rows (no tokens, weight 0) up to a multiple of `row_multiple`."""
        extra = -len(rows) % self.row_multiple
        weights = (np.ones(len(rows), "float32") if self.sample_weights is None
                   else self.sample_weights[rows])
        pad = lambda array: np.concatenate(  # noqa: E731
            [array, np.zeros((extra,) + array.shape[1:], array.dtype)])
        return ({k: pad(v) for k, v in inputs.items()}, pad(self.labels[rows]), pad(weights))

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch):
        """Plan the batches of `epoch`: a pure function of (seed, epoch), so a
        resumed run sees exactly the order an uninterrupted one would."""
        if self.shuffle and epoch != self.epoch:
            self.epoch = epoch
            self.batches = self._plan()

    def _plan(self):
        if self.groups is not None and self.shuffle:
            batches = plan_group_batches(self.groups, self.batch_size, self.group_size,
                                         self.seed + self.epoch, lengths=self.lengths)
        else:
            batches = plan_batches(self.lengths, self.batch_size, self.shuffle,
                                   self.seed + self.epoch)
        # Keras' TF adapter fixes the input signature from the first two
        # batches: lead with the widest and the narrowest so the length axis
        # stays dynamic (and a batch that does not fit in memory fails at once).
        widths = [self.lengths[rows].max() for rows in batches]
        first, second = int(np.argmax(widths)), int(np.argmin(widths))
        lead = [first] + ([second] if second != first else [])
        return [batches[i] for i in lead] + [b for i, b in enumerate(batches) if i not in lead]

    def padding_ratio(self):
        """Fraction of positions in the planned batches that are padding."""
        real = padded = 0
        for rows in self.batches:
            lengths = self.lengths[rows]
            width = min(self.max_length, -(-lengths.max() // self.pad_to_multiple_of)
                        * self.pad_to_multiple_of)
            real += lengths.sum()
            padded += width * len(rows)
        return 1.0 - real / max(padded, 1)
