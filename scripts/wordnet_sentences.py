"""Write WordNet's example sentences and glosses as two plain-text corpus files.

    apt-get install wordnet-base      # Princeton WordNet 3.0, /usr/share/wordnet
    python scripts/wordnet_sentences.py --out runs/wordnet

Why: the embedding student's transfer set in `../shared/data` is mostly movie
reviews (SST-2, IMDB), with 10k news rows and 5k questions. Sentence-similarity
benchmarks are captions, headlines and forum posts about everyday things, whose
words a review corpus rarely uses. WordNet 3.0 holds 48k short example sentences
("she lived on the other side of the street from me") and 136k glosses
("a publication containing a variety of works") that cover the general
vocabulary, offline from a Debian package. Writes OUT-examples.txt and
OUT-glosses.txt, one text per line (the format `--transfer` reads).

    python scripts/wordnet_sentences.py --out runs/wordnet --shard-lines 30000

writes each part shuffled (`--seed`) in files of at most 30,000 lines instead
(OUT-examples-1.txt, OUT-examples-2.txt, OUT-glosses-1.txt, ...). Why: `--per-file`
caps every transfer file alike, so a stage that wants all of WordNet but only
30,000 sentences of each other file passes WordNet as shards of that size; the
other files' samples, and the teacher vectors a cache holds for them, stay as
they were. Shuffled first, so each shard mixes nouns, verbs and adjectives
(WordNet's files are in part-of-speech order).
"""

import argparse
import glob
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.text.data import write_text_lines  # noqa: E402
from apps.cli_common import positive_int  # noqa: E402

DEFAULT_DIR = "/usr/share/wordnet"
PARTS = ("examples", "glosses")


def wordnet_texts(directory=DEFAULT_DIR):
    """{"examples": [...], "glosses": [...]} from WordNet's data.* files, in file order."""
    files = sorted(glob.glob(os.path.join(directory, "data.*")))
    if not files:
        raise FileNotFoundError(f"{directory}: no WordNet data.* files "
                                "(apt-get install wordnet-base)")
    texts = {part: [] for part in PARTS}
    for path in files:
        # latin-1: WordNet 3.0's data files are 8-bit, a few glosses use accented letters.
        with open(path, encoding="latin-1") as handle:
            for line in handle:
                # Lines starting with two spaces are the licence header; a synset line
                # ends with "| gloss; \"example\"; ...".
                if line.startswith("  ") or "|" not in line:
                    continue
                for piece in line.split("|", 1)[1].split(";"):
                    piece = piece.strip()
                    if piece.startswith('"'):
                        texts["examples"].append(piece.strip('"').strip())
                    elif piece:
                        texts["glosses"].append(piece)
    return texts


def shards(lines, shard_lines, seed=0):
    """`lines` shuffled with `random.Random(seed)`, cut into lists of at most
    `shard_lines` lines."""
    if shard_lines < 1:
        raise ValueError(f"shard_lines={shard_lines}: expected a positive count")
    lines = list(lines)
    random.Random(seed).shuffle(lines)
    return [lines[i:i + shard_lines] for i in range(0, len(lines), shard_lines)]


def write_corpus_file(path, lines):
    """`lines` as a plain-text corpus file (the format --transfer reads), written
    whole or not at all, and say so."""
    write_text_lines(path + ".partial", lines)
    os.replace(path + ".partial", path)
    print(f"{path}: {len(lines)} lines")


def write_corpus_shards(prefix, lines, shards=1):
    """`lines` as PREFIX.txt, or (`shards` > 1) as PREFIX-1.txt, PREFIX-2.txt, ... of
    equal length, so that `--per-file`, which caps every transfer file, takes them all."""
    if shards == 1:
        write_corpus_file(f"{prefix}.txt", lines)
        return
    size = -(-len(lines) // shards)
    for number in range(shards):
        write_corpus_file(f"{prefix}-{number + 1}.txt", lines[number * size:(number + 1) * size])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--wordnet", default=DEFAULT_DIR, help="WordNet's dict directory")
    parser.add_argument("--out", required=True, help="prefix of the .txt files")
    parser.add_argument("--shard-lines", type=positive_int, default=None,
                        help="shuffle each part and write it in files of at most this many "
                             "lines (OUT-PART-1.txt, ...); default: one file per part, "
                             "in WordNet's order")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed of --shard-lines")
    args = parser.parse_args(argv)
    try:
        texts = wordnet_texts(args.wordnet)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for part, lines in texts.items():
        if args.shard_lines is None:
            outputs = {f"{args.out}-{part}.txt": lines}
        else:
            outputs = {f"{args.out}-{part}-{number}.txt": shard for number, shard in
                       enumerate(shards(lines, args.shard_lines, args.seed), start=1)}
        for path, shard in outputs.items():
            write_corpus_file(path, shard)
    return 0


if __name__ == "__main__":
    sys.exit(main())
