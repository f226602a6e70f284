"""Timing helper: best of several repeats (the minimum is the least noisy estimate)."""

import time


def best_time(fn, repeat: int = 7, number: int = 1) -> float:
    """Best wall-clock seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
