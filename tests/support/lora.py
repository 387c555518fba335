"""Random LoRA adapters for the tiny Llama, in the PEFT format vLLM loads, made without PEFT.

An adapter is `adapter_config.json` plus `adapter_model.safetensors` holding, for every
attention projection of every layer, `lora_A` (rank x in) and `lora_B` (out x rank). The
update added to a weight is `B @ A * lora_alpha / r`, so `scale` sets how far an adapter moves
the model: a small scale changes a few greedy tokens, a large one makes the model say
something else entirely.
"""

from __future__ import annotations

import json
from pathlib import Path

RANK = 8
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def make_lora(target: Path, base_model: Path, *, scale: float, seed: int) -> Path:
    """Writes a rank-8 adapter for the model in `base_model` into `target`; returns `target`.

    `scale` is the standard deviation of the entries of A and B.
    """
    import torch
    from safetensors.torch import save_file

    config = json.loads((base_model / "config.json").read_text(encoding="utf-8"))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads", heads))
    head_dim = int(config.get("head_dim") or hidden // heads)
    shapes = {
        "q_proj": (hidden, heads * head_dim),
        "k_proj": (hidden, kv_heads * head_dim),
        "v_proj": (hidden, kv_heads * head_dim),
        "o_proj": (heads * head_dim, hidden),
    }
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for layer in range(int(config["num_hidden_layers"])):
        for name in TARGETS:
            fan_in, fan_out = shapes[name]
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{name}"
            a = torch.randn(RANK, fan_in, generator=generator) * scale
            b = torch.randn(fan_out, RANK, generator=generator) * scale
            tensors[f"{prefix}.lora_A.weight"] = a.contiguous()
            tensors[f"{prefix}.lora_B.weight"] = b.contiguous()
    target.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target / "adapter_model.safetensors"))
    adapter_config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base_model),
        "r": RANK,
        "lora_alpha": 2 * RANK,
        "lora_dropout": 0.0,
        "target_modules": list(TARGETS),
        "bias": "none",
        "fan_in_fan_out": False,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
        "inference_mode": True,
    }
    (target / "adapter_config.json").write_text(
        json.dumps(adapter_config, indent=1) + "\n", encoding="utf-8"
    )
    return target
