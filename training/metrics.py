"""Text-similarity metrics of generated answers against reference answers.

Every metric is on a 0..1 scale so that one margin or tolerance means the same for each:
BLEU-4 is sacrebleu's corpus BLEU divided by 100; ROUGE-1/2/L are rouge-score's mean F1 (with
the Porter stemmer); `cosine` is the mean cosine similarity of each answer's sentence embedding
to its reference's (MiniLM through the project's ONNX embedder, no torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.ports import Embedder
from training.eval_report import METRICS

_ROUGE = tuple(name for name in METRICS if name.startswith("rouge"))


def similarity(
    predictions: Sequence[str], references: Sequence[str], *, embedder: Embedder
) -> dict[str, float]:
    """BLEU-4, ROUGE-1/2/L and embedding cosine of `predictions` against `references`.

    The two sequences pair up by position; raises ValueError when their lengths differ or
    they are empty.
    """
    return scored(predictions, references, embedder=embedder)[0]


def scored(
    predictions: Sequence[str], references: Sequence[str], *, embedder: Embedder
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The corpus metrics of `similarity` and each answer's own ROUGE-1/2/L and cosine (the
    per-sample scores a paired comparison of two models needs; BLEU-4 is a corpus figure)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")
    # Imported here: rouge-score loads nltk, about a second that other commands need not pay.
    import sacrebleu
    from rouge_score import rouge_scorer

    bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score / 100.0
    scorer = rouge_scorer.RougeScorer(list(_ROUGE), use_stemmer=True)
    per_sample: dict[str, list[float]] = {name: [] for name in _ROUGE}
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for name in _ROUGE:
            per_sample[name].append(float(scores[name].fmeasure))
    per_sample["cosine"] = [float(c) for c in cosines(predictions, references, embedder=embedder)]
    result = {"bleu4": bleu}
    result.update({name: float(np.mean(values)) for name, values in per_sample.items()})
    return {name: round(float(value), 6) for name, value in result.items()}, per_sample


def cosines(a: Sequence[str], b: Sequence[str], *, embedder: Embedder) -> np.ndarray:
    """The cosine similarity of each a[i] and b[i]; an empty text counts as 0 similarity."""
    left = np.asarray(embedder.embed(list(a)), dtype=np.float64)
    right = np.asarray(embedder.embed(list(b)), dtype=np.float64)
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    dots = np.einsum("ij,ij->i", left, right)
    values: np.ndarray = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    empty = np.array([not x.strip() or not y.strip() for x, y in zip(a, b, strict=True)])
    values[empty] = 0.0
    return values
