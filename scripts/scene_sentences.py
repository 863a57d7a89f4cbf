"""Write caption-like sentences and their one-slot variants, from WordNet's nouns.

    apt-get install wordnet-base      # Princeton WordNet 3.0, /usr/share/wordnet
    python scripts/scene_sentences.py --out runs/scenes --count 12000 --dev 400 --shards 4

Why: half of a human-scored similarity benchmark such as STS-B is image and video
captions ("A woman is slicing a tomato.", "A man is playing a violin."), and the
embedding student has seen almost none: its corpus is reviews, news, questions,
WordNet's definitions and quotes. It follows its teacher at 0.45 on hand-written
caption pairs where all-MiniLM-L6-v2 does at 0.80 (`docs/results.md`). No caption
corpus is at hand offline, so this writes caption-shaped sentences; the teacher
says what each means, which is all distillation needs (the sentences need not be
true, only English).

A sentence is an agent, a verb and, for a verb that takes one, an object of the
kind the verb takes, sometimes with an adjective or a place:
"Two girls are peeling a mango in the kitchen." The verbs, agents, adjectives and
places are short lists written here (their grammar is fixed: "-ing" forms and
plurals spelled out); the objects are WordNet's: every common one-word noun under
the kind's root synset whose most used sense is that kind (so "bass" is not an
instrument), which brings the everyday nouns (tomato, cabbage, trumpet, canoe) the
student reads worst.

Each base is followed by up to `--variants` sentences that change one slot: the
object for another of its kind ("slicing a tomato" / "slicing a cabbage"), the
verb for another that takes it ("peeling a tomato"), the agent, the place, or the
whole action ("playing a violin"). Such pairs are what similarity benchmarks grade,
and a student that learned only whole sentences scores a changed noun as nearly
the same sentence. Why not `scripts/word_variants.py` on these bases: it guesses
each word's part of speech and breaks the grammar ("Three people are track by the
river"); here every slot is known. `--dev N` keeps N bases out of the files and
writes their pairs to OUT-dev.tsv for `benchmarks/embedder_latency.py --pairs`.
"""

import argparse
import collections
import dataclasses
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.errors import AlbertTfError  # noqa: E402
from apps.cli_common import positive_int  # noqa: E402
from scripts.word_variants import HYPONYMS, WordNet, write_pairs  # noqa: E402
from scripts.wordnet_sentences import (DEFAULT_DIR, wordnet_texts,  # noqa: E402
                                       write_corpus_shards)

# kind: (WordNet root: lemma, sense number) -- the nouns a verb of that kind takes.
KINDS = {
    "fruit": ("edible_fruit", 1), "vegetable": ("vegetable", 1), "dish": ("dish", 2),
    "instrument": ("musical_instrument", 1), "vehicle": ("vehicle", 1), "ball": ("ball", 1),
    "tool": ("tool", 1), "container": ("container", 1), "furniture": ("furniture", 1),
    "animal": ("animal", 1), "bird": ("bird", 1), "toy": ("toy", 1),
    "garment": ("garment", 1), "drink": ("beverage", 1), "text": ("publication", 1),
}
FOOD = ("fruit", "vegetable", "dish")
# "-ing" form: the kinds of object it takes.
TRANSITIVE = {
    "slicing": FOOD, "chopping": FOOD, "cutting": FOOD + ("garment",), "peeling": ("fruit", "vegetable"),
    "eating": FOOD, "cooking": ("vegetable", "dish"), "washing": FOOD + ("vehicle", "container", "animal"),
    "buying": FOOD + ("garment", "toy", "drink", "text"), "holding": tuple(KINDS),
    "playing": ("instrument",), "tuning": ("instrument",), "riding": ("vehicle", "animal"),
    "driving": ("vehicle",), "fixing": ("vehicle", "furniture", "toy", "tool"),
    "throwing": ("ball",), "catching": ("ball",), "kicking": ("ball",), "hitting": ("ball",),
    "using": ("tool",), "carrying": ("container", "furniture", "instrument", "animal", "toy"),
    "filling": ("container",), "opening": ("container",), "painting": ("furniture", "vehicle"),
    "moving": ("furniture",), "feeding": ("animal", "bird"), "petting": ("animal",),
    "brushing": ("animal",), "chasing": ("animal", "bird", "ball"), "watching": ("bird", "animal"),
    "wearing": ("garment",), "folding": ("garment",), "drinking": ("drink",),
    "pouring": ("drink",), "reading": ("text",), "selling": FOOD + ("toy", "text"),
}
INTRANSITIVE = ("running", "walking", "dancing", "swimming", "sleeping", "sitting", "jumping",
                "singing", "laughing", "crying", "standing", "climbing", "skating", "skiing",
                "surfing", "fishing", "talking", "smiling", "waiting", "resting", "cooking",
                "playing", "reading", "writing", "working", "eating", "lying down")
# (singular, plural) agents.
AGENTS = [("man", "men"), ("woman", "women"), ("boy", "boys"), ("girl", "girls"),
          ("child", "children"), ("person", "people"), ("baby", "babies"), ("dog", "dogs"),
          ("cat", "cats"), ("player", "players"), ("chef", "chefs"), ("student", "students"),
          ("musician", "musicians"), ("teenager", "teenagers"), ("kitten", "kittens"),
          ("puppy", "puppies"), ("monkey", "monkeys"), ("soldier", "soldiers"),
          ("worker", "workers"), ("couple", "couples"), ("doctor", "doctors"),
          ("farmer", "farmers"), ("dancer", "dancers"), ("athlete", "athletes")]
AGENT_ADJECTIVES = ("young", "old", "little", "tall", "small", "happy", "tired", "smiling")
OBJECT_ADJECTIVES = ("red", "large", "small", "green", "old", "new", "wooden", "white", "black")
PLACES = ("in the kitchen", "on the beach", "in a park", "on the street", "in the snow",
          "on a stage", "in the water", "in a field", "on the grass", "at the table",
          "in the rain", "in a room", "on a bench", "in the garden", "on the road",
          "in the forest", "by the river", "on a boat", "in front of a building", "in a pool",
          "on the sidewalk", "in the yard", "on a couch", "in the ocean", "on the ice",
          "in a restaurant", "on a bridge", "at the market", "in a classroom", "on a hill")
SLOTS = ("agent", "verb", "object", "action", "place")  # what a variant changes
NUMBERS = ("Two", "Three", "Some", "The", "Several")
# A noun WordNet's own glosses and examples use this often is an everyday one
# ("tomato" 31 times, "lobscouse" once). Why not WordNet's sense-tagged counts, as
# word_variants.py uses: they come from a small corpus and miss most concrete
# nouns (onion, banana and kayak have none).
MIN_COUNT = 5


def word_counts(directory=DEFAULT_DIR):
    """How often each lower-case word occurs in WordNet's glosses and examples."""
    texts = wordnet_texts(directory)
    return collections.Counter(word for part in texts.values() for text in part
                               for word in re.findall(r"[a-z]+", text.lower()))


def kind_nouns(wordnet, lemma, sense, counts, min_count=MIN_COUNT):
    """Everyday one-word nouns under WordNet's `lemma` (its `sense`-th sense) whose
    most used sense lies under it (so "bass" is a fish, not an instrument), sorted."""
    root = wordnet.senses[("n", lemma)][sense - 1]
    seen, stack = {root}, [root]
    while stack:
        for symbol, offset, part, _ in wordnet.synset("n", stack.pop())[1]:
            if symbol in HYPONYMS and part == "n" and offset not in seen:
                seen.add(offset)
                stack.append(offset)
    nouns = set()
    for offset in seen:
        for word in wordnet.synset("n", offset)[0]:
            senses = wordnet.senses.get(("n", word))
            if ("_" not in word and "-" not in word and senses and senses[0] in seen
                    and counts[word] >= min_count):
                nouns.add(word)
    return sorted(nouns)


def article(word):
    return "an" if word[0] in "aeiou" else "a"


@dataclasses.dataclass(frozen=True)
class Scene:
    """The slots of one sentence; `text` writes it. `number` is "" for one agent
    (then `determiner` is "a" or "the") or a word like "Two"; `kind` is "" for a verb
    without an object."""

    number: str
    determiner: str
    adjective: str
    agent: tuple
    verb: str
    kind: str = ""
    object_adjective: str = ""
    object_determiner: str = "a"
    noun: str = ""
    place: str = ""

    def text(self):
        adjective = f"{self.adjective} " if self.adjective else ""
        if self.number:
            subject, be = f"{self.number} {adjective}{self.agent[1]}", "are"
        else:
            head = adjective or self.agent[0]
            determiner = article(head) if self.determiner == "a" else self.determiner
            subject, be = f"{determiner.capitalize()} {adjective}{self.agent[0]}", "is"
        words = [subject, be, self.verb]
        if self.kind:
            modifier = f"{self.object_adjective} " if self.object_adjective else ""
            head = self.object_adjective or self.noun
            determiner = (article(head) if self.object_determiner == "a"
                          else self.object_determiner)
            words.append(f"{determiner} {modifier}{self.noun}")
        if self.place:
            words.append(self.place)
        return " ".join(words) + "."


def draw_scene(nouns, rng):
    """One scene: an agent (sometimes several), a verb, an object of a kind the verb
    takes (or none), sometimes a place."""
    plural = rng.random() < 0.25
    slots = dict(number=rng.choice(NUMBERS) if plural else "",
                 determiner=rng.choice(("a", "the")), agent=rng.choice(AGENTS),
                 adjective=rng.choice(AGENT_ADJECTIVES) if rng.random() < 0.2 else "")
    kinds = [kind for kind in rng.choice(list(TRANSITIVE.values())) if nouns.get(kind)]
    if rng.random() < 0.7 and kinds:
        kind = rng.choice(kinds)
        return Scene(**slots, kind=kind, verb=rng.choice(verbs_taking(kind)),
                     noun=rng.choice(nouns[kind]),
                     object_adjective=(rng.choice(OBJECT_ADJECTIVES) if rng.random() < 0.15
                                       else ""),
                     object_determiner=rng.choice(("a", "the")),
                     place=rng.choice(PLACES) if rng.random() < 0.3 else "")
    return Scene(**slots, verb=rng.choice(INTRANSITIVE),
                 place=rng.choice(PLACES) if rng.random() < 0.8 else "")


def verbs_taking(kind):
    return [verb for verb, takes in TRANSITIVE.items() if kind in takes]


def other(options, current, rng):
    """A draw from `options` other than `current`, or None when there is none."""
    options = [option for option in options if option != current]
    return rng.choice(options) if options else None


def scene_variants(scene, nouns, rng, limit=3):
    """{slot: scene} for at most `limit` slots, each changing one slot of `scene`:
    its object for another of the same kind (a tomato, an onion), its verb for
    another that takes the object (slicing, peeling), its agent, its place, or the
    whole action for one on another kind of object (slicing a tomato, playing a
    violin)."""

    def swap(field, options):
        value = other(options, getattr(scene, field), rng)
        return value and dataclasses.replace(scene, **{field: value})

    changes = {"agent": swap("agent", AGENTS), "place": scene.place and swap("place", PLACES)}
    if scene.kind:
        changes["object"] = swap("noun", nouns[scene.kind])
        changes["verb"] = swap("verb", verbs_taking(scene.kind))
        kind = other([k for k in nouns if nouns[k]], scene.kind, rng)
        changes["action"] = kind and dataclasses.replace(
            scene, kind=kind, verb=rng.choice(verbs_taking(kind)), noun=rng.choice(nouns[kind]),
            object_adjective="")
    else:
        changes["verb"] = swap("verb", INTRANSITIVE)
    slots = sorted(slot for slot, varied in changes.items()
                   if varied and varied.text() != scene.text())
    rng.shuffle(slots)
    return {slot: changes[slot] for slot in slots[:limit]}


def object_nouns(wordnet, counts, kinds=None, min_count=MIN_COUNT):
    """{kind: nouns} for `kinds` (a subset of `KINDS`, all by default) whose root
    WordNet has; raises when none has a noun."""
    nouns = {kind: kind_nouns(wordnet, *root, counts, min_count)
             for kind, root in (kinds or KINDS).items() if ("n", root[0]) in wordnet.senses}
    if not any(nouns.values()):
        raise AlbertTfError("WordNet has none of the object kinds' nouns")
    return nouns


def scenes(nouns, count, rng):
    """`count` scenes with distinct texts, drawn from `rng`."""
    out = {}
    for _ in range(count * 20):
        if len(out) >= count:
            break
        drawn = draw_scene(nouns, rng)
        out.setdefault(drawn.text(), drawn)
    return list(out.values())


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="prefix of the files written")
    parser.add_argument("--count", type=positive_int, default=12000, help="base sentences")
    parser.add_argument("--variants", type=int, default=3,
                        help="variants after each base, at most, each changing one slot "
                             f"({', '.join(SLOTS)}); 0: bases only")
    parser.add_argument("--dev", type=int, default=0,
                        help="bases kept apart, their (slot, base, variant) pairs written to "
                             "OUT-dev.tsv (the pairs format benchmarks/embedder_latency.py "
                             "--pairs reads)")
    parser.add_argument("--shards", type=positive_int, default=1,
                        help="files of equal length: OUT-1.txt, ... (1: OUT.txt)")
    parser.add_argument("--wordnet", default=DEFAULT_DIR, help="WordNet's dict directory")
    parser.add_argument("--min-count", type=int, default=MIN_COUNT,
                        help="an object noun occurs at least this often in WordNet's glosses "
                             "and examples")
    parser.add_argument("--seed", type=int, default=0, help="draw seed")
    args = parser.parse_args(argv)
    for name in ("variants", "dev", "min_count"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    try:
        nouns = object_nouns(WordNet(args.wordnet), word_counts(args.wordnet),
                             min_count=args.min_count)
    except (FileNotFoundError, AlbertTfError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    drawn = scenes(nouns, args.count + args.dev, rng)
    dev, bases = drawn[:args.dev], drawn[args.dev:]
    lines = [text for scene in bases for text in dict.fromkeys(
        [scene.text()] + [v.text() for v in scene_variants(scene, nouns, rng,
                                                           args.variants).values()])]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
    if args.dev:
        write_pairs(f"{args.out}-dev.tsv",
                    [(slot, scene.text(), varied.text()) for scene in dev
                     for slot, varied in scene_variants(scene, nouns, rng,
                                                        max(args.variants, 1)).items()])
    write_corpus_shards(args.out, lines, args.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
