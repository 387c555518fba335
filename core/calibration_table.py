"""The committed answer-confidence model, written by `python -m benchmarks.calibration --write`
on 2026-12-03.

Fitted (L2 20.0 on standardised features) on 64 Leximind answers of the
labelled dev questions against their curated corpora and whole repositories
(fastapi 30, httpx 12, own 12, requests 10);
label: the first source is the page a maintainer pointed to.
Features: top, margin, best (core.confidence.features).
"""

from core.confidence import Calibration

CALIBRATION = Calibration(
    intercept=-0.4645,
    weights=(
        1.2599,
        2.7148,
        0.3973,
    ),
)
