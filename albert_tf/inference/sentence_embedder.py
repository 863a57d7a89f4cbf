"""A trained sentence embedder in memory: the Keras encoder and its tokenizer.

What `albert_tf.load_embedder` and `albert_tf.distill_embeddings` return.
Vectors are normalised (length 1), so a dot product is a cosine.
"""

import numpy as np

from albert_tf.inference.predict import predict_in_batches
from albert_tf.similarity import search_vectors, unit_rows


class TrainedEmbedder:
    """A loaded embedder directory: `AlbertSentenceEncoder` and tokenizer together.

    Example:
    ```python
    embedder = albert_tf.load_embedder("runs/embedder")
    embedder.similarity("a gripping, funny film", "an entertaining and witty movie")
    embedder.search("a funny film", ["stocks fell", "a witty comedy"], top_k=1)[0]["text"]
    ```
    """

    def __init__(self, model, tokenizer, config, metadata=None, path=None):
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
        vectors, _ = predict_in_batches(self.model, self.tokenizer, texts,
                                        max_length=self.max_length, batch_size=batch_size)
        return unit_rows(vectors)

    def similarity(self, text_a, text_b):
        """Cosine similarity of two texts' vectors, in [-1, 1]."""
        a, b = self.embed([text_a, text_b])
        return float(np.dot(a, b))

    def search(self, query, texts, top_k=5, batch_size=64):
        """The `top_k` of `texts` nearest `query`: `[{"text", "index", "score"}]`."""
        texts = list(texts)
        vectors = self.embed([query] + texts, batch_size=batch_size)
        return search_vectors(vectors[0], vectors[1:], texts, top_k)
