"""publish.Spliced: a file made of ranges of another file and bytes in memory reads, hashes and
writes as the joined bytes, whatever happens to the source's name meanwhile."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsite.publish import Spliced, file_bytes, write_bytes


@st.composite
def spliced_parts(draw):
    source = draw(st.binary(min_size=1, max_size=3000))
    parts, want = [], b""
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            a = draw(st.integers(0, len(source)))
            b = draw(st.integers(a, len(source)))
            parts.append((a, b))
            want += source[a:b]
        else:
            piece = draw(st.binary(max_size=50))
            parts.append(piece)
            want += piece
    return source, parts, want


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spliced_parts(), st.sampled_from([1, 7, 1 << 20]))
def test_a_spliced_file_is_its_joined_bytes(tmp_path: Path, got, chunk):
    source, parts, want = got
    src = tmp_path / "source"
    src.write_bytes(source)
    s = Spliced(src, parts, source_sha256=hashlib.sha256(source).hexdigest())  # stands for ours only when we are the whole source
    s.CHUNK = chunk  # reads in small pieces too
    assert s.known is None or want == source
    if parts == [source[:3], (3, len(source))] and len(source) >= 3:  # how a CSV of only old lines is spliced
        assert s.known is not None
    assert len(s) == len(want) and bytes(s) == want == file_bytes(s)
    assert s.sha256() == hashlib.sha256(want).hexdigest()
    out = tmp_path / "out"
    write_bytes(out, s)
    assert out.read_bytes() == want


def test_the_whole_source_spliced_is_known_by_the_sources_digest(tmp_path: Path):
    src = tmp_path / "blob"
    src.write_bytes(b"header\nline 1\nline 2\n")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert Spliced(src, [b"header\n", (7, 21)], source_sha256=digest).sha256() == digest
    assert Spliced(src, [b"header\n", (7, 14), (14, 21)], source_sha256=digest).known == digest
    # Not the whole source, or other bytes: hashed.
    assert Spliced(src, [b"header\n", (7, 14)], source_sha256=digest).known is None
    assert Spliced(src, [b"HEADER\n", (7, 21)], source_sha256=digest).known is None


def test_the_source_may_be_renamed_or_removed_once_spliced(tmp_path: Path):
    src = tmp_path / "blob"
    src.write_bytes(b"header\nline 1\nline 2\n")
    s = Spliced(src, [b"header\n", (14, 21), b"new\n"])
    src.rename(tmp_path / "moved")
    (tmp_path / "moved").unlink()
    write_bytes(tmp_path / "out.csv", s)
    assert (tmp_path / "out.csv").read_bytes() == b"header\nline 2\nnew\n"
    assert os.stat(tmp_path / "out.csv").st_mode & 0o777 == 0o666 & ~_umask()


def test_a_range_past_the_end_is_refused(tmp_path: Path):
    src = tmp_path / "blob"
    src.write_bytes(b"short")
    with pytest.raises(ValueError):
        Spliced(src, [(0, 6)])


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spliced_parts())
def test_a_materialized_file_is_a_blob_of_its_bytes_and_is_published_as_a_link_of_it(tmp_path: Path, got):
    source, parts, want = got
    case = tmp_path / os.urandom(6).hex()
    case.mkdir()
    (case / "source").write_bytes(source)
    s = Spliced(case / "source", parts)
    s.materialize(case / "blobs")
    digest = hashlib.sha256(want).hexdigest()
    blob = case / "blobs" / digest[:2] / digest
    assert s.sha256() == digest and s.made() == (blob, digest)
    assert blob.read_bytes() == want
    write_bytes(case / "site" / "data.csv", s)
    assert (case / "site" / "data.csv").stat().st_ino == blob.stat().st_ino
    assert [p.name for p in (case / "blobs").iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_materialized_file_takes_the_mode_a_written_one_would(tmp_path: Path):
    (tmp_path / "source").write_bytes(b"a,b\n1,2\n")
    old = os.umask(0o022)
    try:
        s = Spliced(tmp_path / "source", [b"x,y\n", (4, 8)])
        s.materialize(tmp_path / "blobs")
        write_bytes(tmp_path / "site.csv", s)
        write_bytes(tmp_path / "plain.csv", b"x,y\n1,2\n")
    finally:
        os.umask(old)
    assert (tmp_path / "site.csv").read_bytes() == b"x,y\n1,2\n"
    assert (tmp_path / "site.csv").stat().st_mode == (tmp_path / "plain.csv").stat().st_mode  # readable by a web server as any published file


def test_an_existing_blob_of_the_same_bytes_is_kept(tmp_path: Path):
    (tmp_path / "source").write_bytes(b"header\nline\n")
    want = b"header\nother\n"
    digest = hashlib.sha256(want).hexdigest()
    blob = tmp_path / "blobs" / digest[:2] / digest
    blob.parent.mkdir(parents=True)
    blob.write_bytes(want)
    before = blob.stat()
    s = Spliced(tmp_path / "source", [(0, 7), b"other\n"])
    s.materialize(tmp_path / "blobs")
    assert s.made() == (blob, digest)
    after = blob.stat()
    assert (after.st_ino, after.st_ctime_ns) == (before.st_ino, before.st_ctime_ns)  # its stat may be signed by a snapshot
