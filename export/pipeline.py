"""`export_model`: a model directory in, a self-describing export directory out.

```
EXPORT_DIR/
  saved_model/               raw-string serving_default + token_ids + tokenize
  {recipe}.tflite            dynamic [batch, length] int32 inputs, by name
  mediapipe_{recipe}.tflite  static [1, L] inputs + metadata (MediaPipe TextClassifier)
  tokenizer/, labels.txt     what the runtime needs besides the model
  parity.json/.md/.png       each format against the Keras float model
  metadata.json              contract, recipes, versions, sha256 of every file
```
"""

import dataclasses
import os
import random
import tempfile

import keras
import numpy as np

from albert_tf import __version__
from albert_tf.artifacts.manifest import (EXPORT_FORMAT, PROVENANCE_KEYS, AtomicDirectory,
                                          check_output_dir, package_versions, recorded_path,
                                          sha256_file, write_manifest)
from albert_tf.artifacts.formats import is_embedder_dir
from albert_tf.artifacts.model_dir import load
from albert_tf.contract import (ADAPTIVE_FILES, ADAPTIVE_PREFIX, EMBEDDING, INPUTS,
                                LABELS_FILE, MANIFEST_FILE,
                                MEDIAPIPE_INPUTS, MEDIAPIPE_PROBABILITY, PROBABILITIES,
                                SAVED_MODEL_TEXT_INPUTS, TOKENIZER_DIR, TOKENIZER_MODEL)
from albert_tf.errors import AlbertTfError
from albert_tf.prediction import MULTI_LABEL_THRESHOLD
from albert_tf.text.data import LabelVocab, load_examples, parse_label_names
from albert_tf.text.bucketing import plan_batches
from albert_tf.text.tokenizer import pad_sequences

from .options import ExportOptions
from .parity import ParityError
from .recipes import RECIPES, resolve_recipes

FORMAT = EXPORT_FORMAT
# Model input -> TFLite signature input, for the kit's files and MediaPipe's.
INPUT_NAMES = dict(zip(INPUTS, INPUTS))
MEDIAPIPE_NAMES = dict(zip(INPUTS, MEDIAPIPE_INPUTS))


def _check_options(options):
    """What can be refused before the model is read: tools, backend, option values."""
    import importlib.util

    # Imported only once the graphs are built: check it before any work.
    for module in ("tensorflow_text",):
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"export needs {module}: pip install -e \".[export]\"",
                                      name=module)
    if keras.backend.backend() != "tensorflow":
        raise AlbertTfError("export needs the TensorFlow backend: set KERAS_BACKEND=tensorflow "
                            f"(now {keras.backend.backend()!r})")
    recipes = resolve_recipes(options.recipes)
    unknown = [r for r in options.mediapipe_recipes or () if r not in RECIPES]
    if unknown:
        raise AlbertTfError(f"unknown MediaPipe recipe {unknown[0]!r}; choose from "
                            f"{', '.join(RECIPES)}")
    if not 0 < options.min_agreement <= 1:
        raise AlbertTfError(f"min_agreement must be in (0, 1], got {options.min_agreement}")
    if options.calibration_size < 1:
        raise AlbertTfError(f"calibration_size must be >= 1, got {options.calibration_size}")
    check_output_dir(options.out, options.overwrite, error=AlbertTfError)
    return recipes


def _read_texts(options, trained, recipes):
    """`(calibration, evaluation)` Examples (either may be None), read and checked now."""
    training = trained.config.get("training", {})
    text_column = options.text_column or training.get("text_column")
    calibration_file = options.calibration or training.get("train")
    needs_calibration = any(r.calibrated for r in recipes) or any(
        RECIPES[r].calibrated for r in options.mediapipe_recipes or ())
    calibration = None
    if needs_calibration:
        if not calibration_file or not os.path.exists(calibration_file):
            raise AlbertTfError("calibrated recipes (int8, int16x8) need --calibration FILE "
                                "(the model's training file is not available)")
        calibration = load_examples(calibration_file, text_column=text_column,
                                    text_pair_column=training.get("text_pair_column"),
                                    require_labels=False)
    evaluation = None
    if options.eval:
        evaluation = load_examples(
            options.eval, text_column=text_column,
            text_pair_column=training.get("text_pair_column"),
            label_column=training.get("label_column", "label"),
            multi_label=trained.labels.multi_label,
            label_separator=training.get("label_separator", "|"))
        trained.labels.encode(evaluation)  # unknown labels fail now, not after conversion
    if (evaluation or calibration) is None:
        raise AlbertTfError("the parity report needs texts: pass --eval FILE (labelled) or "
                            "--calibration FILE")
    return calibration, evaluation


def _validate(options):
    """Everything that can be checked before conversion starts."""
    recipes = _check_options(options)
    trained = load(options.model_dir)  # verifies hashes, labels and vocab first
    names = parse_label_names(options.label_names)
    if names:
        unknown = sorted(set(names) - set(trained.labels.names))
        if unknown:
            raise AlbertTfError(f"label_names names {unknown}, which the model does not have "
                                f"(its labels: {', '.join(trained.labels.names)})")
    calibration, evaluation = _read_texts(options, trained, recipes)
    if names:  # from here on, every file says the new names
        trained.original_label_names = list(trained.labels.names)
        trained.labels = LabelVocab([names.get(n, n) for n in trained.labels.names])
        evaluation = evaluation.renamed(names) if evaluation is not None else None
    return trained, recipes, calibration, evaluation


def _sample(examples, size, seed=0):
    indices = list(range(len(examples)))
    random.Random(seed).shuffle(indices)
    return sorted(indices[:size])


def _representative(trained, calibration, size, static_length, names):
    """A representative_dataset callable over `size` calibration texts.

    All samples share one length (the longest, rounded to 8, or the static
    length): the calibrator cannot resize its graph between samples.
    """
    sample = calibration.subset(_sample(calibration, size))
    packed, _ = trained.tokenizer.encode_unpadded(sample.texts, sample.pairs,
                                                  trained.max_length)
    length = static_length or pad_sequences(packed, trained.max_length)["token_ids"].shape[1]

    def dataset():
        for sequence in packed:
            batch = pad_sequences([sequence], length, length)
            yield {names[k]: v for k, v in batch.items()}

    return dataset


@dataclasses.dataclass
class ParitySet:
    """The texts every exported file is compared on, and the Keras float answers."""

    examples: object
    packed: list
    reference: object  # (n, num_labels) Keras float32 probabilities
    y_true: object  # class ids (multi-hot rows if multi-label), or None for unlabelled texts
    threshold: float = None  # a multi-label model's decision threshold; None: argmax

    @classmethod
    def build(cls, trained, examples, labelled, size=None):
        if size:
            examples = examples.subset(_sample(examples, size))
        packed, _ = trained.tokenizer.encode_unpadded(examples.texts, examples.pairs,
                                                      trained.max_length)
        return cls(examples, packed, trained.predict_proba(examples.texts, examples.pairs),
                   trained.labels.encode(examples) if labelled else None,
                   MULTI_LABEL_THRESHOLD if trained.labels.multi_label else None)

    def compare(self, probabilities):
        """A file's parity row against the Keras float answers (see `parity.compare`)."""
        from .parity import compare

        return compare(self.reference, probabilities, self.y_true, self.threshold)

    def float_accuracy(self):
        """Accuracy of the Keras float model (exact match for multi-label)."""
        if self.y_true is None:
            return None
        return self.compare(self.reference)["accuracy"]


def _file_description(recipe, static_length):
    from .mediapipe_metadata import TENSOR_NAMES as MEDIAPIPE_TENSOR_ORDER

    if static_length:
        return {"recipe": recipe.name, "description": recipe.description,
                "inputs": f"{'/'.join(MEDIAPIPE_TENSOR_ORDER)} int32 [1, {static_length}]",
                "outputs": [MEDIAPIPE_PROBABILITY]}
    return {"recipe": recipe.name, "description": recipe.description,
            "inputs": f"{'/'.join(INPUTS)} int32 [batch, length]",
            "outputs": [PROBABILITIES, EMBEDDING]}


def _convert_one(trained, recipe, static_length, saved_model, path, calibration, options,
                 parity_set):
    """Convert, write and measure one `.tflite`; returns its parity row."""
    from . import parity, tflite
    from .mediapipe_metadata import add_metadata

    representative = None
    if recipe.calibrated:
        representative = _representative(trained, calibration, options.calibration_size,
                                         static_length,
                                         MEDIAPIPE_NAMES if static_length else INPUT_NAMES)
    blob, seconds = tflite.convert(saved_model, recipe, representative,
                                   signature_key=None if static_length else "token_ids")
    if static_length:
        blob = add_metadata(blob, trained.tokenizer.model_proto, trained.labels.names,
                            description=f"ALBERT classifier, recipe {recipe.name}")
    with open(path, "wb") as f:
        f.write(blob)
    probabilities = parity.tflite_probabilities(path, parity_set.packed, trained.max_length)
    row = {"file": os.path.basename(path), "recipe": recipe.name, "size_bytes": len(blob),
           "bytes_per_parameter": round(len(blob) / int(trained.model.count_params()), 3),
           "convert_s": round(seconds, 2), "static_length": static_length,
           **parity_set.compare(probabilities)}
    row["failures"] = parity.check(row, recipe, options.min_agreement)
    tok = trained.tokenizer
    if static_length and (tok.strip_accents or tok.replace_quotes):
        row["caution"] = ("MediaPipe's tokenizer neither strips accents nor replaces "
                          "LaTeX quotes as this (imported) tokenizer does: normalize "
                          "text before MediaPipe, or use the runtime")
    return row


def _adaptive_targets(trained, recipes, options):
    """The recipes of the adaptive files to write (every recipe; none without exit
    heads), and why none are written for a model with exit heads that cannot have one."""
    from .adaptive import check_adaptive

    if not options.adaptive:
        return [], None
    reason = check_adaptive(trained.model)
    if reason:
        return [], None if not getattr(trained.model, "exit_heads", None) else reason
    return list(recipes), None


def _convert_adaptive(trained, model, recipe, saved_model, signatures, path, whole_row,
                      parity_set, calibration, options):
    """Convert, write and measure one adaptive file; returns its parity row: with
    rule `none` against the Keras float model, and each exit against Keras' exit."""
    from albert_tf.runtime.adaptive import AdaptiveRunner, parse_exit_rule

    from . import parity
    from .adaptive import adaptive_representative, convert_adaptive

    representative = None
    if recipe.calibrated:
        texts = _representative(trained, calibration, options.calibration_size, None,
                                INPUT_NAMES)
        representative = adaptive_representative(model, list(texts()))
    blob, seconds = convert_adaptive(saved_model, recipe, signatures, representative)
    with open(path, "wb") as f:
        f.write(blob)
    runner = AdaptiveRunner(path)

    def answers(rule):
        probabilities = np.zeros((len(parity_set.packed), runner.num_labels), "float32")
        for rows in plan_batches([len(t) for t, _ in parity_set.packed], 32):
            probabilities[rows] = runner.run([parity_set.packed[i] for i in rows],
                                             trained.max_length, rule)[0]
        return probabilities

    exits = trained.exit_proba(parity_set.examples.texts, parity_set.examples.pairs)
    row = {"file": os.path.basename(path), "recipe": recipe.name, "size_bytes": len(blob),
           # The shared layer is stored once: the size of the whole-model file.
           "size_ratio": round(len(blob) / whole_row["size_bytes"], 4),
           "convert_s": round(seconds, 2), "static_length": None, "calls": runner.num_calls,
           **parity_set.compare(answers(parse_exit_rule("none"))),
           "exit_agreement": [
               round(float((answers(parse_exit_rule(f"calls:{i}")).argmax(-1)
                            == exits[:, i - 1].argmax(-1)).mean()), 6)
               for i in range(1, runner.num_calls + 1)]}
    row["failures"] = parity.check(row, recipe, options.min_agreement)
    if row["size_ratio"] > MAX_ADAPTIVE_SIZE_RATIO:
        row["failures"].append(f"{row['size_ratio']:.2f}x the size of {whole_row['file']}")
    return row


def _contract(trained, mediapipe_length):
    """What a reader of the export needs to feed its files and read their outputs
    (the runtime reads max_length, text_pairs, multi_label and threshold)."""
    text = ", ".join(f"{name}: string[batch]"
                     for name in SAVED_MODEL_TEXT_INPUTS[:2 if trained.takes_pairs else 1])
    multi_label = trained.labels.multi_label
    answer = "predicted (bool per label)" if multi_label else "label"
    return {
        "tflite_inputs": list(INPUT_NAMES),
        "tflite_outputs": [PROBABILITIES, EMBEDDING],
        "mediapipe_inputs": list(MEDIAPIPE_INPUTS), "mediapipe_output": MEDIAPIPE_PROBABILITY,
        "saved_model_signatures": {
            "serving_default": f"{text} -> probabilities, {answer}, truncated",
            "token_ids": "token_ids/segment_ids/padding_mask -> probabilities, embedding",
            "tokenize": f"{text} -> token_ids, segment_ids, padding_mask"},
        "max_length": trained.max_length, "mediapipe_length": mediapipe_length,
        "pad_to_multiple_of": 8,
        # A pair model reads `[CLS] text [SEP] pair [SEP]` (segment ids 0, then 1).
        "text_pairs": trained.takes_pairs,
        # The columns it was trained on: `classify --input` reads a pair file by them.
        **{key: trained.config.get("training", {}).get(key)
           for key in ("text_column", "text_pair_column")},
        # Multi-label: independent sigmoid outputs; a label is on at or above threshold.
        "multi_label": multi_label,
        "threshold": MULTI_LABEL_THRESHOLD if multi_label else None,
    }


def _write_manifest(out, options, trained, parity_set, rows, files, mediapipe_length,
                    adaptive_files=None, adaptive_note=None):
    write_manifest(
        out, format=FORMAT,
        source={"model_dir": recorded_path(options.model_dir),
                "model_manifest_sha256": sha256_file(
                    os.path.join(options.model_dir, MANIFEST_FILE))},
        contract=_contract(trained, mediapipe_length),
        labels=trained.labels.names,
        **({"original_labels": trained.original_label_names}
           if hasattr(trained, "original_label_names") else {}),
        vocab_size=trained.tokenizer.vocab_size,
        tokenizer_sha256=sha256_file(os.path.join(out, TOKENIZER_MODEL)),
        num_parameters=int(trained.model.count_params()),
        # The Keras classifier's config: with a float file's weights, enough to
        # rebuild the model (scripts/model_from_tflite.py) when its directory is gone.
        model_config=trained.model.get_config(),
        keras_float_accuracy=parity_set.float_accuracy(),
        eval_metrics=trained.metadata.get("eval_metrics", {}),
        # A distilled model's teacher and transfer set (an average's sources)
        # travel with its files.
        **{key: trained.metadata[key] for key in PROVENANCE_KEYS if key in trained.metadata},
        tflite_files=files,
        **({"mediapipe": MEDIAPIPE_NO_PAIRS} if trained.takes_pairs else {}),
        # Early exit (export/adaptive.py): not among tflite_files, which are whole models.
        **({ADAPTIVE_FILES: adaptive_files} if adaptive_files else {}),
        **({"adaptive": adaptive_note} if adaptive_note else {}),
        parity=rows,
        versions={"albert_tf": __version__, "converter": "tf.lite.TFLiteConverter",
                  **package_versions("tensorflow", "tensorflow-text", "keras",
                                     "ai-edge-litert", "sentencepiece", "numpy")},
    )


# An adaptive file stores the shared layer once: more than this times the size
# of the whole-model file of its recipe would mean it does not.
MAX_ADAPTIVE_SIZE_RATIO = 1.10

# Why a pair model has no MediaPipe file (in its manifest and README).
MEDIAPIPE_NO_PAIRS = (
    "no MediaPipe file: MediaPipe's TextClassifier takes one text (classify(text: str)) and "
    "its BERT preprocessor packs [CLS] text [SEP] with every segment id 0, so it cannot feed "
    "a pair model; use the runtime, the SavedModel or the .tflite files")

EXPORT_README = """# An albert_tf export

Labels (output order): {labels}. Files: {files}; `parity.md` compares each with the
Keras float model; `metadata.json` pins every file's sha256.{kind}

## Serve it without TensorFlow (`pip install -e ".[runtime]"`)

```python
from albert_tf.runtime import Classifier
classifier = Classifier.load("{name}")   # checks every file's sha256 first
classifier.classify({call})
```

## The SavedModel (TensorFlow + tensorflow_text, not albert_tf)

`tensorflow_text` registers the SentencePiece op the graph tokenizes with; without
the import TensorFlow fails with `Op type not registered 'SentencepieceOp'`.

```python
import tensorflow as tf
import tensorflow_text  # noqa: F401
served = tf.saved_model.load("{name}/saved_model")
served.signatures["serving_default"]({serving})["{answer}"]
```

## MediaPipe

{mediapipe}
"""

MEDIAPIPE_README = """`mediapipe_*.tflite`: tokenizer and labels inside, whole-model graphs at one
fixed length, as MediaPipe's `TextClassifier` wants.

```python
from mediapipe.tasks.python import text
classifier = text.TextClassifier.create_from_model_path("{name}/mediapipe_dynamic_int8.tflite")
classifier.classify("a gripping, funny film").classifications[0].categories
```
"""

MEDIAPIPE_MULTI_LABEL = """
Its scores are the independent sigmoid outputs, used as given: pass
`score_threshold={threshold}` (the model's threshold) in `TextClassifierOptions`
and every category returned is a label of the text.
"""


def _write_readme(directory, files, trained, name):
    """How to load what is here, beside it (the SavedModel needs tensorflow_text);
    `name` is the export's path as the user gave it."""
    name = os.fspath(name).rstrip("/\\")
    pairs, multi_label = trained.takes_pairs, trained.labels.multi_label
    call = ('"a man plays a guitar", pairs="someone makes music"' if pairs
            else '"a gripping, funny film"')
    serving = ('text=tf.constant(["a man plays a guitar"]), '
               'text_pair=tf.constant(["someone makes music"])' if pairs
               else 'text=tf.constant(["a gripping, funny film"])')
    kind = ""
    if pairs:
        kind += ("\n\nA **pair model**: it reads two texts, `[CLS] text [SEP] pair [SEP]`; give "
                 "both, always (`albert-tf classify --text-pair-column`, or TEXT<TAB>PAIR lines).")
    if multi_label:
        kind += (f"\n\nA **multi-label model**: independent sigmoid scores; a label is on at or "
                 f"above {MULTI_LABEL_THRESHOLD} (`threshold=` changes it).")
    mediapipe = (MEDIAPIPE_NO_PAIRS[0].upper() + MEDIAPIPE_NO_PAIRS[1:] + "." if pairs
                 else MEDIAPIPE_README.format(name=name) + (
                     MEDIAPIPE_MULTI_LABEL.format(threshold=MULTI_LABEL_THRESHOLD)
                     if multi_label else ""))
    with open(os.path.join(directory, "README.md"), "w", encoding="utf-8") as f:
        f.write(EXPORT_README.format(labels=", ".join(trained.labels.names),
                                     files=", ".join(sorted(files)), name=name, kind=kind,
                                     call=call, serving=serving, mediapipe=mediapipe,
                                     answer="predicted" if multi_label else "label"))


def export_model(options=None, **kwargs):
    """Export a model directory; returns the parity rows. See the module doc.

    Raises `ParityError` (after writing everything) when a format misses
    its target, so callers and the CLI can fail the build.

    Example:
    ```python
    from albert_tf.export import export_model
    export_model(model_dir="runs/sst2", out="runs/sst2-export",
                 eval="../shared/data/sst2/dev.tsv")
    ```
    """
    from . import graphs, parity

    options = dataclasses.replace(options, **kwargs) if options else ExportOptions(**kwargs)
    if is_embedder_dir(options.model_dir):
        from .embedder import export_embedder

        _check_options(options)
        return export_embedder(options)
    trained, recipes, calibration, evaluation = _validate(options)
    parity_set = ParitySet.build(trained, evaluation or calibration, evaluation is not None,
                                 options.eval_size)
    mediapipe_length = options.mediapipe_length or trained.max_length
    mediapipe_recipes = () if trained.takes_pairs else options.mediapipe_recipes or ()
    targets = [(r, f"{r.name}.tflite", None) for r in recipes] + [
        (RECIPES[n], f"mediapipe_{n}.tflite", mediapipe_length) for n in mediapipe_recipes]

    rows, files = [], {}
    with AtomicDirectory(options.out, overwrite=options.overwrite) as out, \
            tempfile.TemporaryDirectory() as scratch:
        saved_model = os.path.join(out, "saved_model")
        model = graphs.write_saved_model(trained, saved_model)
        mediapipe_saved = os.path.join(scratch, "mediapipe")
        if mediapipe_recipes:
            graphs.write_ids_saved_model(model, mediapipe_saved, names=MEDIAPIPE_INPUTS,
                                         batch=1, length=mediapipe_length)
        for recipe, filename, static_length in targets:
            rows.append(_convert_one(
                trained, recipe, static_length, mediapipe_saved if static_length else saved_model,
                os.path.join(out, filename), calibration, options, parity_set))
            files[filename] = _file_description(recipe, static_length)
        adaptive_recipes, adaptive_note = _adaptive_targets(trained, recipes, options)
        adaptive_files = {}
        if adaptive_recipes:
            from .adaptive import write_adaptive_saved_model

            adaptive_saved = os.path.join(scratch, "adaptive")
            signatures = write_adaptive_saved_model(model, adaptive_saved)
            for recipe in adaptive_recipes:
                filename = f"{ADAPTIVE_PREFIX}{recipe.name}.tflite"
                whole = next(r for r in rows if r["file"] == f"{recipe.name}.tflite")
                rows.append(_convert_adaptive(trained, model, recipe, adaptive_saved,
                                              signatures, os.path.join(out, filename), whole,
                                              parity_set, calibration, options))
                adaptive_files[filename] = {
                    "recipe": recipe.name, "calls": rows[-1]["calls"],
                    "description": f"early exit: {', '.join(signatures)} signatures "
                                   "(export/adaptive.py)"}
        trained.tokenizer.save(os.path.join(out, TOKENIZER_DIR))
        trained.labels.save(os.path.join(out, LABELS_FILE))
        _write_readme(out, files, trained, options.out)
        accuracy = parity_set.float_accuracy()
        parity.write_report(rows, out, (
            f"Parity with the Keras float model on {len(parity_set.examples)} texts of "
            f"{os.path.basename(parity_set.examples.source)}"
            + (f" (Keras float accuracy {accuracy:.4f})" if accuracy else "")))
        _write_manifest(out, options, trained, parity_set, rows, files, mediapipe_length,
                        adaptive_files, adaptive_note)
    failed = [f"{r['file']}: {'; '.join(r['failures'])}" for r in rows if r["failures"]]
    if failed:
        raise ParityError("parity targets missed (files kept in "
                          f"{options.out}): " + " | ".join(failed), rows)
    return rows
