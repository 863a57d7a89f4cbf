"""Using a trained Keras classifier: batched prediction, embeddings, metrics."""
