"""What changed between versions, from their data/metrics.json documents (pure).

`compare` lists every figure that moved since the previous version and every status that changed;
`trends` lines up each figure across the earlier releases found in the output folder or history.
"""
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


@dataclass(frozen=True)
class ReleasePoint:
    period: str  # the version name (named `period` so the theme's sparkline helper takes a Trend)
    value: float | None
    status: str | None


@dataclass(frozen=True)
class Trend:
    """One figure of one value stream across releases, oldest first (the last is this version)."""

    value_stream: str
    value_stream_name: str
    metric: str
    name: str
    unit: str
    direction: str | None
    trend: tuple[ReleasePoint, ...]
    decimals: int = 1

    def at(self, version: str) -> ReleasePoint | None:
        return next((p for p in self.trend if p.period == version), None)


@dataclass
class Comparison:
    previous: str | None
    previous_title: str | None
    changes: list[Change] = field(default_factory=list)
    new_value_streams: list[str] = field(default_factory=list)
    dropped_value_streams: list[str] = field(default_factory=list)
    new_figures: list[tuple[str, str]] = field(default_factory=list)  # (value stream name, figure name)
    dropped_figures: list[tuple[str, str]] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)  # versions in `trends`, oldest first
    trends: list[Trend] = field(default_factory=list)
    # A digest of the earlier versions' documents it was made from (None: not known), which stands
    # for them where the compare page keeps a value stream's rows from the last build.
    sources: str | None = None

    @property
    def status_changes(self) -> list[Change]:
        return [c for c in self.changes if c.status_changed]

    @property
    def moved(self) -> list[Change]:
        return [c for c in self.changes if c.before != c.after]


def trends(earlier: list[dict], current: dict) -> tuple[list[str], list[Trend]]:
    """Each current figure across EARLIER documents (oldest first) and this one; only when there is history."""
    docs = [d for d in earlier if d.get("metadata", {}).get("version") != current.get("metadata", {}).get("version")] + [current]
    if len(docs) < 2:
        return [], []
    releases = [d.get("metadata", {}).get("version", "?") for d in docs]
    lookup = [{(c["id"], f["metric"]): f for c in d.get("scorecards", []) for f in c.get("figures", [])} for d in docs]
    rows = []
    for card in current.get("scorecards", []):
        for f in card.get("figures", []):
            points = tuple(ReleasePoint(r, (lk.get((card["id"], f["metric"])) or {}).get("value"), (lk.get((card["id"], f["metric"])) or {}).get("status"))
                           for r, lk in zip(releases, lookup))
            rows.append(Trend(card["id"], card["name"], f["metric"], f["name"], f.get("unit", ""), f.get("direction"), points))
    return releases, rows


def compare(previous: dict | None, current: dict, earlier: list[dict] | None = None) -> Comparison:
    """PREVIOUS is the version just before CURRENT; EARLIER (oldest first) feeds the trend table."""
    releases, rows = trends(earlier or ([previous] if previous else []), current)
    if previous is None:
        return Comparison(None, None, releases=releases, trends=rows)
    meta = previous.get("metadata", {})
    before = {c["id"]: c for c in previous.get("scorecards", [])}
    after = {c["id"]: c for c in current.get("scorecards", [])}
    out = Comparison(meta.get("version"), meta.get("version_title") or meta.get("version"), releases=releases, trends=rows)
    out.new_value_streams = sorted(after[k]["name"] for k in after.keys() - before.keys())
    out.dropped_value_streams = sorted(before[k]["name"] for k in before.keys() - after.keys())
    for vs_id in [k for k in after if k in before]:
        b = {f["metric"]: f for f in before[vs_id]["figures"]}
        a = {f["metric"] for f in after[vs_id]["figures"]}
        out.dropped_figures += [(after[vs_id]["name"], f["name"]) for f in before[vs_id]["figures"] if f["metric"] not in a]
        for f in after[vs_id]["figures"]:
            p = b.get(f["metric"])
            if p is None:
                out.new_figures.append((after[vs_id]["name"], f["name"]))
                continue
            moved = p.get("value") != f.get("value") and not (p.get("value") is None and f.get("value") is None)
            if moved or p.get("status") != f.get("status"):
                out.changes.append(Change(vs_id, after[vs_id]["name"], f["metric"], f["name"], f.get("unit", ""), p.get("value"), f.get("value"),
                                          p.get("status"), f.get("status"), f.get("direction")))
    out.changes.sort(key=lambda c: (c.value_stream, c.metric))
    return out
