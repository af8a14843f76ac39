"""What `GET /metrics` reports, in Prometheus's text format: requests and errors by endpoint, audio seconds,
requests at work, and latency histograms. Counted in the event loop's thread only, so no lock is needed."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict

# Latency buckets, seconds: a 1 s clip encodes in about 0.1 s on 2 cores, a long file in minutes.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """Counters and histograms of one service process."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()  # (endpoint, status)
        # endpoint -> seconds of audio in (encode) or out (decode, streams)
        self.audio_seconds: defaultdict[str, float] = defaultdict(float)
        self.latency: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: defaultdict[str, float] = defaultdict(float)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests[(endpoint, status)] += 1
        self.latency[endpoint][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[endpoint] += seconds

    def audio(self, endpoint: str, seconds: float) -> None:
        self.audio_seconds[endpoint] += seconds

    def render(self, working: int, batches: Counter[int], pushes: Counter[int]) -> str:
        """The text exposition; `working`: requests at work now; `batches`: encode batches run, by size;
        `pushes`: decoding forward passes shared by streams and decodes, by how many shared them."""
        lines = ["# TYPE snac_requests_total counter"]
        for (endpoint, status), n in sorted(self.requests.items()):
            lines.append(f'snac_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        lines.append("# TYPE snac_errors_total counter")
        errors: Counter[str] = Counter()
        for (endpoint, status), n in self.requests.items():
            errors[endpoint] += n if status >= 400 else 0
        lines += [f'snac_errors_total{{endpoint="{e}"}} {n}' for e, n in sorted(errors.items())]
        lines.append("# TYPE snac_audio_seconds_total counter")
        lines += [f'snac_audio_seconds_total{{endpoint="{e}"}} {s:.3f}' for e, s in sorted(self.audio_seconds.items())]
        lines += ["# TYPE snac_requests_working gauge", f"snac_requests_working {working}"]
        lines.append("# TYPE snac_encode_batches_total counter")
        lines += [f'snac_encode_batches_total{{size="{size}"}} {n}' for size, n in sorted(batches.items())]
        lines.append("# TYPE snac_decode_batches_total counter")
        lines += [f'snac_decode_batches_total{{size="{size}"}} {n}' for size, n in sorted(pushes.items())]
        lines.append("# TYPE snac_request_seconds histogram")
        for endpoint, counts in sorted(self.latency.items()):
            total = 0
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                total += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'snac_request_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {total}')
            lines.append(f'snac_request_seconds_sum{{endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.6f}')
            lines.append(f'snac_request_seconds_count{{endpoint="{endpoint}"}} {total}')
        return "\n".join(lines) + "\n"
