import gzip
import io
import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.events import reader
from backend.events.reader import MAX_LINE_BYTES, FileReadError, Line, iter_lines, open_stream


def _lines(path: Path) -> list:
    stream, _ = open_stream(path)
    with stream:
        return list(iter_lines(stream))


def test_plain_and_gzip_give_the_same_lines(tmp_path: Path) -> None:
    body = b'{"a":1}\n\n   \n{"b":2}\r\n{"c":3}'
    plain = tmp_path / "e.jsonl"
    plain.write_bytes(body)
    packed = tmp_path / "e2.jsonl"  # gzip is detected by content, not by name
    packed.write_bytes(gzip.compress(body))
    for path in (plain, packed):
        lines = _lines(path)
        assert [(line.number, line.text) for line in lines] == [
            (1, '{"a":1}'), (4, '{"b":2}'), (5, '{"c":3}'),
        ]  # fmt: skip


def test_invalid_utf8_and_huge_lines_become_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"ok":1}\n\xff\xfe garbage\n' + b"x" * (MAX_LINE_BYTES * 3) + b'\n{"ok":2}\n'
    )
    lines = _lines(path)
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert lines[1].text is None and "not valid UTF-8" in (lines[1].error or "")
    assert lines[2].text is None and "over the" in (lines[2].error or "")
    assert len(lines[2].raw) == MAX_LINE_BYTES
    assert lines[3].text == '{"ok":2}'


def test_truncated_gzip_yields_what_it_can_then_raises(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(20000)))
    path.write_bytes(data[: len(data) // 2])
    stream, _ = open_stream(path)
    seen = []
    with pytest.raises(FileReadError, match="unreadable after line"), stream:
        for line in iter_lines(stream):
            seen.append(line.number)
    assert seen and seen == list(range(1, len(seen) + 1))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert _lines(path) == []


def test_iter_lines_on_a_stream() -> None:
    assert [line.text for line in iter_lines(io.BytesIO(b"a\nb"))] == ["a", "b"]


# --- the block reader against a line-at-a-time reading of the same rules -------------------
BUDGET = settings(
    max_examples=int(os.environ.get("HERACLES_FUZZ_EXAMPLES", "10000")) // 5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PIECES = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b" ", b"\t", b"\x0b", b"\x0c", b'{"a":1}', b"x", b"xyz",
     b"\xff", b"\xc3", b"\xc3\xa9", b"\xe2\x80\x83", b"\xed\xa0\x80", b"\x00"]
)  # fmt: skip


def _one_line_at_a_time(data: bytes, limit: int) -> list[Line]:
    """The rules as the reader applied them with a `readline` a line (before 2026-12-02)."""
    stream, out, number = io.BytesIO(data), [], 0
    while chunk := stream.readline(limit + 1):
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            size = len(chunk)
            while True:  # the rest of the line is skipped
                rest = stream.readline(limit)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            reason = f"line is {size} bytes, over the {limit}-byte limit for one event"
            out.append(Line(number, None, chunk[:limit].decode("utf-8", "replace"), reason))
            continue
        chunk = chunk.rstrip(b"\r\n")
        if not chunk.strip():
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 at byte {exc.start}"
            out.append(Line(number, None, chunk.decode("utf-8", "replace"), reason))
            continue
        out.append(Line(number, text, text))
    return out


@BUDGET
@given(
    st.lists(st.tuples(PIECES, st.integers(1, 12)), max_size=40),
    st.sampled_from([(4, 3), (7, 5), (16, 4), (30, 64), (64, 7)]),
)
def test_blocks_read_every_line_as_a_line_at_a_time_does(
    pieces: list[tuple[bytes, int]], sizes: tuple[int, int]
) -> None:
    limit, block = sizes
    data = b"".join(piece * times for piece, times in pieces)
    with mock.patch.object(reader, "MAX_LINE_BYTES", limit):
        expected = _one_line_at_a_time(data, limit)
        got: list[Line] = []
        for good, bad in reader.iter_blocks(io.BytesIO(data), block):
            got += sorted([Line(n, text, text) for n, text in good] + bad, key=lambda x: x.number)
        assert got == expected
        assert list(iter_lines(io.BytesIO(data))) == expected
