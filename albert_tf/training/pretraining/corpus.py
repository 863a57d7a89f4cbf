"""Pretraining text: documents from files, split into sentences.

A document is one row of a data file (.txt line, .jsonl `text`, the text
column of a .tsv/.csv; optionally gzipped): an IMDB review, an SST-2
sentence, a news item. SOP pairs never cross a document boundary.
"""

import os

from albert_tf.text.data import iter_text_lines
from albert_tf.errors import DataError
from albert_tf.artifacts.manifest import recorded_path, sha256_file

def read_documents(paths, text_column=None):
    """Yield `(path, text)` for every non-empty document in `paths`."""
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such corpus file")
        for text in iter_text_lines(path, text_column=text_column):
            if text and text.strip():
                yield path, text


def fingerprint(paths):
    """`{path: {sha256, bytes}}`: what a pretrained model's metadata records."""
    return {recorded_path(p): {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
            for p in paths}
