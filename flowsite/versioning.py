"""versions.json in mike's format: [{"version", "title", "aliases": [...]}], newest first.

`Versions` is a pure model (no git, no site writing) so it can be tested on its own. Ordering is by
period when names look like periods (2026-10, 2026-Q3, 2026-W05, 2026-10-31) or versions (1.2.3),
not by string. The functions at the end (`list_site`, `delete`, `alias`, `set_default`, `retitle`)
apply the model to a built output folder, each in one atomic `publish.transaction`.
"""
from __future__ import annotations

import calendar
import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ._schema import CONTROL
from .errors import Problem, VersionError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
RESERVED = {"assets", "versions.json", "index.html", "404.html", "sitemap.xml", ".nojekyll"}


def validate_name(name: str, what: str = "version name") -> str:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or any(c.isspace() for c in name) or not NAME_RE.fullmatch(name) or name in RESERVED:
        raise VersionError(problems=[Problem(f"invalid {what} {name!r}: expected letters, digits, '.', '_', '+' or '-', not starting with '.' (no slashes or spaces)", hint="use a period such as 2026-10 or 2026-Q3")])
    return name


def _period_end(name: str) -> tuple[dt.date, int] | None:
    """(last day, granularity) of a period-like name; granularity breaks ties (day < week < month < quarter)."""
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", name):
            return dt.date(int(m[1]), int(m[2]), int(m[3])), 0
        if m := re.fullmatch(r"(\d{4})-[Ww](\d{1,2})", name):
            return dt.date.fromisocalendar(int(m[1]), int(m[2]), 7), 1
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", name):
            y, mo = int(m[1]), int(m[2])
            return dt.date(y, mo, calendar.monthrange(y, mo)[1]), 2
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", name):
            y, mo = int(m[1]), int(m[2]) * 3
            return dt.date(y, mo, calendar.monthrange(y, mo)[1]), 3
    except ValueError:  # 2026-13, week 60: not a period after all
        return None
    return None


def sort_key(name: str) -> tuple:
    """Later periods sort higher: 2026-10 after 2026-9, a quarter after its last month, 1.10 after 1.9.

    Dated names sort above version numbers, which sort above other names (by text).
    """
    end = _period_end(name)
    if end is not None:
        return (2, end[0].toordinal(), end[1], 0, name)
    m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.]+))?", name)
    if m:
        # A pre-release (1.2.0-rc1) sorts before its release (1.2.0).
        return (1, int(m[1]), int(m[2] or 0), int(m[3] or 0) * 2 + (0 if m[4] else 1), m[4] or "")
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
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise VersionError(problems=[Problem(f"expected mike's versions.json format, could not read it ({exc})", file=str(path), hint="restore the file from the published site or delete it to start over")]) from None
        # Names become folder names: a hand-edited `../x` must never reach a path join.
        for v in items:
            for name in [v.version, *v.aliases]:
                try:
                    validate_name(name, "version name" if name == v.version else "alias")
                except VersionError as exc:
                    raise VersionError(problems=[Problem(exc.problems[0].message, file=str(path), hint="fix or remove this entry of versions.json")]) from None
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

    def set_alias(self, version: str, alias: str, *, update_aliases: bool = True) -> VersionInfo | None:
        """Point alias at version; returns the version it was taken from, if any."""
        target = self.find(version)
        if target is None:
            raise VersionError(problems=[Problem(f"no version named {version!r}", hint="see `flowsite versions list`")])
        validate_name(alias, "alias")
        if self.find(alias):
            raise VersionError(problems=[Problem(f"{alias!r} is a version name, not an alias")])
        holder = next((v for v in self.items if alias in v.aliases), None)
        if holder is not None and holder is not target and not update_aliases:
            raise VersionError(problems=[Problem(f"alias {alias!r} already points to {holder.version}", hint="pass --update-aliases to move it")])
        if holder is not None:
            holder.aliases.remove(alias)
        target.aliases = sorted(set(target.aliases) | {alias})
        return holder if holder is not target else None

    def remove_alias(self, alias: str) -> VersionInfo:
        holder = next((v for v in self.items if alias in v.aliases), None)
        if holder is None:
            raise VersionError(problems=[Problem(f"no version or alias named {alias!r}", hint="see `flowsite versions list`")])
        holder.aliases.remove(alias)
        return holder

    def retitle(self, version: str, title: str) -> None:
        target = self.find(version)
        if target is None:
            raise VersionError(problems=[Problem(f"no version named {version!r}", hint="see `flowsite versions list`")])
        if not title.strip() or CONTROL.search(title):
            raise VersionError(problems=[Problem(f"expected a non-empty version title without control characters, got {title!r}")])
        target.title = title

    def all_names(self) -> set[str]:
        return {v.version for v in self.items} | {a for v in self.items for a in v.aliases}


# ---- operations on a built output folder ------------------------------------------------------

DEFAULT_META = re.compile(r'<meta name="flowsite-default" content="([^"]+)"')


def read_default(out: Path) -> str | None:
    """The default version or alias recorded in OUT/index.html (what the root redirects to)."""
    index = out / "index.html"
    if index.is_file():
        m = DEFAULT_META.search(index.read_text(encoding="utf-8", errors="replace"))
        if m:
            return html.unescape(m.group(1))
    return None


def _site_title(out: Path) -> str:
    index = out / "index.html"
    if index.is_file():
        m = re.search(r"<title>(.*?)</title>", index.read_text(encoding="utf-8", errors="replace"), re.S)
        if m:
            return html.unescape(m.group(1).strip())
    return "flowsite"


def load_site(out: Path) -> Versions:
    """The versions of a built output folder; an error when OUT is not one."""
    path = Path(out) / "versions.json"
    if not path.is_file():
        raise VersionError(problems=[Problem("no versions.json here: not a flowsite output folder", file=str(out), hint="pass --out with the folder `flowsite build` wrote")])
    return Versions.load(path)


def list_site(out: Path) -> tuple[Versions, str | None]:
    return load_site(out).sorted(), read_default(Path(out))


def _pick_default(versions: Versions, wanted: str | None) -> str:
    names = versions.all_names()
    if wanted in names:
        return wanted
    return "latest" if "latest" in names else versions.newest().version


def _rewrite_root(staging: Path, versions: Versions, default: str, title: str, dropped: set[str]) -> None:
    """versions.json, the root redirect, 404.html and sitemap.xml after a change of versions."""
    from .publish import write_bytes
    from .render import BUILTIN, CSP, Theme, environment

    env = environment(Theme((BUILTIN,)))
    data = versions.dumps()
    write_bytes(staging / "versions.json", data.encode("utf-8"))
    write_bytes(staging / "index.html", env.get_template("redirect.html").render(target=f"{default}/", default=default, title=title, csp=CSP).encode("utf-8"))
    m = re.search(r'<meta name="flowsite-base" content="([^"]*)"', (staging / "404.html").read_text(encoding="utf-8")) if (staging / "404.html").is_file() else None
    base = html.unescape(m.group(1)) if m else ""
    write_bytes(staging / "404.html", env.get_template("404.html").render(title=title, default=default, csp=CSP, versions=json.loads(data), base=base).encode("utf-8"))
    sitemap = staging / "sitemap.xml"
    if sitemap.is_file() and dropped:
        text = sitemap.read_text(encoding="utf-8")
        # Drop the <url> entries under a removed folder; the others stay exactly as the build wrote them.
        keep = [u for u in re.findall(r"<url>.*?</url>", text, re.S)
                if not any(re.search(rf"<loc>[^<]*/{re.escape(html.escape(d))}/", u) for d in dropped)]
        head = text[: text.index(">", text.index("<urlset")) + 1]
        write_bytes(sitemap, (head + "".join(keep) + "</urlset>\n").encode("utf-8"))


def _commit(out: Path, change) -> None:
    from .publish import transaction

    out = Path(out).resolve()
    load_site(out)  # fail before making a staging copy of a folder that is not a site
    with transaction(out) as staging:
        # Read under the lock, from the copy: a build that finished meanwhile is not overwritten.
        versions = load_site(staging)
        default, title = read_default(staging), _site_title(staging)
        new_default, dropped = change(staging, versions, default)
        _rewrite_root(staging, versions, _pick_default(versions, new_default), title, dropped)


def delete(out: Path, name: str) -> list[str]:
    """Delete a version (its folder, its aliases' folders, its entry) or, given an alias, only that alias.

    Deleting the version that holds `latest` moves `latest` to the newest remaining version, so the
    root redirect keeps working. Other versions' folders are not touched.
    """
    from .publish import link_tree, remove_tree

    notes: list[str] = []

    def change(staging: Path, versions: Versions, default: str | None):
        info = versions.find(name)
        if info is None:
            holder = versions.remove_alias(name)  # raises when it is neither
            remove_tree(staging / name)
            notes.append(f"removed alias {name} of {holder.version}")
            return default, {name}
        if len(versions.items) == 1:
            raise VersionError(problems=[Problem(f"{name} is the only version of this site", hint="delete the output folder instead, or build another version first")])
        versions.remove(name)
        dropped = {name, *info.aliases}
        for n in sorted(dropped):
            remove_tree(staging / n)
        notes.append(f"deleted version {name}" + (f" and its aliases {', '.join(info.aliases)}" if info.aliases else ""))
        if "latest" in info.aliases:
            newest = versions.newest()
            newest.aliases = sorted(set(newest.aliases) | {"latest"})
            link_tree(staging / newest.version, staging / "latest")
            dropped.discard("latest")
            notes.append(f"moved alias latest to {newest.version}")
        return default, dropped

    _commit(out, change)
    return notes


def alias(out: Path, version: str, name: str, *, update_aliases: bool = False) -> list[str]:
    """Add alias NAME to VERSION: a copy (hard links) of its folder under OUT/NAME."""
    from .publish import link_tree, remove_tree

    notes: list[str] = []

    def change(staging: Path, versions: Versions, default: str | None):
        before = versions.set_alias(version, name, update_aliases=update_aliases)
        remove_tree(staging / name)
        link_tree(staging / version, staging / name)
        notes.append(f"alias {name} -> {version}" + (f" (moved from {before.version})" if before else ""))
        return default, set()

    _commit(out, change)
    return notes


def set_default(out: Path, name: str) -> list[str]:
    """Make the root index.html redirect to NAME (a version or an alias); later builds keep it."""

    def change(staging: Path, versions: Versions, default: str | None):
        if versions.resolve(name) is None:
            raise VersionError(problems=[Problem(f"no version or alias named {name!r}", hint="see `flowsite versions list`")])
        return name, set()

    _commit(out, change)
    return [f"the site root now redirects to {name}/"]


def retitle(out: Path, version: str, title: str) -> list[str]:
    """Change the title shown in the version switcher (versions.json); pages are not rewritten."""

    def change(staging: Path, versions: Versions, default: str | None):
        versions.retitle(version, title)
        return default, set()

    _commit(out, change)
    return [f"version {version} is now titled {title!r}"]
