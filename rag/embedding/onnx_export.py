"""Exporting a sentence-transformers model to (int8) ONNX once, into a cache shared by processes.

Only this module touches torch and transformers, and only while exporting: a process that finds
the export in the cache never imports them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rag.embedding.errors import EmbeddingError
from rag.embedding.model_folder import ModelFolder
from rag.embedding.pooling import Floats, normalise, pool
from rag.embedding.tokens import TextTokenizer, TokenBatch

_log = logging.getLogger(__name__)

# Part of the cache key: change it when the export steps change, so old exports are not reused.
_RECIPE = "leximind-onnx-export-2"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OUTPUT = "last_hidden_state"
# Texts the export is checked on; the first two are the tracing example, so the check runs on
# other shapes and catches sizes baked into the graph.
_PROBES = (
    "How do I declare a path parameter?",
    "def add(a: int, b: int) -> int:\n    return a + b",
    "FastAPI validates the request body with Pydantic models and returns a 422 error when the "
    "data is invalid.",
    "Installation",
    "SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC;",
)
# Lowest cosine to torch's own output that we accept: fp32 must match, int8 must be close.
_MIN_COSINE_FP32 = 0.9999
_MIN_COSINE_INT8 = 0.95


def exported_model(folder: ModelFolder, cache_dir: Path, *, quantize: bool) -> Path:
    """The cached ONNX export of `folder`, exporting it first if the cache lacks it.

    The file name holds a hash of the model's files. Writers take a lock in `cache_dir` and
    rename a finished file into place, so concurrent processes export once and never read a
    half-written file. Raises EmbeddingError.
    """
    precision = "int8" if quantize else "fp32"
    fingerprint = model_fingerprint(folder, cache_dir)
    target = cache_dir / f"{folder.label}-{fingerprint[:16]}-{precision}.onnx"
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddingError(f"cannot create the model cache {cache_dir}: {exc}") from exc
    with _exclusive_lock(target.with_suffix(".lock")):
        if target.is_file():  # another process exported it while we waited
            return target
        _log.info("exporting %s to %s ONNX in %s (once per model)", folder.label, precision, target)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as work:
            os.replace(_export(folder, Path(work), quantize=quantize), target)
        _log.info("exported %s in %.1f s", target.name, time.perf_counter() - started)
    return target


def model_fingerprint(folder: ModelFolder, cache_dir: Path) -> str:
    """The fingerprint that names the model's exports, remembered in `cache_dir`.

    Hashing MiniLM's 90 MB of weights takes about 0.2 s, which every process start would pay
    to find the export it already has; the fingerprint is kept under the files' stamp (names,
    sizes, modification times) and taken again when the stamp changes. A cache that cannot
    be written only costs the hashing.
    """
    memo = cache_dir / f".{folder.label}-{folder.stamp(_RECIPE)[:32]}.fingerprint"
    try:
        remembered = memo.read_text().strip()
    except OSError:
        remembered = ""
    if len(remembered) == 64:
        return remembered
    fingerprint = folder.fingerprint(_RECIPE)
    partial = memo.with_name(f"{memo.name}.{os.getpid()}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(fingerprint)
        os.replace(partial, memo)
    except OSError as exc:
        _log.info("cannot remember the model fingerprint in %s: %s", cache_dir, exc)
        partial.unlink(missing_ok=True)
    return fingerprint


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _export(folder: ModelFolder, work: Path, *, quantize: bool) -> Path:
    """Traces, fuses, checks and (if asked) quantizes into `work`; returns the final file."""
    tokenizer = TextTokenizer(folder.path / "tokenizer.json", max_length=64)
    probe = tokenizer.pad(tokenizer.encode(_PROBES))
    example = tokenizer.pad(tokenizer.encode(_PROBES[:2]))
    traced, fused = work / "traced.onnx", work / "fused.onnx"
    reference = _trace(folder, traced, example=example, probe=probe)
    _fuse(folder, traced, fused)
    _check(fused, folder, probe, reference, min_cosine=_MIN_COSINE_FP32)
    if not quantize:
        return fused
    prepared, quantized = work / "prepared.onnx", work / "int8.onnx"
    _quantize(fused, prepared, quantized)
    _check(quantized, folder, probe, reference, min_cosine=_MIN_COSINE_INT8)
    return quantized


def _trace(folder: ModelFolder, target: Path, *, example: TokenBatch, probe: TokenBatch) -> Floats:
    """Writes the transformer as ONNX; returns torch's embeddings of `probe` for the checks."""
    try:  # only here: processes that find the export cached never import torch
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EmbeddingError(f"exporting to ONNX needs torch and transformers: {exc}") from exc
    try:
        model = AutoModel.from_pretrained(
            folder.path, attn_implementation="eager", local_files_only=True
        ).eval()
        graph = _padded_encoder(model)
        with torch.no_grad(), warnings.catch_warnings():
            # The legacy exporter warns that it is legacy and about traced Python values.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                tuple(torch.from_numpy(a) for a in example.feeds(_INPUTS).values()),
                str(target),
                input_names=list(_INPUTS),
                output_names=[_OUTPUT],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, _OUTPUT)},
                opset_version=17,
                dynamo=False,
            )
            inputs = {k: torch.from_numpy(v) for k, v in probe.feeds(_INPUTS).items()}
            hidden = model(**inputs).last_hidden_state.numpy()
    except (OSError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        raise EmbeddingError(f"cannot export {folder.path} to ONNX: {exc}") from exc
    return normalise(pool(hidden, probe.attention_mask, folder.pooling))


def _padded_encoder(model: Any) -> Any:
    """The model's embeddings and encoder, with the padding mask built in traceable form.

    Tracing the whole model records transformers 5's mask helpers with values of the example
    baked in: the graph is wrong for any other input. This explicit additive mask traces cleanly
    and has the form onnxruntime's attention fusion recognises (Where <- Cast <- Sub <- Cast <-
    Expand).
    """
    import torch

    class PaddedEncoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.inner.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            batch, length = input_ids.shape
            keep = attention_mask[:, None, None, :].expand(batch, 1, length, length)
            blocked = 1.0 - keep.to(hidden.dtype)
            additive = blocked.masked_fill(blocked.to(torch.bool), torch.finfo(hidden.dtype).min)
            output: torch.Tensor = self.inner.encoder(
                hidden, attention_mask=additive
            ).last_hidden_state
            return output

    return PaddedEncoder(model).eval()


def _fuse(folder: ModelFolder, source: Path, target: Path) -> None:
    """Fuses attention, layer norms and GELU into onnxruntime's kernels (int8 attention then)."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(source),
        model_type="bert",
        num_heads=folder.num_heads,
        hidden_size=folder.hidden_size,
        opt_level=0,
    )
    fused = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
    _log.debug("fused operators: %s", fused)
    optimized.save_model_to_file(str(target))


def _quantize(source: Path, prepared: Path, target: Path) -> None:
    """int8 weights per output channel; activations are quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(source), str(prepared), skip_optimization=True)
    quantize_dynamic(
        prepared,
        target,
        weight_type=QuantType.QInt8,
        # Per-tensor scales lose too much here (cosine ~0.93 to fp32); per channel keeps ~0.99.
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
    )


def _check(
    model: Path, folder: ModelFolder, probe: TokenBatch, reference: Floats, *, min_cosine: float
) -> None:
    """Raises EmbeddingError unless `model` embeds the probes like torch did."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (hidden,) = session.run([_OUTPUT], probe.feeds(_INPUTS))
    vectors = normalise(pool(np.asarray(hidden), probe.attention_mask, folder.pooling))
    worst = float((vectors * reference).sum(axis=1).min())
    _log.debug("%s: lowest cosine to torch %.5f", model.name, worst)
    if worst < min_cosine:
        raise EmbeddingError(
            f"the ONNX export of this model is wrong: cosine {worst:.4f} to torch's output "
            f"(at least {min_cosine} expected)"
        )
