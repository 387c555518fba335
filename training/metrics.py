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
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")
    # Imported here: rouge-score loads nltk, about a second that other commands need not pay.
    import sacrebleu
    from rouge_score import rouge_scorer

    bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score / 100.0
    scorer = rouge_scorer.RougeScorer(list(_ROUGE), use_stemmer=True)
    totals = dict.fromkeys(_ROUGE, 0.0)
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for name in _ROUGE:
            totals[name] += scores[name].fmeasure
    result = {"bleu4": bleu}
    result.update({name: total / len(predictions) for name, total in totals.items()})
    result["cosine"] = mean_cosine(predictions, references, embedder=embedder)
    return {name: round(float(value), 6) for name, value in result.items()}


def mean_cosine(a: Sequence[str], b: Sequence[str], *, embedder: Embedder) -> float:
    """The mean cosine similarity of a[i] and b[i]; an empty text counts as 0 similarity."""
    left = np.asarray(embedder.embed(list(a)), dtype=np.float64)
    right = np.asarray(embedder.embed(list(b)), dtype=np.float64)
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    dots = np.einsum("ij,ij->i", left, right)
    cosines = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    empty = np.array([not x.strip() or not y.strip() for x, y in zip(a, b, strict=True)])
    cosines[empty] = 0.0
    return float(cosines.mean())
