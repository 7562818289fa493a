"""Deterministic interleavings of vCPUs: round-robin, seeded random, and PCT.

The machine runs one vCPU at a time for a *slice* of N guest instructions (N = 1 makes
every instruction boundary a possible switch, even inside a TB; with ``jitter`` each
slice's length is drawn from 1..N, so a switch may still fall between any two
instructions while some vCPUs also get held off for a long stretch, which is what an
ABA needs: another vCPU running a whole pop-pop-push between one vCPU's LL and SC).
Which vCPU runs next is chosen here from a seeded PRNG only, so the same config and seed
give the same run, bit for bit.

PCT (Burckhardt et al., "A Randomized Scheduler with Probabilistic Guarantees of Finding
Bugs", ASPLOS 2010): each vCPU gets a distinct random priority >= d; the runnable vCPU of
highest priority runs; at d-1 distinct random change points (slice numbers drawn from
the first ``horizon`` slices) the running vCPU's priority drops below every other, to
d-1, d-2, ... 1.  PCT assumes programs that terminate under any schedule; guest spin
loops do not (the highest-priority vCPU would spin on a lower one forever), so the
change points repeat every ``horizon`` slices, each demotion going lower still: a
spinning vCPU is eventually demoted and the run makes progress.
"""

from __future__ import annotations

import random
from typing import Sequence

from .config import ScheduleConfig

PCT_DEFAULT_HORIZON = 10_000  # slices, when max_insns gives no bound
DEFAULT_SLICE = 64  # guest instructions, when ``slice`` is 0 and there are several vCPUs
UNSLICED = 1 << 40  # a lone vCPU's slice when ``slice`` is 0: it runs until it stops


def slice_for(config: ScheduleConfig, n_cpus: int) -> int:
    """The slice length: ``slice`` when set, else 64 between several vCPUs and no slicing
    for one.

    A lone vCPU has nobody to be switched with, so its slices end only to start again:
    pure overhead, and a backend's run stopped mid-TB at every end.  QEMU likewise starts
    its round-robin kick timer only when there is more than one vCPU.  A slice set
    explicitly is honoured even for one vCPU (tests use that to end slices inside TBs).
    """
    if config.slice:
        return config.slice
    return DEFAULT_SLICE if n_cpus > 1 else UNSLICED


class Scheduler:
    """Chooses the next vCPU to run; ``pick`` is called once per slice."""

    def __init__(self, config: ScheduleConfig, n_cpus: int):
        self.config = config
        self.n_cpus = n_cpus
        self.slice = slice_for(config, n_cpus)
        self.rng = random.Random(config.seed)
        self.step = 0
        self.last = -1
        self.policy = config.policy
        if self.policy == "pct":
            d = config.pct_depth
            horizon = (config.max_insns // self.slice) if config.max_insns else PCT_DEFAULT_HORIZON
            self.horizon = max(horizon, d + 1)
            prios = list(range(d, d + n_cpus))
            self.rng.shuffle(prios)
            self.priority = prios
            self.change_points = sorted(self.rng.sample(range(1, self.horizon), d - 1))
            self.next_low = d - 1

    def slice_len(self) -> int:
        """Guest instructions the next slice may run: ``slice``, or 1..slice with jitter."""
        if self.config.jitter and 1 < self.slice < UNSLICED:
            return self.rng.randint(1, self.slice)
        return self.slice

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
        if self.step % self.horizon in self.change_points and self.last >= 0:
            self.priority[self.last] = self.next_low
            self.next_low -= 1
        return max(runnable, key=lambda i: self.priority[i])
