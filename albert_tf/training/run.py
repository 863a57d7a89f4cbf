"""What every training run does around `model.fit`: its work directory and its tokenizer.

A run keeps checkpoints in `OUT<suffix>/` beside its output (`--resume` goes
on from there) and removes it once the output directory is written.
"""

import contextlib
import dataclasses
import os
import shutil
import tempfile
import time

from albert_tf.contract import TOKENIZER_DIR
from albert_tf.errors import AlbertTfError
from albert_tf.text.tokenizer import AlbertTokenizer


@dataclasses.dataclass
class Run:
    """A run's options, its work directory (checkpoints, for --resume) and start time."""

    config: object
    work_dir: str
    started: float

    @classmethod
    def start(cls, config, suffix, scratch=False):
        """Seed everything, then open `OUT<suffix>`: emptied unless `config.resume`.
        `scratch`: a private temporary directory instead (a training process other
        than the one that writes the output)."""
        import keras

        keras.utils.set_random_seed(config.seed)
        if scratch:
            return cls(config, tempfile.mkdtemp(prefix="albert-tf-process-"), time.time())
        work_dir = os.path.abspath(config.out.rstrip("/\\") + suffix)
        if not config.resume and os.path.exists(work_dir):
            shutil.rmtree(work_dir)
        os.makedirs(work_dir, exist_ok=True)
        return cls(config, work_dir, time.time())

    def path(self, name):
        return os.path.join(self.work_dir, name)

    def has_checkpoint(self):
        return os.path.exists(self.path("backup"))

    def seconds(self):
        return round(time.time() - self.started, 1)

    def finish(self):
        """The output directory is written: the checkpoints are no longer needed."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    @contextlib.contextmanager
    def discarded_on_error(self):
        """A user error (`AlbertTfError`) before the first finished epoch
        removes the work directory: there is nothing in it to resume. Any
        other failure keeps it, for `--resume`."""
        try:
            yield
        except AlbertTfError:
            if not self.has_checkpoint():
                self.finish()
            raise


def prepare_tokenizer(config, work_dir, texts):
    """The run's tokenizer: resumed from the work dir, the `init` directory's,
    the given one, or trained now on `texts` (an iterable of strings)."""
    saved = os.path.join(work_dir, TOKENIZER_DIR)
    if config.resume and os.path.isdir(saved):
        return AlbertTokenizer.load(saved)
    if config.init:
        tokenizer = AlbertTokenizer.load(os.path.join(config.init, TOKENIZER_DIR))
    elif config.tokenizer:
        tokenizer = AlbertTokenizer.load(config.tokenizer)
    else:
        tokenizer = AlbertTokenizer.train(texts, vocab_size=config.vocab_size, seed=config.seed)
    tokenizer.save(saved)
    return tokenizer
