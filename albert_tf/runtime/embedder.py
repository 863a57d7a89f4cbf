"""`Embedder`: sentence vectors, similarity and search on TFLite alone.

Loads an embedder export (`albert-tf export` on a `distill --task embedding`
directory), or the bundled embedder by name. Same inputs as `Classifier`
(one text or a list; empty text, wrong types and undecodable bytes are an
`InputError` naming the index; over-long texts are cut to `max_length`), one
answer: unit-length vectors, so a dot product is the cosine similarity.

A text the model cannot read (more than `max_unknown` of its pieces `<unk>`:
emoji, another script) still gets a vector, but no similarity: two such texts
are both runs of `<unk>` and would score about 1.0 ("👍" against a Chinese
sentence) whatever they mean. `similarity` returns None for them, and `search`
leaves them out (an unreadable query finds nothing), as `Classifier` abstains.

```python
from albert_tf.runtime import Embedder
embedder = Embedder.load("runs/embedder-export")
embedder.similarity("a gripping, funny film", "an entertaining and witty movie")
embedder.search("a funny film", ["stocks fell sharply", "a witty comedy"], top_k=1)
```
"""

import os

import numpy as np

from albert_tf.artifacts.manifest import EMBEDDER_EXPORT_FORMAT
from albert_tf.contract import EMBEDDING
from albert_tf.errors import ModelFileError, ModelOutputError
from albert_tf.prediction import MAX_UNKNOWN, check_options
from albert_tf.similarity import (check_top_k, pair_similarity, readable_flags, search_readable,
                                  unit_rows)
from albert_tf.text.inputs import check_text, check_tokens
from albert_tf.text.tokenizer import CHARS_PER_TOKEN_CAP

from .bundle import available_recipes, load_export
from .runner import ModelRunner

# Texts tokenized and run at once: bounds memory on huge lists.
CHUNK = 1024


class Embedder:
    """An embedder export's `.tflite` (default: the first recipe that passed its
    parity gate, in `RECIPE_PREFERENCE` order) and its SentencePiece tokenizer."""

    def __init__(self, bundle, num_threads=None, max_batch_size=32, num_interpreters=1,
                 backend=None, max_unknown=MAX_UNKNOWN):
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size must be a positive int, got {max_batch_size!r}")
        check_options(max_unknown=max_unknown)
        self.max_unknown = max_unknown  # see albert_tf.prediction.is_unreadable
        self.bundle = bundle
        self.max_batch_size = max_batch_size
        self.runner = ModelRunner(bundle.model_path, num_threads, num_interpreters, backend)
        if EMBEDDING not in self.runner.outputs:
            raise ModelFileError(f"{bundle.model_path} has no {EMBEDDING!r} output "
                                 f"(outputs: {sorted(self.runner.outputs)})")
        self.max_length = self.runner.static_length or bundle.max_length
        self.max_chars = self.max_length * CHARS_PER_TOKEN_CAP

    @classmethod
    def load(cls, source=None, recipe=None, **kwargs):
        """An embedder export directory, one of its `.tflite` files, or a bundled
        embedder by short name (no `source`: the default one)."""
        from albert_tf.bundled import BUNDLED_EMBEDDERS, resolve

        source = os.fspath(resolve(source, embedder=True))
        filename = None
        if os.path.isfile(source):
            source, filename = os.path.split(os.path.abspath(source))
            if recipe is not None:
                raise ModelFileError("pass either a .tflite file or a recipe, not both")
        elif not os.path.isdir(source):
            raise ModelFileError(f"{source}: no such file or directory, and not a bundled "
                                 f"embedder ({', '.join(BUNDLED_EMBEDDERS)})")
        bundle = load_export(source, recipe, filename, expected_format=EMBEDDER_EXPORT_FORMAT)
        return cls(bundle, **kwargs)

    recipe = property(lambda self: self.bundle.recipe)
    tokenizer = property(lambda self: self.bundle.tokenizer)
    dim = property(lambda self: self.runner.width(EMBEDDING))
    recipes = property(lambda self: available_recipes(self.bundle.manifest))

    def describe(self):
        row = next((r for r in self.bundle.manifest.get("parity", [])
                    if r.get("file") == os.path.basename(self.bundle.model_path)), {})
        return {"model": self.bundle.model_path, "recipe": self.recipe,
                "size_bytes": self.bundle.size_bytes, "dim": self.dim,
                "max_length": self.max_length, "backend": self.runner.backend,
                "num_threads": self.runner.num_threads,
                "mean_cosine_with_float": row.get("mean_cosine"),
                "verified": self.bundle.verified}

    def embed(self, texts):
        """Unit-length vectors: `(dim,)` for one text, `(n, dim)` for a list."""
        vectors, _, single = self._embed(texts)
        return vectors[0] if single else vectors

    def readable(self, texts):
        """Whether the model can read each text (at most `max_unknown` of its
        pieces `<unk>`): a bool for one text, a list for a list."""
        _, shares, single = self._embed(texts, vectors=False)
        readable = readable_flags(shares, self.max_unknown)
        return readable[0] if single else readable

    def _embed(self, texts, vectors=True):
        """`(unit vectors or None, unknown-piece shares, single)`."""
        single = isinstance(texts, (str, bytes, bytearray))
        texts = [texts] if single else list(texts)
        out = np.zeros((len(texts), self.dim), np.float32) if vectors else None
        shares = []
        for start in range(0, len(texts), CHUNK):
            chunk = [check_text(start + i, t, self.max_chars)
                     for i, t in enumerate(texts[start:start + CHUNK])]
            packed, _ = self.tokenizer.encode_unpadded(chunk, None, self.max_length)
            for i, (tokens, _) in enumerate(packed):
                check_tokens(start + i, chunk[i], len(tokens))
            shares.extend(self.tokenizer.unknown_share(tokens) for tokens, _ in packed)
            if vectors:
                out[start:start + len(chunk)] = self.runner.run_all(
                    packed, self.max_length, self.max_batch_size, (EMBEDDING,))[EMBEDDING]
        if vectors:
            if not np.isfinite(out).all():
                raise ModelOutputError(f"{self.bundle.model_path} returned non-finite vectors")
            out = unit_rows(out)
        return out, shares, single

    def similarity(self, text_a, text_b):
        """Cosine similarity of two texts, in [-1, 1]; None when the model cannot
        read one of them (see the module docstring)."""
        vectors, shares, _ = self._embed([text_a, text_b])
        return pair_similarity(vectors, shares, self.max_unknown)

    def search(self, query, texts, top_k=5):
        """The `top_k` of `texts` nearest `query`, best first:
        `[{"text", "index", "score"}]` (`index` into `texts`). Texts the model
        cannot read are not ranked; nothing is found for an unreadable query."""
        check_top_k(top_k)
        texts = list(texts)
        if not texts:
            return []
        vectors, shares, _ = self._embed([query] + texts)
        return search_readable(vectors, shares, texts, top_k, self.max_unknown)
