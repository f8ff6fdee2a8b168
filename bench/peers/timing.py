"""Timing shared by the PyTorch peers."""

import time


def timed(fn, runs, warmup):
    """Runs fn warmup times untimed, then runs times; returns the last output and the times in ms."""
    for _ in range(warmup):
        fn()
    times = []
    out = None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - start) * 1e3)
    return out, times
