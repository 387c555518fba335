"""Tokenising texts with a model's tokenizer.json into padded batches for onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TokenBatch:
    """Token ids, attention mask and token types of one batch, padded to its longest text."""

    input_ids: Ints
    attention_mask: Ints
    token_type_ids: Ints

    def feeds(self, names: Sequence[str]) -> dict[str, Ints]:
        """The arrays a model with these input names takes."""
        arrays = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }
        return {name: arrays[name] for name in names}


class TextTokenizer:
    """Truncates to `max_length` tokens; pads each batch only to its own longest text."""

    def __init__(self, tokenizer_json: Path, *, max_length: int) -> None:
        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        # tokenizer.json files often carry a fixed padding/truncation (MiniLM's: 128); ours wins.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        pad = self._tokenizer.token_to_id("[PAD]")
        if pad is None:
            pad = self._tokenizer.token_to_id("<pad>")
        self._pad_id = pad or 0

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        """One encoding per text, with special tokens, truncated, unpadded."""
        return self._tokenizer.encode_batch(list(texts))

    def pad(self, encodings: Sequence[Encoding]) -> TokenBatch:
        """The encodings as one right-padded batch."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        return TokenBatch(input_ids=ids, attention_mask=mask, token_type_ids=types)
