"""Release orchestration: which allocated orders go to their fulfilment node, when, and why not.

* :mod:`hub.release.policy`: the ``release:`` section of a tenant in the deployment file.
* :mod:`hub.release.candidates`: what waits for release, read from the ledger (read-only).
* :func:`hub.release.planner.plan_wave`: the pure planning function.
* :mod:`hub.release.run`: the wave as fulfilment requests applied to the ledger.
* :mod:`hub.release.cli`: ``hub release plan|run``.

See docs/release.md.
"""

from hub.release.model import (
    Candidate,
    CandidateLine,
    DayUsage,
    Decision,
    LocationWave,
    Reason,
    WavePlan,
)
from hub.release.planner import plan_wave
from hub.release.policy import ReleasePolicy

__all__ = [
    "Candidate",
    "CandidateLine",
    "DayUsage",
    "Decision",
    "LocationWave",
    "Reason",
    "ReleasePolicy",
    "WavePlan",
    "plan_wave",
]
