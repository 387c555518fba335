"""What a sentence-transformers model folder says about its model: pooling, sizes, identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.embedding.errors import EmbeddingError
from rag.embedding.pooling import Pooling

# sentence-transformers' Pooling config flag for each mode we implement.
_POOLING_FLAGS: dict[str, Pooling] = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}
# Modules after pooling that we reproduce: Normalize (we always normalise).
_SUPPORTED_MODULES = ("models.Transformer", "models.Pooling", "models.Normalize")


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """A sentence-transformers model folder (Transformer, Pooling, optionally Normalize)."""

    path: Path
    label: str
    dimension: int
    pooling: Pooling
    max_seq_length: int | None
    num_heads: int
    hidden_size: int

    @classmethod
    def read(cls, path: Path) -> ModelFolder:
        """Reads config.json, modules.json and the Pooling config; raises EmbeddingError."""
        if not (path / "tokenizer.json").is_file():
            raise EmbeddingError(f"{path} is not a model folder with a tokenizer.json")
        config = _json(path / "config.json")
        try:
            hidden_size = int(config["hidden_size"])
            num_heads = int(config["num_attention_heads"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"{path}/config.json lacks hidden_size or heads") from exc
        pooling, dimension = _pooling(path, hidden_size)
        sbert = _json(path / "sentence_bert_config.json", missing_ok=True)
        max_seq = sbert.get("max_seq_length")
        return cls(
            path=path,
            label=path.parent.name if path.name == "model" else path.name,
            dimension=dimension,
            pooling=pooling,
            max_seq_length=int(max_seq) if max_seq else None,
            num_heads=num_heads,
            hidden_size=hidden_size,
        )

    def fingerprint(self, salt: str = "") -> str:
        """A hash of every file of the model (and `salt`): a changed model gets a new export."""
        digest = hashlib.sha256(salt.encode())
        for file, relative in self._files():
            digest.update(relative.encode() + b"\0")
            with file.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.hexdigest()

    def stamp(self, salt: str = "") -> str:
        """A hash of the folder's place and its files' names, sizes and modification times.

        Reads no file: while the stamp is unchanged, a fingerprint taken earlier still holds.
        """
        digest = hashlib.sha256(f"{salt}\0{self.path.resolve()}\0".encode())
        for file, relative in self._files():
            info = file.stat()
            digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        return digest.hexdigest()

    def _files(self) -> list[tuple[Path, str]]:
        """The model's files with their folder-relative names, hidden files and READMEs aside."""
        found = []
        for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
            relative = file.relative_to(self.path).as_posix()
            if not (relative.startswith(".") or relative.lower().startswith("readme")):
                found.append((file, relative))
        return found


def _pooling(path: Path, hidden_size: int) -> tuple[Pooling, int]:
    """The pooling mode and output dimension; mean pooling when the folder has no modules.json."""
    modules = _json(path / "modules.json", missing_ok=True, default=[])
    pooling_dir: Path | None = None
    for module in modules:
        kind = str(module.get("type", ""))
        if not kind.endswith(_SUPPORTED_MODULES):
            raise EmbeddingError(f"{path}: the module {kind} is not supported by this embedder")
        if kind.endswith("models.Pooling"):
            pooling_dir = path / str(module.get("path", ""))
    if pooling_dir is None:
        return "mean", hidden_size
    config = _json(pooling_dir / "config.json")
    modes = [mode for flag, mode in _POOLING_FLAGS.items() if config.get(flag)]
    if len(modes) != 1:
        raise EmbeddingError(f"{pooling_dir}: expected exactly one pooling mode, found {modes}")
    return modes[0], int(config.get("word_embedding_dimension", hidden_size))


def _json(path: Path, *, missing_ok: bool = False, default: Any = None) -> Any:
    if missing_ok and not path.exists():
        return {} if default is None else default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"cannot read {path}: {exc}") from exc
