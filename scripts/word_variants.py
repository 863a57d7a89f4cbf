"""Write one-word variants of short sentences, from WordNet, as corpus files.

    apt-get install wordnet-base      # Princeton WordNet 3.0, /usr/share/wordnet
    python scripts/word_variants.py runs/bases.txt --out runs/variants \\
        --exclude runs/heldout.txt --shards 4 --dev 600

Why: a student distilled on plain sentences learns what a sentence is about but
not what one word does to it. The bundled embedder scored "A woman is slicing a
tomato." / "... an onion." at 0.97 where its teacher says 0.66, and followed its
teacher at Spearman 0.58 on one-word changes of held-out sentences, where
all-MiniLM-L6-v2 gets 0.86 (`docs/results.md`). Similarity benchmarks are full of
such pairs. Each variant here changes one content word of its base sentence:

- synonym: another word of the word's most frequent sense (task -> project),
- sibling: another kind of the same thing, a hyponym of its hypernym (violin -> cello),
- antonym: WordNet's opposite, where it has one (lesser-known -> greater-known),
- random: a common word of the same part of speech (a purse for a constellation;
  now and then the word itself: that variant is its base again, a duplicate the
  corpus drops).

`--paraphrases N` adds up to N paraphrases of each base: several content words
at once in other words (synonyms, many-word ones too, or a noun's more general
word: "Scientists discover new species of frog" -> "Scientist find new
species of amphibian"), the way headlines and questions restate one another.
Measured once (stage 13, `docs/history.md`, 2026-12-08): 21,224 of them added for
one epoch moved no measure beyond noise, held-out paraphrase pairs included.

The teacher says how far each moves the meaning; the student learns to follow.
Each base is written with its variants after it. `--dev N` keeps N bases apart and
writes their (kind, base, variant) pairs to OUT-dev.tsv instead, in the pairs format
`benchmarks/embedder_latency.py --pairs` reads; `--exclude` leaves out the
bases a distillation measures on (its held-out file).

The part of speech of a word is guessed without a tagger: the one under which
WordNet's sense-tagged corpus uses that word most (`cat` a noun, `fell` a verb),
a plural noun found by its singular. A wrong guess makes an odd variant, which
the teacher still scores; nothing here needs grammar to hold.
"""

import argparse
import collections
import csv
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.errors import AlbertTfError  # noqa: E402
from albert_tf.text.data import iter_text_lines  # noqa: E402
from apps.cli_common import positive_int  # noqa: E402
from scripts.wordnet_sentences import DEFAULT_DIR, write_corpus_shards  # noqa: E402

# WordNet's file names by part of speech; adjective satellites ("s") live in data.adj.
PARTS = {"n": "noun", "v": "verb", "a": "adj"}
KINDS = ("synonym", "sibling", "antonym", "random")
HYPERNYMS, HYPONYMS, ANTONYM = ("@", "@i"), ("~", "~i"), "!"
# A word with at least this many sense-tagged uses is common enough to be a random
# replacement (WordNet 3.0: about 11,000 nouns, verbs and adjectives).
COMMON_USES = 3
# Function words and adverb-like words that WordNet also lists as nouns or verbs
# ("well" the water well, "off" the verb): changing them says nothing about content.
STOPWORDS = frozenset("""
the a an and or but of to in on at by for with from is are was were be been this that
these those it its he she they we you i his her their our my your not no as so than then
there here what which who whom whose when where why how do does did have has had can
could will would should may might must shall one two three more most some any all each
every very too also just only well off out up down over back away right last never always
now still even much many such own same other into about after before
""".split())
MIN_WORDS, MAX_WORDS = 4, 16  # bases of this many words: sentences, not passages
# A sentence as words and what lies between them, so that "".join() gives it back.
WORDS_AND_GAPS = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
PARAPHRASE = "paraphrase"  # the kind of a --paraphrases line in the dev pairs
# A paraphrase replaces each replaceable content word with these odds, and at least
# this many words: one changed word is a variant's job.
PARAPHRASE_ODDS, MIN_CHANGES = 0.75, 2


class WordNet:
    """The few relations a variant needs, read from WordNet's data.* and index.* files."""

    def __init__(self, directory=DEFAULT_DIR):
        self.synsets = {}  # (part, offset) -> (lemmas, pointers)
        self.senses = {}  # (part, lemma) -> offsets, most frequent sense first
        self.uses = {}  # (part, lemma) -> sense-tagged uses
        self.common = collections.defaultdict(list)  # part -> common one-word lemmas
        for part, name in PARTS.items():
            data, index = (os.path.join(directory, f"{kind}.{name}") for kind in ("data", "index"))
            if not (os.path.isfile(data) and os.path.isfile(index)):
                raise FileNotFoundError(f"{directory}: no WordNet data.{name} / index.{name} "
                                        "(apt-get install wordnet-base)")
            self._read_data(part, data)
            self._read_index(part, index)

    def _read_data(self, part, path):
        # latin-1: WordNet 3.0's files are 8-bit. A synset line: offset, lexicographer
        # file, type, word count (hex), (word, lex id) pairs, pointer count, pointers of
        # (symbol, offset, part, source/target in hex), then "| gloss".
        with open(path, encoding="latin-1") as handle:
            for line in handle:
                if line.startswith("  "):  # the licence header
                    continue
                fields = line.split("|", 1)[0].split()
                count = int(fields[3], 16)
                lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower()
                          for i in range(count)]
                at = 4 + 2 * count
                pointers = [tuple(fields[at + 1 + 4 * j:at + 5 + 4 * j])
                            for j in range(int(fields[at]))]
                self.synsets[(part, fields[0])] = (lemmas, pointers)

    def _read_index(self, part, path):
        # An index line: lemma, part, sense count, pointer count, the pointer symbols,
        # sense count again, sense-tagged uses, then the synset offsets by frequency.
        with open(path, encoding="latin-1") as handle:
            for line in handle:
                if line.startswith("  "):
                    continue
                fields = line.split()
                lemma, symbols = fields[0], int(fields[3])
                uses = int(fields[5 + symbols])
                self.senses[(part, lemma)] = fields[6 + symbols:]
                self.uses[(part, lemma)] = uses
                if uses >= COMMON_USES and "_" not in lemma:
                    self.common[part].append(lemma)

    def synset(self, part, offset):
        return self.synsets[("a" if part in "as" else part, offset)]

    def word_sense(self, word):
        """`(part, lemma, suffix)` of a lower-case word under its most used part of
        speech (`suffix` "s" for a plural noun found by its singular), or None."""
        found = [(self.uses[(part, lemma)], part, lemma, suffix) for part in PARTS
                 for lemma, suffix in [(word, "")] + ([(word[:-1], "s")] if part == "n"
                                                      and word.endswith("s") else [])
                 if (part, lemma) in self.senses]
        return max(found)[1:] if found else None

    def replacements(self, part, lemma, rng):
        """{kind: one-word lemma} for the kinds WordNet has for `lemma`'s first sense,
        one draw from each kind's candidates (in WordNet's order: the draws, and so
        the files, depend on nothing else)."""
        lemmas, pointers = self.synset(part, self.senses[(part, lemma)][0])
        one_word = lambda words: [w for w in words if "_" not in w]  # noqa: E731
        candidates = {
            "synonym": one_word(w for w in lemmas if w != lemma),
            "sibling": one_word(self.synset(q[2], q[1])[0][0] for p in pointers
                                if p[0] in HYPERNYMS for q in self.synset(p[2], p[1])[1]
                                if q[0] in HYPONYMS and self.synset(q[2], q[1])[0][0] != lemma),
            # An antonym pointer's last field names source and target words (hex).
            "antonym": one_word(self.synset(p[2], p[1])[0][int(p[3][2:], 16) - 1]
                                for p in pointers if p[0] == ANTONYM),
            "random": self.common[part]}
        return {kind: rng.choice(words) for kind, words in candidates.items() if words}

    def other_words(self, part, lemma):
        """Lemmas that say `lemma`'s most used sense in other words: its synonyms
        (many-word ones too, "_" between words) and, for a noun, the first lemma of
        each more general synset; WordNet's order, `lemma` itself left out."""
        lemmas, pointers = self.synset(part, self.senses[(part, lemma)][0])
        general = [self.synset(p[2], p[1])[0][0] for p in pointers
                   if part == "n" and p[0] in HYPERNYMS]
        return list(dict.fromkeys(w for w in lemmas + general if w != lemma))


def content_slots(tokens, wordnet):
    """`(index, part, lemma, suffix)` of each content word among `tokens` that
    WordNet knows, in sentence order (stopwords, short words and capitalized words
    inside the sentence, most likely names, are left alone)."""
    slots = []
    for i, token in enumerate(tokens):
        word = token.lower()
        if (not token.isalpha() or len(token) < 3 or word in STOPWORDS
                or (token[0].isupper() and i > 0)):  # a name, most likely
            continue
        sense = wordnet.word_sense(word)
        if sense:
            slots.append((i, *sense))
    return slots


def in_place_of(token, lemma, suffix):
    """WordNet's `lemma` written where `token` stood: words apart, the plural "s" on
    the last word (interest_rate -> "interest rates"), a capital kept."""
    word = lemma.replace("_", " ") + suffix
    return word.capitalize() if token[0].isupper() else word


def variants(sentence, wordnet, rng, limit=3):
    """{kind: variant} for at most `limit` kinds, each changing one content word
    of `sentence` (its content words in a random order, each offering its kinds)."""
    tokens = WORDS_AND_GAPS.findall(sentence)
    slots = content_slots(tokens, wordnet)
    rng.shuffle(slots)
    out = {}
    for i, part, lemma, suffix in slots:
        for kind, word in wordnet.replacements(part, lemma, rng).items():
            if kind in out or len(out) >= limit:
                continue
            out[kind] = "".join(tokens[:i] + [in_place_of(tokens[i], word, suffix)]
                                + tokens[i + 1:])
    return out


def paraphrase(sentence, wordnet, rng, odds=PARAPHRASE_ODDS):
    """`sentence` with several content words said in other words, or None.

    Each content word that WordNet has another word for (a synonym of its most
    used sense, one- or many-word, or for a noun its more general word: frog ->
    amphibian) is replaced with odds `odds`; a paraphrase changes at least
    MIN_CHANGES words, else it is only a one-word variant and None is returned.
    Headlines and questions say one thing in other words far more often than by
    one word ("Earthquake shakes coastal city" / "Strong tremor felt along the
    coast"): a student that saw only one-word changes scores such pairs far below
    its teacher."""
    tokens = WORDS_AND_GAPS.findall(sentence)
    changed = 0
    for i, part, lemma, suffix in content_slots(tokens, wordnet):
        words = wordnet.other_words(part, lemma)
        if words and rng.random() < odds:
            tokens[i] = in_place_of(tokens[i], rng.choice(words), suffix)
            changed += 1
    return "".join(tokens) if changed >= MIN_CHANGES else None


def paraphrases(sentence, wordnet, rng, count):
    """Up to `count` distinct paraphrases of `sentence` (each drawn once)."""
    drawn = (paraphrase(sentence, wordnet, rng) for _ in range(count))
    return list(dict.fromkeys(text for text in drawn if text and text != sentence))


def write_pairs(path, rows):
    """(kind, sentence1, sentence2) rows as a TSV with a header row (quoted where a
    sentence holds a quote: the reader is CSV-style)."""
    with open(path + ".partial", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("kind", "sentence1", "sentence2"))
        writer.writerows(rows)
    os.replace(path + ".partial", path)
    print(f"{path}: {len(rows)} pairs")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("bases", nargs="+", help="files of base sentences (any --transfer "
                                                 "format); only bases of "
                                                 f"{MIN_WORDS}-{MAX_WORDS} words are used")
    parser.add_argument("--out", required=True, help="prefix of the files written")
    parser.add_argument("--wordnet", default=DEFAULT_DIR, help="WordNet's dict directory")
    parser.add_argument("--exclude", help="a file of sentences never used as bases "
                                          "(a distillation's held-out file)")
    parser.add_argument("--dev", type=int, default=0,
                        help="bases kept apart, their pairs written to OUT-dev.tsv")
    parser.add_argument("--per-base", type=int, default=3,
                        help="variants of each base, at most (one of each kind: "
                             f"{', '.join(KINDS)})")
    parser.add_argument("--paraphrases", type=int, default=0,
                        help="paraphrases of each base, at most, written after its "
                             f"variants (at least {MIN_CHANGES} content words in other "
                             "words each); 0: none, the files as without the option")
    parser.add_argument("--shards", type=positive_int, default=1,
                        help="files to write, of equal length: OUT-1.txt, OUT-2.txt, ... "
                             "(so that --per-file, which caps each file, takes them all); "
                             "1: OUT.txt")
    parser.add_argument("--seed", type=int, default=0, help="shuffle and draw seed")
    args = parser.parse_args(argv)
    for name in ("dev", "per_base", "paraphrases"):
        if getattr(args, name) < 0:
            flag = name.replace("_", "-")
            parser.error(f"--{flag} must be >= 0, got {getattr(args, name)}")
    try:
        wordnet = WordNet(args.wordnet)
        excluded = set(iter_text_lines(args.exclude)) if args.exclude else set()
        bases = [text for path in args.bases for text in iter_text_lines(path)]
    except (FileNotFoundError, AlbertTfError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    bases = [text for text in dict.fromkeys(bases) if text not in excluded
             and text.isascii() and MIN_WORDS <= len(text.split()) <= MAX_WORDS]
    rng = random.Random(args.seed)
    rng.shuffle(bases)
    dev_bases, bases = bases[:args.dev], bases[args.dev:]

    def drawn(base):
        # Variants first, then paraphrases: with --paraphrases 0 the draws, and so
        # the files, are the very ones written before the option existed.
        found = list(variants(base, wordnet, rng, args.per_base).items())
        return found + [(PARAPHRASE, text)
                        for text in paraphrases(base, wordnet, rng, args.paraphrases)]

    groups = [[base, *(text for _, text in found)] for base in bases if (found := drawn(base))]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
    if args.dev:
        write_pairs(f"{args.out}-dev.tsv", [(kind, base, text) for base in dev_bases
                                            for kind, text in drawn(base)])
    write_corpus_shards(args.out, [line for group in groups for line in group], args.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
