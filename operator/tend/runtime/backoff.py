"""The operator's back-off for the API server: 0.5 s doubling to 30 s, +-20 % jitter, for ever.

kopf gives up a request (and with it a watch, and the operator) once its
`settings.networking.error_backoffs` run out: 503s for some 20 s ended the operator with
rc 1. Passed as an iterable without a length, this one never runs out, so an outage of any
length costs retries, never the process; Kubernetes decides about a pod that stays
unready (`/readyz`), not a crash. The jitter keeps replicas and watches from retrying in
step against a recovering server.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

FIRST = 0.5
CAP = 30.0


class Backoff:
    """An endless iterable of delays (seconds); each `iter()` starts again from the first."""

    def __init__(self, first: float = FIRST, cap: float = CAP) -> None:
        self.first = first
        self.cap = cap

    def __iter__(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.8, 1.2)  # jitter, not cryptography
            delay = min(delay * 2, self.cap)
