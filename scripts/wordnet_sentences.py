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
"""

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.text.data import write_text_lines  # noqa: E402

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


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--wordnet", default=DEFAULT_DIR, help="WordNet's dict directory")
    parser.add_argument("--out", required=True, help="prefix of the two .txt files")
    args = parser.parse_args(argv)
    try:
        texts = wordnet_texts(args.wordnet)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for part, lines in texts.items():
        path = f"{args.out}-{part}.txt"
        write_text_lines(path + ".partial", lines)  # the format --transfer reads
        os.replace(path + ".partial", path)
        print(f"{path}: {len(lines)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
