"""A pack written from the last build's pack copies the items that pack already holds (ranges of its
file, by the kernel) and writes the others; read back, every item is exactly what was packed."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite import incremental
from flowsite.incremental import _write_pack

KEYS = st.text(alphabet="abcdef", min_size=1, max_size=3)
ITEMS = st.dictionaries(KEYS, st.binary(max_size=40), max_size=12)


def _read_back(path: Path, info: dict) -> dict[str, bytes]:
    data = path.read_bytes()
    assert len(data) == info["sig"][0]
    return {key: data[at:at + n] for key, at, n in info["spans"]}


def _source(path: Path, info: dict):
    return path, memoryview(path.read_bytes()), {key: (at, n) for key, at, n in info["spans"]}


@settings(max_examples=150, deadline=None)
@given(old=ITEMS, new=ITEMS, kept=st.sets(KEYS))
def test_a_pack_from_the_last_one_reads_back_as_its_items(tmp_path_factory, old, new, kept):
    tmp = tmp_path_factory.mktemp("packs")
    items = {**new, **{k: v for k, v in old.items() if k in kept}}  # some items as they were, some changed, some new
    first = _write_pack(tmp / "old.pack", old)
    assert _read_back(tmp / "old.pack", first) == old
    second = _write_pack(tmp / "new.pack", items, _source(tmp / "old.pack", first))
    assert _read_back(tmp / "new.pack", second) == items


def test_items_the_last_pack_holds_are_copied_from_it(tmp_path: Path, monkeypatch):
    old = {"a": b"alpha" * 100, "b": b"beta" * 100, "c": b"gamma" * 100}
    first = _write_pack(tmp_path / "old.pack", old)
    made = []
    real = incremental.Spliced

    def spy(source, parts, **kw):
        made.append(parts)
        return real(source, parts, **kw)

    monkeypatch.setattr(incremental, "Spliced", spy)
    items = {"a": old["a"], "b": b"changed", "c": old["c"], "d": b"new"}
    second = _write_pack(tmp_path / "new.pack", items, _source(tmp_path / "old.pack", first))
    assert _read_back(tmp_path / "new.pack", second) == items
    spans = {k: (at, at + n) for k, at, n in first["spans"]}
    assert made == [[spans["a"], b"changed", spans["c"], b"new"]]
