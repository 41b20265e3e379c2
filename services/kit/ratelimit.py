"""Per-client request rate limit (token bucket) inside one process. With N replicas behind a load
balancer a client gets at most N times the limit; the limit protects each replica and the database
from one runaway caller, it is not a quota."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def acquire(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, otherwise the seconds to wait."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return max(1.0, math.ceil((1.0 - tokens) / rate))
