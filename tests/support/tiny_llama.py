"""Build a tiny random-weight Llama chat model, with its own tokenizer, entirely offline.

The model is useless for language but real for serving: vLLM loads it like any Hugging Face
checkpoint (config.json, model.safetensors, tokenizer.json, tokenizer_config.json with a ChatML
`chat_template`, generation_config.json). The tokenizer is a byte-level BPE trained here on local
text, so nothing is downloaded. A fixed seed makes the weights, and so the generations,
reproducible for a given corpus.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

_log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CORPORA = REPO_ROOT.parent / "shared" / "data" / "corpora"

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
SPECIAL_TOKENS = (PAD, UNK, IM_START, IM_END)

VOCAB_SIZE = 2048
SEED = 1234

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Written last, so its presence means an earlier build finished.
_DONE_MARKER = ".tiny-llama-complete"
_MAX_CORPUS_BYTES = 4_000_000


def _corpus_files() -> list[Path]:
    """Local text to train the tokenizer on: the shared corpora if present, else this repo."""
    roots = [SHARED_CORPORA] if SHARED_CORPORA.is_dir() else [REPO_ROOT]
    files: list[Path] = []
    for root in roots:
        for suffix in ("*.md", "*.py"):
            files.extend(
                p
                for p in root.rglob(suffix)
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
    return sorted(files)


def _corpus_lines() -> Iterator[str]:
    budget = _MAX_CORPUS_BYTES
    for path in _corpus_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        budget -= len(text)
        if budget < 0:
            return
        yield from text.splitlines()


def _train_tokenizer(target_dir: Path) -> int:
    """Train and save the tokenizer; returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=UNK))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = list(_corpus_lines())
    if not lines:
        # Still a valid tokenizer (the byte alphabet covers any text), just less compact.
        lines = ["hello world"]
    bpe.train_from_iterator(lines, trainer=trainer)

    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(str(target_dir))
    _ensure_chat_template_in_config(target_dir)
    return len(tokenizer)


def _ensure_chat_template_in_config(target_dir: Path) -> None:
    # transformers 5 may write the template to chat_template.jinja only; older readers (and
    # the brief for this model) expect it in tokenizer_config.json as well.
    config_path = target_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("chat_template") != CHATML_TEMPLATE:
        config["chat_template"] = CHATML_TEMPLATE
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _build_model(target_dir: Path, *, vocab_size: int, pad_id: int, eos_id: int) -> None:
    """ChatML models have no BOS token (Qwen's convention), so none is configured."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=2048,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        do_sample=False,
    )
    model.save_pretrained(str(target_dir), safe_serialization=True)


def is_complete(target_dir: Path) -> bool:
    """Whether `target_dir` holds a finished build."""
    return (target_dir / _DONE_MARKER).is_file()


def build_tiny_llama(target_dir: Path) -> Path:
    """Build the model into `target_dir` (created if needed) and return that directory.

    Skips the work when a previous build there completed. Takes a few seconds on 2 cores,
    mostly tokenizer training; the weights are about 1 MB.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    if is_complete(target_dir):
        _log.info("tiny llama already built in %s", target_dir)
        return target_dir

    from transformers import PreTrainedTokenizerFast

    _log.info("building tiny llama in %s", target_dir)
    vocab_size = _train_tokenizer(target_dir)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(target_dir))
    pad_id, eos_id = (int(i) for i in tokenizer.convert_tokens_to_ids([PAD, IM_END]))
    _build_model(target_dir, vocab_size=vocab_size, pad_id=pad_id, eos_id=eos_id)
    (target_dir / _DONE_MARKER).write_text("ok\n", encoding="utf-8")
    return target_dir
