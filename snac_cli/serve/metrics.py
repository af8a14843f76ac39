"""What `GET /metrics` reports, in Prometheus's text format: HTTP requests by endpoint and status, their
errors, WebSocket streams by close code, audio seconds, requests and streams at work, and latency
histograms. Counted in the event loop's thread only, so no lock is needed."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict

from snac_cli.serve.outcomes import LEFT

# Latency buckets, seconds: a 1 s clip encodes in about 0.1 s on 2 cores, a long file in minutes.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
STREAM = "/v1/decode/stream"
GOOD_CLOSES = (1000, 1001)  # a stream done, or its client gone


class Metrics:
    """Counters and histograms of one service process."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()  # (endpoint, status)
        self.streams: Counter[int] = Counter()  # WebSocket streams by close code (403: refused at the handshake)
        # endpoint -> seconds of audio in (encode) or out (decode, streams)
        self.audio_seconds: defaultdict[str, float] = defaultdict(float)
        self.latency: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: defaultdict[str, float] = defaultdict(float)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests[(endpoint, status)] += 1
        self.latency[endpoint][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[endpoint] += seconds

    def stream(self, code: int, seconds: float) -> None:
        self.streams[code] += 1
        self.latency[STREAM][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[STREAM] += seconds

    def audio(self, endpoint: str, seconds: float) -> None:
        self.audio_seconds[endpoint] += seconds

    def render(self, working: int, streaming: int, batches: Counter[int], pushes: Counter[int]) -> str:
        """The text exposition; `working`, `streaming`: requests and streams at work now; `batches`: encode
        batches run, by size; `pushes`: decoding forward passes shared by streams and decodes, by how many."""
        errors: Counter[str] = Counter()
        for (endpoint, status), n in self.requests.items():
            errors[endpoint] += n if status >= 400 and status != LEFT else 0
        errors[STREAM] += sum(n for code, n in self.streams.items() if code not in GOOD_CLOSES)
        lines = [
            *family(
                "snac_requests_total",
                "counter",
                "HTTP requests answered, by endpoint and status (499: the client left).",
            ),
            *(f'snac_requests_total{{endpoint="{e}",status="{s}"}} {n}' for (e, s), n in sorted(self.requests.items())),
            *family(
                "snac_streams_total",
                "counter",
                "WebSocket streams ended, by close code (403: refused at the handshake).",
            ),
            *(f'snac_streams_total{{close="{code}"}} {n}' for code, n in sorted(self.streams.items())),
            *family(
                "snac_errors_total",
                "counter",
                "HTTP requests answered 4xx or 5xx but 499, and streams closed but with 1000 or 1001.",
            ),
            *(f'snac_errors_total{{endpoint="{e}"}} {n}' for e, n in sorted(errors.items()) if n or e != STREAM),
            *family("snac_audio_seconds_total", "counter", "Seconds of audio encoded (in) or decoded (out)."),
            *(f'snac_audio_seconds_total{{endpoint="{e}"}} {s:.3f}' for e, s in sorted(self.audio_seconds.items())),
            *family("snac_requests_working", "gauge", "HTTP requests whose work has not stopped yet."),
            f"snac_requests_working {working}",
            *family("snac_streams_working", "gauge", "WebSocket streams open now."),
            f"snac_streams_working {streaming}",
            *family("snac_encode_batches_total", "counter", "Encoding forward passes, by requests sharing them."),
            *(f'snac_encode_batches_total{{size="{size}"}} {n}' for size, n in sorted(batches.items())),
            *family("snac_decode_batches_total", "counter", "Decoding forward passes, by streams sharing them."),
            *(f'snac_decode_batches_total{{size="{size}"}} {n}' for size, n in sorted(pushes.items())),
            *family("snac_request_seconds", "histogram", "Seconds from a request's headers to its last byte."),
        ]
        for endpoint, counts in sorted(self.latency.items()):
            total = 0
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                total += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'snac_request_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {total}')
            lines.append(f'snac_request_seconds_sum{{endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.6f}')
            lines.append(f'snac_request_seconds_count{{endpoint="{endpoint}"}} {total}')
        return "\n".join(lines) + "\n"


def family(name: str, kind: str, help: str) -> list[str]:
    """A metric family's HELP and TYPE lines."""
    return [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
