"""MLM + SOP pretraining (the ALBERT paper's objectives) on your own text.

`corpus` reads documents and splits sentences, `instances` builds
sentence-order pairs and n-gram masks (numpy only), `batches` feeds them to
`model.fit` in token-budget batches, `trainer` runs it all:
`albert-tf pretrain` / `albert_tf.training.pretraining.pretrain(...)`.
"""
