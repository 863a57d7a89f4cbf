"""Sentence embeddings from an ALBERT backbone, and cosine similarity."""

import keras

from albert_tf.contract import DEFAULT_MAX_LENGTH, POOLINGS
from albert_tf.inference.predict import predict_in_batches
from albert_tf.models.layers import MaskedMeanPooling
from albert_tf.similarity import cosine_similarity  # noqa: F401  (used in the example; albert_tf.cosine_similarity)


def pooling_model(backbone, pooling="cls"):
    """A `keras.Model` from the backbone's inputs to one vector per text.

    "cls": the pooled output (dense + tanh on `[CLS]`), what ALBERT's SOP
    head and classifiers read. "mean": the average of the final hidden
    states over real tokens, often better for similarity search.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    outputs = backbone(backbone.input)
    if pooling == "cls":
        vector = outputs["pooled_output"]
    else:
        vector = MaskedMeanPooling(name="mean_pooling")(
            outputs["sequence_output"], backbone.input["padding_mask"])
    return keras.Model(backbone.input, vector, name=f"{pooling}_embedding")


def embed(model, tokenizer, texts, pooling="cls", max_length=DEFAULT_MAX_LENGTH, batch_size=64):
    """Embedding vectors `(n, hidden_dim)` of `texts`, float32.

    `model` is an `AlbertBackbone` or anything with a `.backbone`
    (`AlbertClassifier`, a loaded `TrainedClassifier`).

    Example:
    ```python
    vectors = embed(classifier, tokenizer, ["a fine film", "a good movie"])
    cosine_similarity(vectors[0], vectors[1])
    ```
    """
    backbone = getattr(model, "backbone", model)
    vectors, _ = predict_in_batches(pooling_model(backbone, pooling), tokenizer, texts,
                                    max_length=max_length, batch_size=batch_size)
    return vectors
