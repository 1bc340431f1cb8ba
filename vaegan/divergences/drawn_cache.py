"""A bounded cache of the results of drawings (estimates, θ sweeps, generators trained towards them), shared by every
session of an app: `ResultCache`, and the process's caches behind `cached_estimates`, `cached_sweep` and
`cached_generator_run`. A result is keyed by the drawing's code (and its settings), so no session sees another
drawing's result."""

from __future__ import annotations

import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from vaegan.divergences.drawn import Drawing
from vaegan.divergences.drawn_estimates import DrawnEstimates, DrawnSweep, estimate_drawing, sweep_drawing
from vaegan.divergences.engine import ProgressCallback
from vaegan.divergences.generators import drawn_generator_config, train_generator
from vaegan.divergences.toy2d import Toy2dResult
from vaegan.vocabulary import TOY_LOSSES

T = TypeVar("T")


class ResultCache(Generic[T]):
    """Results by key (a drawing's code and settings), least recently used first out, bounded both by
    `max_entries` and by `max_bytes` of their pickled sizes: what the app keeps for every session of a server.

    Thread-safe: sessions run in threads of one process. A key is computed once even when several threads ask for
    it at once (the others wait for it); different keys compute in parallel. A result is shared by every caller
    of its key and must be treated as read-only. A failed computation stores nothing."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str, compute: Callable[[], T]) -> T:
        """The result of `key`, computed by `compute()` the first time (and again once it has been evicted)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:  # another thread computed it while this one waited
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            try:
                result = compute()
                size = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
                with self._lock:
                    if size <= self.max_bytes:
                        self._entries[key] = (result, size)
                        while len(self._entries) > self.max_entries or \
                                sum(v[1] for v in self._entries.values()) > self.max_bytes:  # fmt: skip
                            self._entries.popitem(last=False)
                return result
            finally:
                with self._lock:
                    self._computing.pop(key, None)


# The results an app keeps for all its sessions, by drawing: each result is about 0.1 MB (an estimate), 0.01 MB (a
# sweep) and 1.3 MB (a generator run) pickled (bench/draw_divergences.py).
CACHE_ENTRIES, CACHE_BYTES = 32, 16 * 2**20  # estimates, and as many sweeps
RUN_ENTRIES, RUN_BYTES = 16, 64 * 2**20  # generator runs
ESTIMATES: ResultCache[DrawnEstimates] = ResultCache(CACHE_ENTRIES, CACHE_BYTES)
SWEEPS: ResultCache[DrawnSweep] = ResultCache(CACHE_ENTRIES, CACHE_BYTES)
RUNS: ResultCache[Toy2dResult] = ResultCache(RUN_ENTRIES, RUN_BYTES)


def cached_estimates(code: str, progress: ProgressCallback | None = None) -> DrawnEstimates:
    """`estimate_drawing` of the drawing with this code, computed once for every caller (ESTIMATES)."""
    return ESTIMATES.get(code, lambda: estimate_drawing(Drawing.from_code(code), progress=progress))


def cached_sweep(code: str, direction: str, progress: ProgressCallback | None = None) -> DrawnSweep:
    """`sweep_drawing` of this drawing and direction, computed once for every caller (SWEEPS)."""
    return SWEEPS.get(f"{direction}:{code}", lambda: sweep_drawing(Drawing.from_code(code), direction,
                                                                    progress=progress))  # fmt: skip


def generator_key(code: str, losses: Sequence[str] = TOY_LOSSES, seed: int = 0) -> str:
    """The cache key of a generator run towards a drawing: what `cached_generator_run` takes."""
    return json.dumps({"drawing": code, "losses": list(losses), "seed": seed})


def cached_generator_run(key: str, progress: ProgressCallback | None = None) -> Toy2dResult:
    """The MLP generator trained towards a drawing (`generator_key`), computed once for every caller (RUNS)."""

    def train() -> Toy2dResult:
        settings = json.loads(key)
        config = drawn_generator_config(settings["drawing"], losses=tuple(settings["losses"]), seed=settings["seed"])
        run = train_generator(config, progress=progress)
        assert isinstance(run, Toy2dResult)
        return run

    return RUNS.get(key, train)


__all__ = [
    "CACHE_BYTES",
    "CACHE_ENTRIES",
    "ESTIMATES",
    "RUNS",
    "RUN_BYTES",
    "RUN_ENTRIES",
    "SWEEPS",
    "ResultCache",
    "cached_estimates",
    "cached_generator_run",
    "cached_sweep",
    "generator_key",
]
