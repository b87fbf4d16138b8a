"""versions.json in mike's format: [{"version", "title", "aliases": [...]}], newest first.

Pure model (no git, no site writing) so it can be tested on its own. Ordering is by period when
names look like periods (2026-10, 2026-Q3, 2026-W05, 2026-10-31) or versions (1.2.3), not by string.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem, VersionError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
RESERVED = {"assets", "versions.json", "index.html", "404.html", "sitemap.xml", ".nojekyll"}


def validate_name(name: str, what: str = "version name") -> str:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or any(c.isspace() for c in name) or not NAME_RE.fullmatch(name) or name in RESERVED:
        raise VersionError(problems=[Problem(f"invalid {what} {name!r}: expected letters, digits, '.', '_', '+' or '-', not starting with '.' (no slashes or spaces)", hint="use a period such as 2026-10 or 2026-Q3")])
    return name


def sort_key(name: str) -> tuple:
    """Later periods sort higher. Mixed schemes fall back to text after dated names."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", name)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return (2, y, mo * 100 + (d or 99), 0, name)
    m = re.fullmatch(r"(\d{4})-[Qq]([1-4])", name)
    if m:
        y, q = int(m.group(1)), int(m.group(2))
        return (2, y, q * 3 * 100 + 99, 1, name)  # a quarter sorts after its last month
    m = re.fullmatch(r"(\d{4})-[Ww](\d{1,2})", name)
    if m:
        y, w = int(m.group(1)), int(m.group(2))
        return (2, y, min(12, (w * 7) // 30 + 1) * 100 + min(99, (w * 7) % 30), 0, name)
    m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", name)
    if m:
        return (1, int(m.group(1)), int(m.group(2) or 0) * 1000 + int(m.group(3) or 0), 0, name)
    return (0, 0, 0, 0, name)


@dataclass
class VersionInfo:
    version: str
    title: str
    aliases: list[str] = field(default_factory=list)
    properties: dict | None = None

    def to_json(self) -> dict:
        d = {"version": self.version, "title": self.title, "aliases": list(self.aliases)}
        if self.properties:
            d["properties"] = self.properties
        return d


@dataclass
class Versions:
    items: list[VersionInfo] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "Versions":
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = [VersionInfo(d["version"], d.get("title", d["version"]), list(d.get("aliases", [])), d.get("properties")) for d in data]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise VersionError(problems=[Problem(f"expected mike's versions.json format, could not read it ({exc})", file=str(path), hint="restore the file from the published site or delete it to start over")]) from None
        return cls(items)

    def dumps(self) -> str:
        return json.dumps([v.to_json() for v in self.sorted().items], indent=2, ensure_ascii=False) + "\n"

    def sorted(self) -> "Versions":
        return Versions(sorted(self.items, key=lambda v: sort_key(v.version), reverse=True))

    def find(self, name: str) -> VersionInfo | None:
        return next((v for v in self.items if v.version == name), None)

    def resolve(self, name: str) -> VersionInfo | None:
        """A version by name or alias."""
        return self.find(name) or next((v for v in self.items if name in v.aliases), None)

    def newest(self) -> VersionInfo | None:
        s = self.sorted().items
        return s[0] if s else None

    def add(self, version: str, title: str | None = None, aliases: list[str] | tuple[str, ...] = (), *, update_aliases: bool = True) -> VersionInfo:
        validate_name(version)
        for a in aliases:
            validate_name(a, "alias")
            if a == version:
                raise VersionError(problems=[Problem(f"alias {a!r} has the name of the version itself")])
            other = self.find(a)
            if other is not None:
                raise VersionError(problems=[Problem(f"alias {a!r} is already a version name", hint="pick another alias")])
            holder = next((v for v in self.items if a in v.aliases and v.version != version), None)
            if holder and not update_aliases:
                raise VersionError(problems=[Problem(f"alias {a!r} already points to {holder.version}", hint="pass --update-aliases to move it")])
        existing = self.find(version)
        if existing and version in {a for v in self.items for a in v.aliases}:
            pass
        if any(version in v.aliases for v in self.items):
            raise VersionError(problems=[Problem(f"{version!r} is already an alias", hint="delete the alias first or choose another version name")])
        for v in self.items:
            v.aliases = [a for a in v.aliases if a not in aliases or v.version == version]
        if existing:
            existing.title = title or existing.title
            existing.aliases = sorted(set(existing.aliases) | set(aliases))
            return existing
        info = VersionInfo(version, title or version, sorted(set(aliases)))
        self.items.append(info)
        return info

    def remove(self, name: str) -> VersionInfo:
        info = self.find(name)
        if info is None:
            raise VersionError(problems=[Problem(f"no version named {name!r}", hint="see `flowsite versions list`")])
        self.items.remove(info)
        return info

    def set_alias(self, version: str, alias: str) -> None:
        target = self.find(version)
        if target is None:
            raise VersionError(problems=[Problem(f"no version named {version!r}", hint="see `flowsite versions list`")])
        validate_name(alias, "alias")
        if self.find(alias):
            raise VersionError(problems=[Problem(f"{alias!r} is a version name, not an alias")])
        for v in self.items:
            if alias in v.aliases:
                v.aliases.remove(alias)
        target.aliases = sorted(set(target.aliases) | {alias})

    def all_names(self) -> set[str]:
        return {v.version for v in self.items} | {a for v in self.items for a in v.aliases}
