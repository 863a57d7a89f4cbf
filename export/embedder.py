"""Export a sentence embedder: LiteRT files whose output is the unit sentence vector.

`albert-tf export` on an embedder directory (`albert-tf distill --task
embedding`) writes:

```
OUT/
  {recipe}.tflite            token_ids/segment_ids/padding_mask int32 [batch, length]
                             -> embedding float32 [batch, dim], length 1
  mediapipe_{recipe}.tflite  ids/segment_ids/mask int32 [1, L] -> embedding, with
                             TextEmbedder metadata (SentencePiece tokenizer embedded):
                             runs unchanged in mediapipe.tasks.python.text.TextEmbedder
  tokenizer/                 spiece.model (the runtime tokenizes with `sentencepiece`)
  parity.md, README.md, metadata.json
```

The vector is normalised inside the graph, so every consumer (the runtime,
MediaPipe with or without its own `l2_normalize`) compares by dot product.
Parity is the cosine between each file's vectors and the Keras float
model's on the same texts: mean and minimum; a file whose mean is under
`MIN_MEAN_COSINE` fails the export (after everything is written, so the
report can be read).
"""

import os
import tempfile

import keras
import numpy as np

from albert_tf.artifacts.embedder_dir import encoder_with_dtype, load_embedder
from albert_tf.artifacts.manifest import (EMBEDDER_EXPORT_FORMAT, AtomicDirectory,
                                          recorded_path, sha256_file, write_manifest)
from albert_tf.contract import (EMBEDDING, INPUTS, MANIFEST_FILE, MEDIAPIPE_INPUTS,
                                TOKENIZER_DIR, TOKENIZER_MODEL)
from albert_tf.errors import AlbertTfError
from albert_tf.text.data import iter_text_lines
from albert_tf.text.tokenizer import pad_sequences

from .recipes import RECIPES

# A quantized file whose vectors point, on average, less than this close to
# the float model's is not the same embedder.
MIN_MEAN_COSINE = 0.99
DEFAULT_PARITY_TEXTS = 1000


def normalized_encoder(embedder):
    """The embedder's encoder in float32, its output scaled to length 1 in the graph."""
    encoder = encoder_with_dtype(embedder.model.get_config(), "float32")
    encoder.set_weights(embedder.model.get_weights())
    vector = keras.layers.UnitNormalization(axis=-1, name="unit_vector")(encoder.output)
    return keras.Model(encoder.input, vector, name="sentence_embedder")


def read_texts(path, text_column=None, limit=None):
    texts = []
    for text in iter_text_lines(path, text_column=text_column):
        texts.append(" ".join(text.split()))
        if limit and len(texts) >= limit:
            break
    if not texts:
        raise AlbertTfError(f"{path}: no texts for the parity report")
    return texts


def cosine_parity(reference, vectors):
    cosines = np.sum(reference * vectors, axis=1) / np.maximum(
        np.linalg.norm(reference, axis=1) * np.linalg.norm(vectors, axis=1), 1e-12)
    return {"mean_cosine": round(float(cosines.mean()), 5),
            "min_cosine": round(float(cosines.min()), 5)}


def _representative(packed, length, names, size):
    def dataset():
        for sequence in packed[:size]:
            batch = pad_sequences([sequence], length, length)
            yield {names[k]: v for k, v in batch.items()}
    return dataset


def export_embedder(options):
    """Export the embedder directory `options.model_dir`; returns the parity rows.

    `options` is an `ExportOptions`: `eval` (or `calibration`) names a file of
    texts for the parity report, `calibration` the int8 recipe's texts.
    """
    from albert_tf.runtime.runner import ModelRunner

    from . import graphs, tflite
    from .mediapipe_metadata import add_metadata
    from .parity import ParityError
    from .recipes import resolve_recipes

    recipes = resolve_recipes(options.recipes)
    embedder = load_embedder(options.model_dir)
    source = options.eval or options.calibration
    if not source:
        raise AlbertTfError("the parity report needs texts: pass --eval FILE (any file of "
                            "sentences) or --calibration FILE")
    texts = read_texts(source, options.text_column, options.eval_size or DEFAULT_PARITY_TEXTS)
    calibration = (read_texts(options.calibration, options.text_column,
                              options.calibration_size) if options.calibration else texts)
    tokenizer, max_length = embedder.tokenizer, embedder.max_length
    packed, _ = tokenizer.encode_unpadded(texts, None, max_length)
    calibration_packed, _ = tokenizer.encode_unpadded(calibration, None, max_length)
    reference = embedder.embed(texts)
    mediapipe_length = options.mediapipe_length or max_length
    targets = [(r, f"{r.name}.tflite", None) for r in recipes] + [
        (RECIPES[n], f"mediapipe_{n}.tflite", mediapipe_length)
        for n in options.mediapipe_recipes or ()]
    model = normalized_encoder(embedder)
    rows, files = [], {}
    with AtomicDirectory(options.out, overwrite=options.overwrite) as out, \
            tempfile.TemporaryDirectory() as scratch:
        saved = {None: os.path.join(scratch, "dynamic"),
                 mediapipe_length: os.path.join(scratch, "mediapipe")}
        graphs.write_ids_saved_model(model, saved[None], output=EMBEDDING)
        if options.mediapipe_recipes:
            graphs.write_ids_saved_model(model, saved[mediapipe_length], names=MEDIAPIPE_INPUTS,
                                         batch=1, length=mediapipe_length, output=EMBEDDING)
        for recipe, filename, static_length in targets:
            names = dict(zip(INPUTS, MEDIAPIPE_INPUTS if static_length else INPUTS))
            length = static_length or max(len(t) for t, _ in calibration_packed)
            representative = (_representative(calibration_packed, length, names,
                                              options.calibration_size)
                              if recipe.calibrated else None)
            blob, seconds = tflite.convert(saved[static_length], recipe, representative)
            if static_length:
                blob = add_metadata(blob, tokenizer.model_proto, None,
                                    description=f"ALBERT sentence embedder, recipe {recipe.name}")
            path = os.path.join(out, filename)
            with open(path, "wb") as f:
                f.write(blob)
            runner = ModelRunner(path)
            vectors = runner.run_all(packed, max_length, 32, outputs=(EMBEDDING,))[EMBEDDING]
            row = {"file": filename, "recipe": recipe.name, "size_bytes": len(blob),
                   "convert_s": round(seconds, 2), "static_length": static_length,
                   **cosine_parity(reference, vectors)}
            row["failures"] = ([f"mean cosine {row['mean_cosine']} < {MIN_MEAN_COSINE}"]
                               if row["mean_cosine"] < MIN_MEAN_COSINE else [])
            rows.append(row)
            files[filename] = {"recipe": recipe.name, "description": recipe.description,
                               "inputs": f"{'/'.join(names.values())} int32 "
                                         f"[{1 if static_length else 'batch'}, "
                                         f"{static_length or 'length'}]",
                               "outputs": [EMBEDDING]}
        tokenizer.save(os.path.join(out, TOKENIZER_DIR))
        _write_report(out, rows, source, len(texts))
        write_manifest(
            out, format=EMBEDDER_EXPORT_FORMAT,
            source={"model_dir": recorded_path(options.model_dir),
                    "model_manifest_sha256": sha256_file(
                        os.path.join(options.model_dir, MANIFEST_FILE))},
            contract={"task": "embedding", "dim": embedder.dim, "normalized": True,
                      "tflite_inputs": list(INPUTS), "tflite_outputs": [EMBEDDING],
                      "mediapipe_inputs": list(MEDIAPIPE_INPUTS),
                      "mediapipe_output": EMBEDDING, "max_length": max_length,
                      "mediapipe_length": mediapipe_length, "pad_to_multiple_of": 8},
            vocab_size=tokenizer.vocab_size,
            tokenizer_sha256=sha256_file(os.path.join(out, TOKENIZER_MODEL)),
            num_parameters=int(embedder.model.count_params()),
            model_config=embedder.model.get_config(),
            eval_metrics=embedder.metadata.get("eval_metrics", {}),
            distillation=embedder.metadata.get("distillation"),
            tflite_files=files, parity=rows)
    failed = [f"{r['file']}: {'; '.join(r['failures'])}" for r in rows if r["failures"]]
    if failed:
        raise ParityError("parity targets missed (files kept in "
                      f"{options.out}): " + " | ".join(failed), rows)
    return rows


def _write_report(out, rows, source, count):
    lines = [f"# Parity with the Keras float embedder on {count} texts of "
             f"{os.path.basename(source)}", "",
             "| file | recipe | size (bytes) | mean cosine | min cosine |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['recipe']} | {r['size_bytes']:,} | {r['mean_cosine']} | "
              f"{r['min_cosine']} |" for r in rows]
    readme = ["# Sentence embedder export", "",
              "```python", "from albert_tf.runtime import Embedder",
              f"embedder = Embedder.load({os.path.basename(os.path.abspath(out))!r})",
              "embedder.similarity('a gripping, funny film', 'an entertaining and witty movie')",
              "```", "", "The `mediapipe_*.tflite` files run in "
              "`mediapipe.tasks.python.text.TextEmbedder` unchanged."]
    with open(os.path.join(out, "parity.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(readme) + "\n")
