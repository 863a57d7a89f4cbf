"""Moving a trained model onto a new tokenizer without starting over.

A vocabulary fixes what a model can read in one piece. The bundled embedder's
8,000 pieces were learned on reviews, so everyday nouns reach it in fragments
(to-ma-to, on-ion, la-p-top) and one changed noun barely moves its vector. A
vocabulary learned on general text keeps them whole, but its ids mean nothing to
the trained model. Fast Vocabulary Transfer (Gee et al., 2022) carries the model
over: a piece both vocabularies have keeps its row; a new piece starts as the
mean of the rows of the old pieces its text splits into, so "▁tomato" starts
where the model's reading of to + ma + to was and training sharpens it from there.
Every other weight is the model's own.

```python
table = transfer_embeddings(backbone.token_embedding.embeddings.numpy(), old, new)
table.shape   # (new.vocab_size, embedding_dim)
```
"""

import numpy as np

WORD_START = "\u2581"  # SentencePiece's mark of a piece that begins a word


def _pieces(tokenizer):
    return tokenizer.id_to_piece(range(tokenizer.vocab_size))


def old_ids_of_piece(piece, old_tokenizer, old_ids):
    """The old vocabulary's ids whose rows make `piece`'s starting row.

    A piece inside a word ("ion") has no word-start mark, but SentencePiece reads
    any text as starting a word: "ion" comes back as "▁ion" or "▁", "i", "on". The
    mark is taken off again (the bare "▁" dropped, "▁ion" read as "ion" where the
    old vocabulary has it), so a word-inner piece is built from word-inner rows;
    where the old vocabulary has no inner form ("▁usually" but no "usually"), the
    marked piece's row is used rather than `<unk>`'s.
    """
    if piece in old_ids:
        return [old_ids[piece]]
    text = piece.replace(WORD_START, " ").strip()
    if not text:
        return []
    split = old_tokenizer.tokenize(text)
    if not piece.startswith(WORD_START) and split and split[0].startswith(WORD_START):
        first = split[0][len(WORD_START):]
        if not first:
            split = split[1:]  # the bare mark: the text's own pieces follow
        elif first in old_ids:
            split = [first] + split[1:]
        # else the marked piece stays: the old vocabulary has no inner form of it, and
        # its word-start row is closer to the piece than the <unk> row would be.
    return [old_ids.get(p, old_tokenizer.unk_id) for p in split]


def transfer_embeddings(table, old_tokenizer, new_tokenizer):
    """`new_tokenizer.vocab_size` rows built from `table` (one row per id of
    `old_tokenizer`): shared pieces keep their rows (the special tokens among
    them: both tokenizers put them at the same ids), the others are the mean of
    their old split's rows; a piece with no split (none in practice: every piece
    has text) gets the mean row."""
    table = np.asarray(table)
    if table.shape[0] != old_tokenizer.vocab_size:
        raise ValueError(f"the table has {table.shape[0]} rows, the old tokenizer "
                         f"{old_tokenizer.vocab_size} pieces")
    old_ids = {piece: i for i, piece in enumerate(_pieces(old_tokenizer))}
    mean_row = table.mean(axis=0)
    rows = []
    for piece in _pieces(new_tokenizer):
        ids = old_ids_of_piece(piece, old_tokenizer, old_ids)
        rows.append(table[ids].mean(axis=0) if ids else mean_row)
    return np.stack(rows).astype(table.dtype)


def transfer_report(old_tokenizer, new_tokenizer):
    """How many of the new pieces the old vocabulary has as they are."""
    old = set(_pieces(old_tokenizer))
    new = _pieces(new_tokenizer)
    kept = sum(piece in old for piece in new)
    return {"old_pieces": len(old), "new_pieces": len(new), "shared_pieces": kept,
            "built_pieces": len(new) - kept}
