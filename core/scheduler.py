"""Deterministic interleavings of vCPUs: round-robin, seeded random, and PCT.

The machine runs one vCPU at a time for a *slice* of N guest instructions (N = 1 makes
every instruction boundary a possible switch, even inside a TB).  Which vCPU runs next
is chosen here from a seeded PRNG only, so the same config and seed give the same run,
bit for bit.

PCT (Burckhardt et al., "A Randomized Scheduler with Probabilistic Guarantees of Finding
Bugs", ASPLOS 2010): each vCPU gets a distinct random priority >= d; the runnable vCPU of
highest priority runs; at d-1 random change points (slice numbers drawn from the first
``horizon`` slices) the running vCPU's priority drops to i (< d), for the i-th point.
"""

from __future__ import annotations

import random
from typing import Sequence

from .config import ScheduleConfig

PCT_DEFAULT_HORIZON = 10_000  # slices, when max_insns gives no bound


class Scheduler:
    """Chooses the next vCPU to run; ``pick`` is called once per slice."""

    def __init__(self, config: ScheduleConfig, n_cpus: int):
        self.config = config
        self.n_cpus = n_cpus
        self.rng = random.Random(config.seed)
        self.step = 0
        self.last = -1
        self.policy = config.policy
        if self.policy == "pct":
            horizon = (config.max_insns // config.slice) if config.max_insns else PCT_DEFAULT_HORIZON
            d = config.pct_depth
            prios = list(range(d, d + n_cpus))
            self.rng.shuffle(prios)
            self.priority = prios
            self.change_points = {self.rng.randrange(1, max(2, horizon)): d - 1 - i
                                  for i in range(d - 1)}

    def pick(self, runnable: Sequence[int]) -> int:
        """Index of the vCPU to run next, from the non-empty sorted ``runnable``."""
        self.step += 1
        if self.policy == "round-robin":
            choice = next((i for i in runnable if i > self.last), runnable[0])
        elif self.policy == "random":
            choice = runnable[self.rng.randrange(len(runnable))]
        else:
            choice = self._pick_pct(runnable)
        self.last = choice
        return choice

    def _pick_pct(self, runnable: Sequence[int]) -> int:
        if self.step in self.change_points and self.last >= 0:
            self.priority[self.last] = self.change_points[self.step]
        return max(runnable, key=lambda i: self.priority[i])
