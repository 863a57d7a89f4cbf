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

`--wordings N` adds N rewordings after each base: the same scene in other words
("A man is playing a guitar." / "A guy plays the guitar." / "A guitar is being
played by a man."): a synonym for the agent, the verb or the place, the present
simple, the passive or "There is ...", another determiner. Similarity benchmarks
grade such pairs near the top and a student that only saw slots change reads
every changed word as a changed meaning. The synonyms appear only in rewordings,
so a slot variant's change is always one of meaning. With `--wordings 0` the
files are those of the same command without the option, byte for byte.
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
WORDING = "wording"  # the --dev pairs' kind of a rewording: same scene, other words
# Words that mean the same, only ever written by `reworded`.
AGENT_SYNONYMS = {"man": ("guy", "guys"), "woman": ("lady", "ladies"), "child": ("kid", "kids"),
                  "teenager": ("teen", "teens"), "chef": ("cook", "cooks"),
                  "baby": ("infant", "infants"), "doctor": ("physician", "physicians"),
                  "student": ("pupil", "pupils"), "person": ("individual", "individuals")}
VERB_SYNONYMS = {"fixing": "repairing", "buying": "purchasing", "petting": "stroking",
                 "talking": "speaking", "chopping": "cutting up", "resting": "relaxing",
                 "jumping": "leaping", "crying": "weeping", "smiling": "grinning",
                 "walking": "strolling", "throwing": "tossing", "drinking": "sipping",
                 "sleeping": "napping"}
PLACE_SYNONYMS = {"on the beach": "at the beach", "in a park": "at a park",
                  "on the street": "in the street", "at the table": "at a table",
                  "on the grass": "on the lawn", "in the ocean": "in the sea",
                  "on a couch": "on a sofa", "by the river": "beside the river",
                  "in the forest": "in the woods", "in a pool": "in a swimming pool",
                  "on the sidewalk": "on the pavement", "in a room": "inside a room"}
# "-ing" form: (base form, past participle; "" for a verb without an object). Spelled
# out: English doubles, drops and changes letters ("cutting", "slicing", "ridden")
# past what a rule on the "-ing" form gets right.
VERB_FORMS = {
    "slicing": ("slice", "sliced"), "chopping": ("chop", "chopped"), "cutting": ("cut", "cut"),
    "peeling": ("peel", "peeled"), "eating": ("eat", "eaten"), "cooking": ("cook", "cooked"),
    "washing": ("wash", "washed"), "buying": ("buy", "bought"), "holding": ("hold", "held"),
    "playing": ("play", "played"), "tuning": ("tune", "tuned"), "riding": ("ride", "ridden"),
    "driving": ("drive", "driven"), "fixing": ("fix", "fixed"), "throwing": ("throw", "thrown"),
    "catching": ("catch", "caught"), "kicking": ("kick", "kicked"), "hitting": ("hit", "hit"),
    "using": ("use", "used"), "carrying": ("carry", "carried"), "filling": ("fill", "filled"),
    "opening": ("open", "opened"), "painting": ("paint", "painted"), "moving": ("move", "moved"),
    "feeding": ("feed", "fed"), "petting": ("pet", "petted"), "brushing": ("brush", "brushed"),
    "chasing": ("chase", "chased"), "watching": ("watch", "watched"), "wearing": ("wear", "worn"),
    "folding": ("fold", "folded"), "drinking": ("drink", "drunk"), "pouring": ("pour", "poured"),
    "reading": ("read", "read"), "selling": ("sell", "sold"), "repairing": ("repair", "repaired"),
    "purchasing": ("purchase", "purchased"), "stroking": ("stroke", "stroked"),
    "cutting up": ("cut up", "cut up"), "tossing": ("toss", "tossed"), "sipping": ("sip", "sipped"),
    "running": ("run", ""), "walking": ("walk", ""), "dancing": ("dance", ""), "swimming": ("swim", ""),
    "sleeping": ("sleep", ""), "sitting": ("sit", ""), "jumping": ("jump", ""), "singing": ("sing", ""),
    "laughing": ("laugh", ""), "crying": ("cry", ""), "standing": ("stand", ""),
    "climbing": ("climb", ""), "skating": ("skate", ""), "skiing": ("ski", ""), "surfing": ("surf", ""),
    "fishing": ("fish", ""), "talking": ("talk", ""), "smiling": ("smile", ""), "waiting": ("wait", ""),
    "resting": ("rest", ""), "writing": ("write", ""), "working": ("work", ""),
    "lying down": ("lie down", ""), "speaking": ("speak", ""), "relaxing": ("relax", ""),
    "leaping": ("leap", ""), "weeping": ("weep", ""), "grinning": ("grin", ""),
    "strolling": ("stroll", ""), "napping": ("nap", ""),
}
# How a scene is said: "is slicing", "slices", "is being sliced by", "There is ... slicing".
FORMS = ("progressive", "simple", "passive", "there")
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
    form: str = "progressive"

    def subject(self):
        """The agent's phrase, lower case ("a young man", "two men")."""
        adjective = f"{self.adjective} " if self.adjective else ""
        if self.number:
            return f"{self.number.lower()} {adjective}{self.agent[1]}"
        head = adjective or self.agent[0]
        determiner = article(head) if self.determiner == "a" else self.determiner
        return f"{determiner} {adjective}{self.agent[0]}"

    def object(self):
        """The object's phrase ("a tomato", "the red ball"), "" without one."""
        if not self.kind:
            return ""
        modifier = f"{self.object_adjective} " if self.object_adjective else ""
        head = self.object_adjective or self.noun
        determiner = article(head) if self.object_determiner == "a" else self.object_determiner
        return f"{determiner} {modifier}{self.noun}"

    def indefinite(self):
        """Whether the agent is introduced ("a man", "two men"): "There is" needs it."""
        return self.number not in ("", "The") or (not self.number and self.determiner == "a")

    def text(self):
        be = "are" if self.number else "is"
        base, participle = VERB_FORMS[self.verb] if self.form != "progressive" else ("", "")
        if self.form == "simple":
            verb = base if self.number else third_person(base)
            words = [self.subject(), verb, self.object()]
        elif self.form == "passive":
            words = [self.object(), "is being", participle, "by", self.subject()]
        elif self.form == "there":
            words = ["there", be, self.subject(), self.verb, self.object()]
        else:
            words = [self.subject(), be, self.verb, self.object()]
        text = " ".join(word for word in words + [self.place] if word) + "."
        return text[0].upper() + text[1:]


def third_person(base):
    """"slice" -> "slices", "watch" -> "watches", "carry" -> "carries", "lie down" ->
    "lies down": the verb's first word takes the ending."""
    verb, _, rest = base.partition(" ")
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        verb += "es"
    elif verb.endswith("y") and verb[-2] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}" if rest else verb


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


def reworded(scene, rng):
    """`scene` in other words, the same scene: each rewording that applies (a synonym
    for the agent, the verb or the place, another form, another determiner) is
    taken with even odds, at least one; None when none applies."""
    changes = {}
    if scene.agent[0] in AGENT_SYNONYMS:
        changes["agent"] = AGENT_SYNONYMS[scene.agent[0]]
    if scene.verb in VERB_SYNONYMS:
        changes["verb"] = VERB_SYNONYMS[scene.verb]
    if scene.place in PLACE_SYNONYMS:
        changes["place"] = PLACE_SYNONYMS[scene.place]
    forms = [form for form in FORMS if form != scene.form
             and (form != "passive" or scene.kind) and (form != "there" or scene.indefinite())]
    if forms:
        changes["form"] = rng.choice(forms)
    if scene.kind:
        changes["object_determiner"] = "the" if scene.object_determiner == "a" else "a"
    if not changes:
        return None
    fields = sorted(changes)
    taken = [field for field in fields if rng.random() < 0.5] or [rng.choice(fields)]
    return dataclasses.replace(scene, **{field: changes[field] for field in taken})


def rewordings(scene, rng, count):
    """Up to `count` distinct rewordings of `scene`, none with its text."""
    return distinct(lambda: reworded(scene, rng), count, count * 4, skip={scene.text()})


def distinct(draw, count, tries, skip=()):
    """Up to `count` of `draw()`'s scenes with distinct texts, none in `skip`, from
    at most `tries` draws; a None from `draw` ends it."""
    out = {}
    for _ in range(tries):
        if len(out) >= count:
            break
        drawn = draw()
        if drawn is None:
            break
        text = drawn.text()
        if text not in skip:
            out.setdefault(text, drawn)
    return list(out.values())


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
    return distinct(lambda: draw_scene(nouns, rng), count, count * 20)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="prefix of the files written")
    parser.add_argument("--count", type=positive_int, default=12000, help="base sentences")
    parser.add_argument("--variants", type=int, default=3,
                        help="variants after each base, at most, each changing one slot "
                             f"({', '.join(SLOTS)}); 0: bases only")
    parser.add_argument("--wordings", type=int, default=0,
                        help="rewordings after each base, at most: the same scene in other "
                             "words (synonyms, present simple, passive, 'There is', "
                             "determiners)")
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
    for name in ("variants", "wordings", "dev", "min_count"):
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
    def versions(scene, variants):
        """(kind, scene) for the scene's slot variants, then its rewordings."""
        slots = list(scene_variants(scene, nouns, rng, variants).items())
        words = rewordings(scene, rng, args.wordings) if args.wordings else []
        return slots + [(WORDING, varied) for varied in words]

    lines = [text for scene in bases for text in dict.fromkeys(
        [scene.text()] + [v.text() for _, v in versions(scene, args.variants)])]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
    if args.dev:
        write_pairs(f"{args.out}-dev.tsv",
                    [(kind, scene.text(), varied.text()) for scene in dev
                     for kind, varied in versions(scene, max(args.variants, 1))])
    write_corpus_shards(args.out, lines, args.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
