"""Text in: SentencePiece tokenization, data files, input checks, sentence
splitting, length bucketing. Keras-free."""
