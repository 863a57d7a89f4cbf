"""Start the student's token embeddings from the teacher's, across tokenizers.

A student distilled from scratch learns what every word means from the
teacher's soft labels alone. The teacher already knows: its input embedding
table is pretrained. The two vocabularies differ (the student's SentencePiece
pieces, the teacher's WordPiece), so each student piece is spelled in the
teacher's vocabulary and given the mean of those tokens' vectors; the
vectors are then reduced from the teacher's width to the student's
`embedding_dim` by PCA (the directions of most variance between words) and
scaled to the student initializer's standard deviation, so the optimizer
sees the scale it was tuned for. Pieces the teacher cannot spell (only
`[UNK]`) keep their random rows.

This is the static-embedding half of Tang et al. (2019), whose BiLSTM
students start from word2vec; here the pretrained vectors are the teacher's
own. It costs seconds, adds no parameters and changes no file format.

```python
vectors, found = teacher.token_vectors(["▁good", "ness", "<pad>"])
table, report = student_embedding_table(vectors, found, current_table)
```
"""

import keras
import numpy as np

from albert_tf.errors import AlbertTfError
from albert_tf.models.common import INITIALIZER_STDDEV
from albert_tf.text.tokenizer import CLS, MASK, PAD, SEP, UNK

# SentencePiece marks a word start with U+2581; a piece without it continues a word.
WORD_START = "\u2581"
# The student's special pieces, as the teacher's tokenizer names them.
SPECIAL_NAMES = {PAD: "pad_token", UNK: "unk_token", CLS: "cls_token", SEP: "sep_token",
                 MASK: "mask_token"}


def spell_pieces(pieces, tokenizer):
    """Teacher token ids for each student piece; `[]` where the teacher has only `[UNK]`.

    `tokenizer` is a transformers tokenizer. Word-continuation pieces use the
    WordPiece continuation form (`##ness`) when the teacher has it.
    """
    vocab = tokenizer.get_vocab()
    unk = tokenizer.unk_token_id
    spelled = []
    for piece in pieces:
        if piece in SPECIAL_NAMES:
            name = getattr(tokenizer, SPECIAL_NAMES[piece], None)
            spelled.append([vocab[name]] if name in vocab else [])
            continue
        if piece.startswith(WORD_START):
            ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(piece[len(WORD_START):]))
        else:
            continuation = "##" + (piece.lower() if getattr(tokenizer, "do_lower_case", True)
                                   else piece)
            ids = ([vocab[continuation]] if continuation in vocab else
                   tokenizer.convert_tokens_to_ids(tokenizer.tokenize(piece)))
        ids = [i for i in ids if i != unk]
        spelled.append(ids)
    return spelled


def mean_vectors(spelled, table):
    """`(vectors, found)`: each piece's mean teacher vector, and whether it had one."""
    table = np.asarray(table, np.float32)
    vectors = np.zeros((len(spelled), table.shape[1]), np.float32)
    found = np.zeros(len(spelled), bool)
    for row, ids in enumerate(spelled):
        if ids:
            vectors[row] = table[ids].mean(axis=0)
            found[row] = True
    return vectors, found


def student_embedding_table(vectors, found, current, stddev=INITIALIZER_STDDEV):
    """The student's new `(V, E)` table and a report of what was transferred.

    Rows with `found` get the teacher vectors' top-E principal components,
    scaled to `stddev`; the others keep `current` (the random init). Fails
    when the teacher spells fewer than two pieces.
    """
    vectors = np.asarray(vectors, np.float64)
    current = np.asarray(current, np.float32)
    found = np.asarray(found, bool)
    size, dim = current.shape
    if vectors.shape[0] != size or found.shape != (size,):
        raise AlbertTfError(f"teacher vectors for {vectors.shape[0]} pieces, but the student "
                            f"has {size}")
    if found.sum() < 2:
        raise AlbertTfError(f"the teacher spells only {int(found.sum())} of {size} student "
                            "pieces (is its tokenizer for the same language?)")
    centred = vectors[found] - vectors[found].mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    # A vocabulary smaller than E (tests, toy tasks) has fewer components than
    # columns; the columns left over carry nothing from the teacher and start at 0.
    keep = min(dim, components.shape[0])
    projected = np.zeros((int(found.sum()), dim))
    projected[:, :keep] = centred @ components[:keep].T
    projected *= stddev / max(projected[:, :keep].std(), 1e-12)
    table = current.copy()
    table[found] = projected.astype(np.float32)
    variance = singular ** 2
    return table, {"pieces": int(size), "from_teacher": int(found.sum()),
                   "components": int(keep),
                   "variance_kept": round(float(variance[:keep].sum() / variance.sum()), 4)}


def check_teacher(teacher):
    """Fail before any work when `teacher` has no token embeddings to give."""
    if not hasattr(teacher, "token_vectors"):
        raise AlbertTfError(f"{teacher.path}: a {teacher.kind} teacher has no token embeddings "
                            "to start the student from; teacher_embeddings needs a Hugging "
                            "Face teacher")


def transfer_embeddings(teacher, tokenizer, model):
    """Set `model`'s token embedding table from `teacher`'s; return the report.

    `tokenizer` is the student's `AlbertTokenizer`, `model` an `AlbertClassifier`.
    """
    check_teacher(teacher)
    layer = model.backbone.embedding.token_embedding
    current = keras.ops.convert_to_numpy(layer.embeddings)
    vectors, found = teacher.token_vectors(tokenizer.id_to_piece(range(tokenizer.vocab_size)))
    table, report = student_embedding_table(vectors, found, current)
    layer.embeddings.assign(table.astype(current.dtype))
    return report
