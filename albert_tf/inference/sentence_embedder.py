"""A trained sentence embedder in memory: the Keras encoder and its tokenizer.

What `albert_tf.load_embedder` and `albert_tf.distill_embeddings` return.
Vectors are normalised (length 1), so a dot product is a cosine. Texts the
model cannot read get no similarity and no place in a search, as in the
runtime's `Embedder` (see `albert_tf.similarity.pair_similarity`).
"""

import numpy as np

from albert_tf.inference.predict import predict_in_batches
from albert_tf.prediction import MAX_UNKNOWN
from albert_tf.similarity import (check_top_k, pair_similarity, readable_flags, search_readable,
                                  unit_rows)


class TrainedEmbedder:
    """A loaded embedder directory: `AlbertSentenceEncoder` and tokenizer together.

    Example:
    ```python
    embedder = albert_tf.load_embedder("runs/embedder")
    embedder.similarity("a gripping, funny film", "an entertaining and witty movie")
    embedder.search("a funny film", ["stocks fell", "a witty comedy"], top_k=1)[0]["text"]
    ```
    """

    def __init__(self, model, tokenizer, config, metadata=None, path=None,
                 max_unknown=MAX_UNKNOWN):
        self.max_unknown = max_unknown
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.metadata = metadata or {}
        self.path = path
        self.max_length = int(config["max_length"])

    @property
    def backbone(self):
        return self.model.backbone

    @property
    def dim(self):
        return int(self.model.projection_dim)

    def embed(self, texts, batch_size=64):
        """Unit-length sentence vectors `(n, dim)`, float32."""
        return self._embed(texts, batch_size)[0]

    def _embed(self, texts, batch_size=64):
        """Unit vectors and each text's unknown-piece share, from one tokenization."""
        vectors, _, _, shares = predict_in_batches(self.model, self.tokenizer, texts,
                                                   max_length=self.max_length,
                                                   batch_size=batch_size, token_stats=True)
        return unit_rows(vectors), shares

    def unknown_shares(self, texts):
        """Each text's share of `<unk>` pieces (see `AlbertTokenizer.unknown_share`)."""
        packed, _ = self.tokenizer.encode_unpadded(list(texts), None, self.max_length)
        return [self.tokenizer.unknown_share(tokens) for tokens, _ in packed]

    def readable(self, texts):
        """Whether the model can read each text (at most `max_unknown` unknown)."""
        single = isinstance(texts, str)
        readable = readable_flags(self.unknown_shares([texts] if single else texts),
                                  self.max_unknown)
        return readable[0] if single else readable

    def similarity(self, text_a, text_b):
        """Cosine similarity of two texts' vectors, in [-1, 1]; None when the model
        cannot read one of them."""
        return pair_similarity(*self._embed([text_a, text_b]), self.max_unknown)

    def search(self, query, texts, top_k=5, batch_size=64):
        """The `top_k` of `texts` nearest `query`: `[{"text", "index", "score"}]`;
        texts the model cannot read are left out."""
        check_top_k(top_k)  # before any work, as the runtime's Embedder.search
        texts = list(texts)
        if not texts:
            return []
        vectors, shares = self._embed([query] + texts, batch_size=batch_size)
        return search_readable(vectors, shares, texts, top_k, self.max_unknown)
