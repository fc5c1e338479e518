"""Request metrics in the Prometheus text format (``GET /metrics``), without a client library.

Example:
    >>> m = Metrics()
    >>> m.observe("POST", "/v1/retrieve", 200, 0.012)
    >>> m.observe("POST", "/v1/retrieve", 400, 0.001)
    >>> text = m.render({"default": 3})
    >>> 'hipporag_requests_total{method="POST",route="/v1/retrieve",status="200"} 1' in text
    True
    >>> 'hipporag_request_errors_total{route="/v1/retrieve",status="400"} 1' in text
    True
    >>> 'hipporag_index_generation{index="default"} 3' in text
    True
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters of requests and errors, a latency histogram per route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.errors: dict[tuple[str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        with self._lock:
            self.requests[(method, route, status)] += 1
            if status >= 400:
                self.errors[(route, status)] += 1
            counts = self.buckets.setdefault(route, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] += seconds
            self.counts[route] += 1

    def render(self, generations: dict[str, int]) -> str:
        """The metrics as Prometheus text (``generations``: index name -> generation)."""
        out = [
            "# HELP hipporag_requests_total HTTP requests by method, route and status.",
            "# TYPE hipporag_requests_total counter",
        ]
        with self._lock:
            for (m, r, s), n in sorted(self.requests.items()):
                out.append(
                    f'hipporag_requests_total{{method="{_label(m)}",route="{_label(r)}",status="{s}"}} {n}'
                )
            out += [
                "# HELP hipporag_request_errors_total Requests answered with a status >= 400.",
                "# TYPE hipporag_request_errors_total counter",
            ]
            for (r, s), n in sorted(self.errors.items()):
                out.append(f'hipporag_request_errors_total{{route="{_label(r)}",status="{s}"}} {n}')
            out += [
                "# HELP hipporag_request_duration_seconds Request latency by route.",
                "# TYPE hipporag_request_duration_seconds histogram",
            ]
            for r, counts in sorted(self.buckets.items()):
                acc = 0
                for le, c in zip((*BUCKETS, float("inf")), counts, strict=True):
                    acc += c
                    bound = "+Inf" if le == float("inf") else repr(le)
                    out.append(
                        f'hipporag_request_duration_seconds_bucket{{route="{_label(r)}",le="{bound}"}} {acc}'
                    )
                out.append(
                    f'hipporag_request_duration_seconds_sum{{route="{_label(r)}"}} {self.sums[r]:.6f}'
                )
                out.append(
                    f'hipporag_request_duration_seconds_count{{route="{_label(r)}"}} {self.counts[r]}'
                )
        out += [
            "# HELP hipporag_index_generation The generation each served index reads.",
            "# TYPE hipporag_index_generation gauge",
        ]
        for name, gen in sorted(generations.items()):
            out.append(f'hipporag_index_generation{{index="{_label(name)}"}} {gen}')
        return "\n".join(out) + "\n"


__all__ = ["Metrics"]
