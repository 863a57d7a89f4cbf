"""The Gradio demo: an exported classifier on the TF-free runtime.

    albert-tf demo                 # the bundled SST-2 sentiment model
    albert-tf demo runs/my-export  # any `albert-tf export` directory

Tabs: classify one text (probabilities, tokens, latency, word attributions),
a batch file, recipes side by side, text similarity and search (on the
bundled sentence embedder; without one, similarity of the classifier's own
features). Safe by default: binds 127.0.0.1, no share link,
bounded text and file sizes, a queue with a concurrency limit, no file paths
from users, and user text only ever rendered as text (never as HTML).
"""

import atexit
import collections
import collections.abc
import csv
import logging
import os
import shutil
import socket
import tempfile
import threading
import time

from albert_tf.prediction import answer_or_refuse
from albert_tf.text.data import TEXT_COLUMN_CANDIDATES
from albert_tf.errors import AlbertTfError
from albert_tf.artifacts.manifest import EXPORT_FORMAT, check_kind, read_manifest
from albert_tf.contract import ADAPTIVE_FILES, MANIFEST_FILE
from albert_tf.native_stderr import RUNTIME_NOISE, native_stderr_filtered
from albert_tf.runtime import Classifier, available_recipes
from albert_tf.runtime.explain import occlusion
from albert_tf.prediction import UNREADABLE, MultiLabelPrediction
from albert_tf.runtime.classifier import LONG_TEXT_MODES
from albert_tf.similarity import UNREADABLE_MESSAGE

LOG = logging.getLogger("albert_tf.demo")
NO_EMBEDDER = "none"  # `--embedder none`: no Search tab, the classifier's similarity
# The Classify tab's early-exit choices (shown for an export with adaptive files).
EXIT_OFF = "off (whole model)"
EXIT_CHOICES = (EXIT_OFF, "none", "patience:1", "patience:2", "confidence:0.9",
                "confidence:0.95")
MAX_TEXT_CHARS = 5000  # per text box; the model reads ~max_length*32 chars anyway
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILE_ROWS = 5000
FILE_TYPES = (".csv", ".tsv", ".txt", ".jsonl")
# Prediction CSVs kept for download: the oldest is deleted beyond this many, and
# Gradio's copies of them after CACHE_SECONDS. A 300 s load run left 452 files
# in /tmp and 823 in Gradio's cache before either limit existed.
MAX_KEPT_DOWNLOADS = 64
CACHE_SECONDS = 600
# Texts the bundled model answers right (tests/test_demo.py checks each with its
# label); a bundle's metadata may carry its own ("examples").
EXAMPLES = ["A gripping, funny and beautifully acted film.",
            "The plot is thin and the ending drags on forever.",
            "A quiet, moving portrait of a family.",
            "The acting is wooden and the jokes fall flat."]


# The Similarity tab's opening pair, and the Search tab's own short list.
SIMILARITY_EXAMPLE = ("a gripping, funny film", "an entertaining and witty movie")
SEARCH_QUERY = "the stock market fell"
SEARCH_TEXTS = ["Shares slid on Wall Street after the rate decision.",
                "A gripping, funny and beautifully acted film.",
                "The team won the championship in overtime.",
                "How do I reset my password?",
                "Oil prices rose as supply tightened.",
                "The plot is thin and the ending drags on forever."]


def resolve_embedder(embedder, num_threads=None):
    """The demo's sentence embedder: a runtime `Embedder` for a path or bundled
    name; the bundled one when `embedder` is None and it is installed; None for
    "none" (or when nothing is bundled)."""
    from albert_tf.bundled import BUNDLED_EMBEDDER
    from albert_tf.runtime import Embedder

    if embedder == NO_EMBEDDER:
        return None
    if embedder is None:
        if not os.path.isfile(os.path.join(BUNDLED_EMBEDDER, MANIFEST_FILE)):
            return None
    return Embedder.load(embedder, num_threads=num_threads)


def bundled_tiers(export_dir):
    """`{short name: directory}` of the bundled tiers when `export_dir` names one
    of them (None: the default), so the Compare tab runs them side by side;
    {} for a user's own export."""
    from albert_tf.bundled import BUNDLED_MODELS, resolve

    if resolve(export_dir) == export_dir:  # a path, not a bundled name
        return {}
    return {tier: path for tier, path in BUNDLED_MODELS.items()
            if os.path.isfile(os.path.join(path, MANIFEST_FILE))}


def abstention_reason(prediction):
    """Why a prediction has no label, in words for the page."""
    if prediction.abstained == UNREADABLE:
        return (f"the model cannot read this text ({prediction.unknown_share:.0%} of its "
                "pieces are unknown to it)")
    return f"no label is likely enough (best {prediction.score:.2f})"


def answer_of(prediction):
    """`(what the model answered, its best score)` for a table cell: the label, or a
    multi-label model's labels joined by "|" (the training files' separator)."""
    best = max(prediction.scores.values())
    if prediction.abstained:
        return f"no label: {prediction.abstained}", best
    if isinstance(prediction, MultiLabelPrediction):
        return "|".join(prediction.labels) or "(none)", best
    return prediction.label, best


class LazyClassifiers(collections.abc.Mapping):
    """recipe -> `Classifier`, each loaded on first use and then kept.

    Why lazy: the demo offers every recipe of an export, but most visitors only
    use the default. On a base-shape export the default (int8) costs +113 MB of
    RSS once called, and all four recipes +985 MB: XNNPACK packs the weights of
    ALBERT's one shared layer again for each of its 12 uses, so a 47 MB float32
    file takes ~380 MB (benchmarks/load_demo.py, docs/history.md). Listing the
    recipes loads nothing; the Compare tab loads them all, once. A lock keeps
    two first requests for one recipe from loading it twice.
    """

    def __init__(self, export_dir, recipes, num_threads=None):
        self._export_dir, self._recipes, self._num_threads = export_dir, list(recipes), num_threads
        self._loaded, self._lock = {}, threading.Lock()

    def __getitem__(self, recipe):
        if recipe not in self._recipes:
            raise KeyError(recipe)
        with self._lock:
            if recipe not in self._loaded:
                # Classifier.load verifies the file's sha256 against the manifest.
                self._loaded[recipe] = Classifier.load(self._export_dir, recipe=recipe,
                                                       num_threads=self._num_threads)
            return self._loaded[recipe]

    def __iter__(self):
        return iter(self._recipes)

    def __len__(self):
        return len(self._recipes)

    def loaded(self):
        """The recipes loaded so far."""
        return [r for r in self._recipes if r in self._loaded]

    def adaptive(self, recipe, rule):
        """The recipe's adaptive (early-exit) classifier under `rule`, loaded once."""
        if recipe not in self._recipes:
            raise KeyError(recipe)
        with self._lock:
            key = (recipe, rule)
            if key not in self._loaded:
                self._loaded[key] = Classifier.load(self._export_dir, recipe=recipe, exit=rule,
                                                    num_threads=self._num_threads)
            return self._loaded[key]


class DemoModels:
    """Every recipe of one export (the default loaded at start, the others on first
    use); the demo's logic, UI-free."""

    def __init__(self, export_dir, num_threads=None, embedder=None, tiers=None):
        manifest = read_manifest(export_dir)
        # A sentence embedder (runtime `Embedder`) for the Similarity and Search
        # tabs; None: the classifier's own features compare texts (what it
        # classifies, not meaning), and there is no Search tab.
        self.embedder = embedder
        # A model directory (the tour's `train` output) is the likely mistake: say so.
        check_kind(export_dir, manifest, EXPORT_FORMAT)
        recipes = available_recipes(manifest)
        if not recipes:
            raise AlbertTfError(f"{export_dir}: the export holds no .tflite file the runtime "
                                "serves (MediaPipe files only?); export it with a recipe")
        self.classifiers = LazyClassifiers(export_dir, recipes, num_threads)
        self.default = self.classifiers[next(iter(self.classifiers))]
        # Bundled tiers (`bundled_tiers`): the Compare tab runs each one's default
        # recipe beside this export's recipes, loaded on first compare. Rows then
        # say which tier they are: "sst2: int8", "sst2-large: dynamic_int8".
        self.tier = next((name for name, path in (tiers or {}).items()
                          if os.path.samefile(path, export_dir)), None)
        self.tiers = {name: LazyClassifiers(path, available_recipes(read_manifest(path))[:1],
                                            num_threads)
                      for name, path in (tiers or {}).items() if name != self.tier}
        # What the files of one export share: the default answers for all.
        self.multi_label = self.default.multi_label
        self.takes_pairs = self.default.takes_pairs
        self.pair_column = manifest.get("contract", {}).get("text_pair_column")
        # Recipes with an adaptive (early-exit) file: the Classify tab offers exit rules.
        self.adaptive_recipes = [f["recipe"] for f in
                                 (manifest.get(ADAPTIVE_FILES) or {}).values()]
        self.title = manifest.get("title") or os.path.basename(os.path.abspath(export_dir))
        # What the model is for, and texts it answers right (from its bundle's metadata).
        self.description = manifest.get("description")
        # The sentiment examples suit neither a pair model nor another task's model
        # with no examples of its own.
        self.examples = manifest.get("examples") or ([] if self.takes_pairs else EXAMPLES)
        self.original_labels = [str(x) for x in manifest.get("original_labels", [])]
        self.accuracy = self.default.bundle.accuracy  # the default file's own figure
        self.downloads = tempfile.mkdtemp(prefix="albert-tf-demo-")
        self._kept, self._kept_lock = collections.deque(), threading.Lock()
        atexit.register(shutil.rmtree, self.downloads, ignore_errors=True)

    def file_accuracy(self, gold, predictions):
        """Accuracy against a file's labels, which may be the model's label names or the
        ids it was trained with (a bundled model renames 0/1 to negative/positive); a
        multi-label model's as "a|b" sets (the training files' form), exact match."""
        names = list(self.default.labels)
        renamed = dict(zip(self.original_labels, names))
        # Each row's labels as a set of the model's names (one label per row unless
        # the model is multi-label).
        gold = [{x.strip() for x in str(label).split("|") if x.strip()} if self.multi_label
                else {str(label).strip()} for label in gold]
        unknown = sorted({x for labels in gold for x in labels
                          if x not in names and x not in renamed})
        if unknown:
            return (f"accuracy not computed: the file's labels {', '.join(unknown[:5])} are "
                    f"neither the model's ({', '.join(names)}) nor its original ids "
                    f"({', '.join(self.original_labels)})")
        gold = [{renamed.get(x, x) if x not in names else x for x in labels} for labels in gold]
        if self.multi_label:
            correct = sum(labels == set(p.labels or ()) for labels, p in zip(gold, predictions))
            return f"exact-match accuracy against its labels {correct / len(gold):.4f}"
        correct = sum(labels == {p.label} for labels, p in zip(gold, predictions))
        return f"accuracy against its labels {correct / len(gold):.4f}"

    @property
    def has_embedding(self):
        # The kit's files of one export share one output contract: asking the
        # default answers for all, without loading the others.
        return self.default.has_embedding

    @staticmethod
    def check_text(text, purpose="to classify"):
        if text is None or not str(text).strip():
            raise AlbertTfError(f"type a text {purpose} (it is empty)")
        if len(text) > MAX_TEXT_CHARS:
            raise AlbertTfError(f"the text has {len(text):,} characters; the demo takes at "
                                f"most {MAX_TEXT_CHARS:,}")
        return text

    def check_pair(self, pair):
        """A pair model's second text (checked), or None for a single-text model."""
        if not self.takes_pairs:
            return None
        return self.check_text(pair, "as the second text (this model reads pairs)")

    def classify(self, text, recipe=None, long_texts=LONG_TEXT_MODES[0], pair=None,
                 exit_rule=None):
        """(label scores, tokens, details, attributions) for one text (and a pair
        model's second text); a text past the model's max length read as
        `long_texts` says (the runtime's modes). A multi-label model's scores are
        independent, and the details name every label at or above its threshold.
        `exit_rule` (a model with an adaptive file): early exit, and the details say
        after how many layer calls the answer was decided."""
        classifier = self.classifiers.get(recipe) or self.default
        if exit_rule and exit_rule != EXIT_OFF:
            if classifier.recipe not in self.adaptive_recipes:
                raise AlbertTfError(f"the {classifier.recipe} model has no adaptive file for "
                                    f"early exit (recipes with one: "
                                    f"{', '.join(self.adaptive_recipes) or 'none'})")
            try:
                classifier = self.classifiers.adaptive(classifier.recipe, exit_rule)
            except ValueError as error:
                raise AlbertTfError(str(error)) from None
        text, pair = self.check_text(text), self.check_pair(pair)
        if long_texts not in LONG_TEXT_MODES:
            raise AlbertTfError(f"long texts: choose one of {', '.join(LONG_TEXT_MODES)}")
        if pair is not None and long_texts != LONG_TEXT_MODES[0]:
            raise AlbertTfError("a pair model reads both texts together: long texts are cut "
                                f"({LONG_TEXT_MODES[0]})")
        started = time.perf_counter()
        prediction = classifier.classify(text, long_texts=long_texts, pairs=pair)
        latency = (time.perf_counter() - started) * 1000
        _, segments = occlusion(classifier, text, pair=pair)
        # HighlightedText colours scores in [-1, 1]: scale log-odds drops so the
        # strongest word is +-1 and the others keep their proportions.
        strongest = max((abs(w) for _, w in segments if w is not None), default=0.0) or 1.0
        segments = [(piece, None if w is None else w / strongest) for piece, w in segments]
        # Alternating categories draw a box around each piece.
        pieces = classifier.tokens(text, pair)
        tokens = [(piece, "ab"[i % 2]) for i, piece in enumerate(pieces)]
        details = (f"{classifier.recipe} model, {latency:.1f} ms, {prediction.num_tokens} "
                   f"tokens" + (", TRUNCATED: only the start of the text was read"
                                if prediction.truncated else
                                f", read {long_texts} (longer than {classifier.max_length} "
                                "tokens)" if long_texts != LONG_TEXT_MODES[0]
                                and len(pieces) >= classifier.max_length
                                else ", not truncated"))
        if getattr(prediction, "calls", None) is not None:  # an adaptive model's
            details += (f", decided after {prediction.calls} of {classifier.adaptive.num_calls} "
                        f"layer calls ({classifier.exit_rule})")
        if prediction.unknown_share:
            details += f"; {prediction.unknown_share:.0%} of its pieces are unknown to the model"
        if prediction.abstained:
            # No confident label for a text the model could not read: say so instead.
            details = f"NO LABEL: {abstention_reason(prediction)}. " + details
            return abstention_reason(prediction), tokens, details, segments
        if self.multi_label:
            chosen = ", ".join(prediction.labels) or "none"
            details = (f"LABELS at or above {classifier.threshold:g}: {chosen} (independent "
                       "scores, each its own bar). " + details)
        return prediction.scores, tokens, details, segments

    def compare(self, text, pair=None):
        """One row per recipe (and per other bundled tier, its default recipe):
        label (labels), its probability, latency and file size."""
        text, pair = self.check_text(text), self.check_pair(pair)
        rows = []
        tiers = [(self.tier, self.classifiers)] + list(self.tiers.items())
        for tier, classifiers in tiers:
            for recipe, classifier in classifiers.items():
                classifier.classify(text, pairs=pair)  # warm: first calls allocate
                started = time.perf_counter()
                prediction = classifier.classify(text, pairs=pair)
                latency = (time.perf_counter() - started) * 1000
                answer, best = answer_of(prediction)
                rows.append([f"{tier}: {recipe}" if tier else recipe, answer, round(best, 4),
                             round(latency, 2), round(classifier.bundle.size_bytes / 1e6, 2)])
        return rows

    @property
    def compares_texts(self):
        """Whether the Similarity tab has something to compare with."""
        return self.embedder is not None or (self.has_embedding and not self.takes_pairs)

    def similarity(self, text_a, text_b):
        text_a = self.check_text(text_a, "to compare (the first is empty)")
        text_b = self.check_text(text_b, "to compare with (the second is empty)")
        similarity = (self.embedder or self.default).similarity(text_a, text_b)
        if similarity is None:  # the embedder cannot read one of them (see Embedder)
            raise AlbertTfError(UNREADABLE_MESSAGE.format(what="one of the texts"))
        return round(similarity, 4)

    def search(self, query, path=None, texts=None, text_column=None, top_k=5):
        """Table rows `[rank, score, text]`: the lines of an uploaded file (else of
        the `texts` box, one per line) nearest `query` by the embedder's cosine."""
        if self.embedder is None:
            raise AlbertTfError("this demo has no sentence embedder to search with")
        query = self.check_text(query, "to search for")
        if not self.embedder.readable(query):
            raise AlbertTfError(UNREADABLE_MESSAGE.format(what="the query"))
        if path:
            candidates = [text for _, text, _ in read_upload(path, text_column)]
        else:
            candidates = [line.strip() for line in (texts or "").splitlines() if line.strip()]
            if not candidates:
                raise AlbertTfError("upload a file, or type texts to search (one per line)")
            if len(candidates) > MAX_FILE_ROWS:
                raise AlbertTfError(f"{len(candidates):,} texts; the demo searches at most "
                                    f"{MAX_FILE_ROWS:,}")
        candidates = [self.check_text(text, f"to search in (line {i + 1} is empty)")
                      for i, text in enumerate(candidates)]
        found = self.embedder.search(query, candidates, top_k=max(1, int(top_k or 5)))
        return [[rank, round(hit["score"], 4), hit["text"]]
                for rank, hit in enumerate(found, 1)]

    def classify_file(self, path, text_column=None, pair_column=None):
        """(table rows, CSV path, summary) for an uploaded file (a pair model reads
        `pair_column`, default the one it was trained with). The CLI's rule: a
        text the model cannot take (an empty cell) gets an error row in its place,
        and messages name the user's file, not the server's copy of it."""
        from albert_tf.errors import InputError

        pairs = (pair_column or self.pair_column) if self.takes_pairs else None
        if self.takes_pairs and not pairs:
            raise AlbertTfError("this model reads pairs: name the pair column")
        records = read_upload(path, text_column, pairs)
        texts = [text for _, text, _ in records]
        if self.takes_pairs:
            def answer(items):
                return self.default.classify([a for a, _ in items], pairs=[b for _, b in items])
            results = answer_or_refuse(answer, texts)
            texts = [f"{a} | {b}" for a, b in texts]  # one cell for the table and the CSV
        else:
            results = answer_or_refuse(self.default.classify, texts)
        def row(text, prediction):
            if isinstance(prediction, InputError):
                return [text, f"error: text {prediction.reason}", None, None]
            answer, best = answer_of(prediction)
            return [text, answer, round(best, 4), prediction.truncated]

        rows = [row(text, p) for text, p in zip(texts, results)]
        errors = sum(isinstance(p, InputError) for p in results)
        summary = (f"{len(rows)} text{'s' if len(rows) != 1 else ''} classified with "
                   f"{self.default.recipe}" + (f"; {errors} could not be (rows "
                   + ", ".join(str(n) for (n, _, _), p in zip(records, results)
                               if isinstance(p, InputError))[:200] + ")" if errors else ""))
        gold = [label for _, _, label in records]
        answered = [(g, p) for g, p in zip(gold, results) if not isinstance(p, InputError)]
        if answered and all(g is not None for g, _ in answered):
            summary += "; " + self.file_accuracy(*zip(*answered))
        out = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="",
                                          encoding="utf-8", prefix="predictions-",
                                          dir=self.downloads)
        with out:
            writer = csv.writer(out)
            writer.writerow(["text", "label", "score", "truncated"])
            writer.writerows(rows)
        self._keep(out.name)
        return rows, out.name, summary

    def _keep(self, path):
        """Remember a download; delete the oldest beyond MAX_KEPT_DOWNLOADS."""
        with self._kept_lock:
            self._kept.append(path)
            while len(self._kept) > MAX_KEPT_DOWNLOADS:
                old = self._kept.popleft()
                try:
                    os.remove(old)
                except FileNotFoundError:
                    pass


def read_upload(path, text_column=None, pair_column=None):
    """An uploaded file's records `(row, text, label)`, checked: its kind, size and
    row count; messages name the user's file, not the server's copy of it."""
    from albert_tf.errors import DataError
    from albert_tf.text.data import iter_rows

    if not path:
        raise AlbertTfError("upload a .csv, .tsv, .txt or .jsonl file")
    name = os.path.basename(path)
    if not name.lower().endswith(FILE_TYPES):
        raise AlbertTfError(f"{name}: not a {', '.join(FILE_TYPES)} file")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise AlbertTfError(f"{name} is {size / 1e6:.1f} MB; the demo takes at most "
                            f"{MAX_FILE_BYTES / 1e6:.0f} MB")
    try:
        records = []
        for record in iter_rows(path, text_column or None, text_pair_column=pair_column):
            records.append(record)
            if len(records) > MAX_FILE_ROWS:
                raise AlbertTfError(f"{name} has more than {MAX_FILE_ROWS:,} rows; the "
                                    f"demo takes at most {MAX_FILE_ROWS:,}")
    except DataError as error:
        message = str(error).replace(path, name).replace("pass --text-column",
                                                         "name it under 'text column'")
        raise AlbertTfError(message) from None
    if not records:
        raise AlbertTfError(f"{name} has no texts")
    return records


def _user_errors(function):
    """Show the kit's errors as Gradio messages instead of stack traces."""
    import functools

    import gradio as gr

    @functools.wraps(function)
    def wrapper(*args):
        try:
            return function(*args)
        except AlbertTfError as error:
            # The user sees the message; the server log gets one line, not a
            # traceback: a user's empty text is not a server fault.
            LOG.warning("%s: %s", function.__name__, error)
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def build_app(models):
    """The Blocks app for a `DemoModels`."""
    import gradio as gr

    subtitle = f"{len(models.default.labels)} labels · recipes: " \
               f"{', '.join(models.classifiers)}"
    if models.accuracy is not None:
        subtitle += f" · dev accuracy {models.accuracy:.4f}"
    # Gradio copies every returned file into its cache: delete them after a while.
    # analytics_enabled=False: the demo is offline; Gradio would otherwise report
    # usage to its servers (its page config said "analytics_enabled": true).
    with gr.Blocks(title=f"albert_tf demo: {models.title}", analytics_enabled=False,
                   delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as app:
        gr.Markdown("# albert_tf: ALBERT on LiteRT, no TensorFlow")
        gr.Textbox(value=f"{models.title}: {subtitle}", label="model", interactive=False)
        if models.description:
            gr.Markdown(models.description)
        with gr.Tab("Classify"):
            text = gr.Textbox(label="text", lines=3, max_length=MAX_TEXT_CHARS,
                              elem_id="input-text")
            # A pair model reads two texts; for the others the box is hidden (None).
            pair = gr.Textbox(label="second text (this model reads text pairs)", lines=2,
                              max_length=MAX_TEXT_CHARS, visible=models.takes_pairs,
                              elem_id="input-pair")
            recipe = gr.Dropdown(list(models.classifiers), value=models.default.recipe,
                                 label="recipe")
            long_texts = gr.Radio(list(LONG_TEXT_MODES), value=LONG_TEXT_MODES[0],
                                  label="a text longer than the model's max length: cut it, "
                                        "read it sentence by sentence, or in chunks")
            exit_rule = gr.Dropdown(list(EXIT_CHOICES), value=EXIT_OFF,
                                    visible=bool(models.adaptive_recipes),
                                    label="early exit: stop calling the shared layer once the "
                                          "answer is settled", elem_id="exit-rule")
            button = gr.Button("Classify", variant="primary", elem_id="classify-button")
            if models.examples:
                gr.Examples(models.examples, inputs=text)
            label = gr.Label(label=(
                f"scores: independent, every label at or above {models.default.threshold:g} "
                "applies (see details)" if models.multi_label else "prediction"),
                elem_id="prediction")
            details = gr.Textbox(label="details", interactive=False, elem_id="details")
            attributions = gr.HighlightedText(
                label="why: how much each word supports the prediction (drop in log-odds "
                      "without it, scaled to the strongest word)",
                color_map=None, show_legend=False, combine_adjacent=False)
            tokens = gr.HighlightedText(label="tokens the model saw", show_legend=False,
                                        show_inline_category=False,
                                        color_map={"a": "#dbeafe", "b": "#fef3c7"})
            inputs = [text, recipe, long_texts, pair, exit_rule]
            button.click(_user_errors(models.classify), inputs,
                         [label, tokens, details, attributions], api_name="classify")
            # Enter in the text box does what the button does; one API endpoint.
            text.submit(_user_errors(models.classify), inputs,
                        [label, tokens, details, attributions], api_visibility="private")
        with gr.Tab("Batch file"):
            upload = gr.File(label=f"a {', '.join(FILE_TYPES)} file (≤ "
                                   f"{MAX_FILE_BYTES // 2**20} MB, ≤ {MAX_FILE_ROWS} rows)",
                             file_types=list(FILE_TYPES))
            column = gr.Textbox(label="text column", max_length=200,
                                placeholder=f"default: the first of "
                                            f"{', '.join(TEXT_COLUMN_CANDIDATES)} in the file")
            pair_column = gr.Textbox(label="pair column (this model reads text pairs)",
                                     max_length=200, visible=models.takes_pairs,
                                     placeholder=f"default: {models.pair_column}")
            run = gr.Button("Classify file")
            summary = gr.Textbox(label="summary", interactive=False)
            table = gr.Dataframe(headers=["text", "label", "score", "truncated"],
                                 interactive=False)
            download = gr.File(label="predictions.csv")
            run.click(_user_errors(models.classify_file), [upload, column, pair_column],
                      [table, download, summary], api_name="classify_file")
        with gr.Tab("Compare tiers and recipes" if models.tiers else "Compare recipes"):
            compare_text = gr.Textbox(label="text", lines=2, max_length=MAX_TEXT_CHARS,
                                      value=models.examples[0] if models.examples else "")
            compare_pair = gr.Textbox(label="second text", max_length=MAX_TEXT_CHARS,
                                      visible=models.takes_pairs)
            compare_button = gr.Button("Compare")
            comparison = gr.Dataframe(
                headers=["tier: recipe" if models.tiers else "recipe", "label", "probability",
                         "latency ms", "size MB"],
                interactive=False)
            compare_button.click(_user_errors(models.compare), [compare_text, compare_pair],
                                 comparison, api_name="compare")
        if models.compares_texts:
            with gr.Tab("Similarity"):
                if models.embedder is None:
                    gr.Markdown("These are the classifier's own features: texts close in "
                                "them are close in what it classifies, not in meaning.")
                first = gr.Textbox(label="first text", max_length=MAX_TEXT_CHARS,
                                   value=SIMILARITY_EXAMPLE[0], elem_id="similarity-first")
                second = gr.Textbox(label="second text", max_length=MAX_TEXT_CHARS,
                                    value=SIMILARITY_EXAMPLE[1], elem_id="similarity-second")
                similar = gr.Button("Cosine similarity", elem_id="similarity-button")
                score = gr.Number(label=(
                    "cosine similarity of the sentence embedder's vectors (meaning)"
                    if models.embedder is not None else
                    "cosine similarity of the classifier's pooled features"),
                    elem_id="similarity-score")
                similar.click(_user_errors(models.similarity), [first, second], score,
                              api_name="similarity")
        if models.embedder is not None:
            with gr.Tab("Search"):
                query = gr.Textbox(label="query", max_length=MAX_TEXT_CHARS,
                                   value=SEARCH_QUERY, elem_id="search-query")
                candidates = gr.Textbox(label="texts to search, one per line (or upload a "
                                              "file below)", lines=6,
                                        value="\n".join(SEARCH_TEXTS), elem_id="search-texts")
                search_file = gr.File(label=f"a {', '.join(FILE_TYPES)} file (≤ "
                                            f"{MAX_FILE_BYTES // 2**20} MB, ≤ {MAX_FILE_ROWS} "
                                            "rows)", file_types=list(FILE_TYPES))
                search_column = gr.Textbox(label="text column of the file", max_length=200)
                top_k = gr.Slider(1, 20, value=5, step=1, label="results")
                search_button = gr.Button("Search", elem_id="search-button")
                hits = gr.Dataframe(headers=["rank", "cosine", "text"], interactive=False,
                                    elem_id="search-results")
                search_button.click(_user_errors(models.search),
                                    [query, search_file, candidates, search_column, top_k],
                                    hits, api_name="search")
    return app


def free_port(host, port):
    """`port` if it can be bound on `host` (any free one for 0), else one line
    naming the CLI option."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise AlbertTfError(f"cannot serve on {host}:{port} ({error.strerror}); pass "
                                "--port with another number, or --port 0 for any free "
                                "one") from None
        return probe.getsockname()[1]


def launch(export_dir=None, host="127.0.0.1", port=7860, num_threads=None,
           prevent_thread_lock=False, quiet=False, embedder=None):
    """Build and serve the demo; returns the app (and the URL via `app.local_url`).

    `port=0` takes any free port; a busy port fails before the models load.
    `embedder`: the Similarity and Search tabs' sentence embedder (default: the
    bundled one; "none": the classifier's features, no Search tab).
    """
    from albert_tf.bundled import resolve

    port = free_port(host, port)
    # LiteRT announces its XNNPACK delegate on stderr at the process's first
    # interpreter call (once: later interpreters stay quiet): make that call here,
    # quietly, as `classify` does, and before the server's threads start (the
    # filter swaps fd 2 for the whole process).
    with native_stderr_filtered(RUNTIME_NOISE):
        models = DemoModels(resolve(export_dir), num_threads=num_threads,
                            embedder=resolve_embedder(embedder, num_threads),
                            tiers=bundled_tiers(export_dir))
        models.default.warm_up()
    app = build_app(models)
    app.queue(default_concurrency_limit=2, max_size=32)
    app.launch(server_name=host, server_port=port, share=False,
               max_file_size=MAX_FILE_BYTES, prevent_thread_lock=prevent_thread_lock,
               quiet=quiet, footer_links=["api"])
    return app
