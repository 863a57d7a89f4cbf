"""Move a sentence embedder onto a new tokenizer (Fast Vocabulary Transfer).

    albert-tf train-tokenizer --input general.txt reviews.tsv --vocab-size 10000 --out runs/tok
    python scripts/transfer_vocabulary.py runs/embedder --tokenizer runs/tok --out runs/embedder-tok
    albert-tf distill --task embedding --init runs/embedder-tok ...   # then train on

The new directory is the embedder with the new tokenizer and a token embedding
built by `albert_tf.training.vocabulary_transfer` (shared pieces keep their rows,
new ones start as the mean of their old split's rows); every other weight is
copied. It is a starting point to distil on, not a finished model: before training
it reads words the old model saw in fragments as one averaged piece, and
`--check FILE` prints how close its vectors stay to the old model's on FILE's lines.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("embedder", help="an embedder directory (albert-tf distill --task embedding)")
    parser.add_argument("--tokenizer", required=True, help="the new tokenizer directory")
    parser.add_argument("--out", required=True, help="the embedder directory to write")
    parser.add_argument("--check", help="a text file: print the mean and minimum cosine "
                                        "between the old and new model's vectors of its lines")
    args = parser.parse_args(argv)

    from albert_tf.artifacts.embedder_dir import (encoder_with_dtype, load_embedder,
                                                  save_embedder_dir)
    from albert_tf.errors import AlbertTfError
    from albert_tf.inference.sentence_embedder import TrainedEmbedder
    from albert_tf.text.data import iter_text_lines
    from albert_tf.text.tokenizer import AlbertTokenizer
    from albert_tf.training.vocabulary_transfer import transfer_embeddings, transfer_report

    try:
        old = load_embedder(args.embedder)
        tokenizer = AlbertTokenizer.load(args.tokenizer)
        if os.path.exists(args.out):
            raise AlbertTfError(f"{args.out}: exists; give a new directory")
    except (AlbertTfError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    config = dict(old.config)
    model_config = old.model.get_config()
    model_config["backbone"]["config"]["vocabulary_size"] = tokenizer.vocab_size
    model = encoder_with_dtype(model_config, "float32")
    embeddings = old.backbone.token_embedding.embeddings
    new_table = transfer_embeddings(embeddings.numpy(), old.tokenizer, tokenizer)
    # Same architecture but the table's rows: every other weight in the same order. The
    # table is found by identity, not by value: another weight could equal it.
    weights = [new_table if v is embeddings else v.numpy() for v in old.model.weights]
    model.set_weights(weights)
    report = transfer_report(old.tokenizer, tokenizer)
    save_embedder_dir(args.out, model, tokenizer, config["training"],
                      extra_metadata={"vocabulary_transfer": {"from": args.embedder, **report}})
    print(report)
    if args.check:
        texts = [t for t in iter_text_lines(args.check) if t.strip()]
        new = TrainedEmbedder(model, tokenizer, config)
        cosines = np.sum(old.embed(texts) * new.embed(texts), axis=1)
        print(f"{len(texts)} lines: cosine old/new mean {cosines.mean():.4f} "
              f"min {cosines.min():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
