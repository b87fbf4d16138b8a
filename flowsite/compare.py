"""What changed between two versions, from their data/metrics.json documents (pure)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Change:
    value_stream: str
    value_stream_name: str
    metric: str
    name: str
    unit: str
    before: float | None
    after: float | None
    before_status: str | None
    after_status: str | None
    direction: str | None

    @property
    def delta(self) -> float | None:
        return self.after - self.before if self.before is not None and self.after is not None else None

    @property
    def pct(self) -> float | None:
        d = self.delta
        return d / abs(self.before) * 100 if d is not None and self.before else None

    @property
    def better(self) -> bool | None:
        d = self.delta
        if d is None or not self.direction or abs(d) < 1e-12:
            return None
        return (d > 0) == (self.direction == "higher")

    @property
    def status_changed(self) -> bool:
        return self.before_status != self.after_status


@dataclass
class Comparison:
    previous: str | None
    previous_title: str | None
    changes: list[Change] = field(default_factory=list)
    new_value_streams: list[str] = field(default_factory=list)
    dropped_value_streams: list[str] = field(default_factory=list)

    @property
    def status_changes(self) -> list[Change]:
        return [c for c in self.changes if c.status_changed]


def compare(previous: dict | None, current: dict) -> Comparison:
    if previous is None:
        return Comparison(None, None)
    meta = previous.get("metadata", {})
    before = {c["id"]: c for c in previous.get("scorecards", [])}
    after = {c["id"]: c for c in current.get("scorecards", [])}
    out = Comparison(meta.get("version"), meta.get("version_title") or meta.get("version"))
    out.new_value_streams = sorted(after[k]["name"] for k in after.keys() - before.keys())
    out.dropped_value_streams = sorted(before[k]["name"] for k in before.keys() - after.keys())
    for vs_id in [k for k in after if k in before]:
        b = {f["metric"]: f for f in before[vs_id]["figures"]}
        for f in after[vs_id]["figures"]:
            p = b.get(f["metric"])
            if p is None:
                continue
            moved = p.get("value") != f.get("value") and not (p.get("value") is None and f.get("value") is None)
            if moved or p.get("status") != f.get("status"):
                out.changes.append(Change(vs_id, after[vs_id]["name"], f["metric"], f["name"], f.get("unit", ""), p.get("value"), f.get("value"),
                                          p.get("status"), f.get("status"), f.get("direction")))
    out.changes.sort(key=lambda c: (c.value_stream, c.metric))
    return out
