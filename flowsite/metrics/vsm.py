"""Value stream map figures (Martin & Osterling): total lead and process time, activity ratio, rolled %C&A."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..config import read_yaml
from ..errors import Problem, SourceError

UNITS = {"minutes": 1 / 60, "hours": 1.0, "days": 24.0, "weeks": 168.0}


@dataclass(frozen=True)
class Step:
    name: str
    process_hours: float
    lead_hours: float
    pct_complete_accurate: float | None

    @property
    def wait_hours(self) -> float:
        return self.lead_hours - self.process_hours


@dataclass(frozen=True)
class ValueStreamMap:
    title: str
    steps: tuple[Step, ...]

    @property
    def total_lead_hours(self) -> float:
        return sum(s.lead_hours for s in self.steps)

    @property
    def total_process_hours(self) -> float:
        return sum(s.process_hours for s in self.steps)

    @property
    def activity_ratio(self) -> float | None:
        return self.total_process_hours / self.total_lead_hours * 100 if self.total_lead_hours else None

    @property
    def rolled_pca(self) -> float | None:
        pcas = [s.pct_complete_accurate for s in self.steps]
        if not pcas or any(p is None for p in pcas):
            return None
        return math.prod(p / 100 for p in pcas) * 100

    @property
    def bottleneck(self) -> Step | None:
        """The step with the longest wait (lead time minus process time)."""
        return max(self.steps, key=lambda s: (s.wait_hours, s.lead_hours), default=None)


def load_map(path: Path, shown: str) -> ValueStreamMap:
    """Read a map YAML: `unit` (minutes|hours|days|weeks, default hours) and `steps`."""
    data, lines = read_yaml(path, shown)
    problems: list[Problem] = []

    def bad(key: str, msg: str, hint: str | None = None) -> None:
        problems.append(Problem(msg, file=shown, line=lines.get(key), key=key, hint=hint))

    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise SourceError(problems=[Problem("expected a mapping with a non-empty `steps` list", file=shown, hint="steps: [{name: Code review, process_time: 2, lead_time: 20, pct_complete_accurate: 90}]")])
    unit = data.get("unit", "hours")
    if unit not in UNITS:
        bad("unit", f"expected one of {', '.join(UNITS)}, got {unit!r}")
        unit = "hours"
    steps = []
    for i, raw in enumerate(data["steps"]):
        key = f"steps[{i}]"
        if not isinstance(raw, dict):
            bad(key, "expected a mapping with name, process_time and lead_time")
            continue
        vals = {}
        for f in ("process_time", "lead_time"):
            v = raw.get(f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                bad(f"{key}.{f}", f"expected a number >= 0 ({unit}), got {v!r}")
            vals[f] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
        pca = raw.get("pct_complete_accurate")
        if pca is not None and (isinstance(pca, bool) or not isinstance(pca, (int, float)) or not 0 <= pca <= 100):
            bad(f"{key}.pct_complete_accurate", f"expected a percentage between 0 and 100, got {pca!r}")
            pca = None
        if vals["lead_time"] < vals["process_time"]:
            bad(f"{key}.lead_time", f"expected lead_time >= process_time ({vals['process_time']:g}), got {vals['lead_time']:g}", "lead time includes the process time plus waiting")
        steps.append(Step(str(raw.get("name") or f"Step {i + 1}"), vals["process_time"] * UNITS[unit], vals["lead_time"] * UNITS[unit], float(pca) if pca is not None else None))
    if problems:
        raise SourceError(problems=problems)
    return ValueStreamMap(str(data.get("title") or ""), tuple(steps))
