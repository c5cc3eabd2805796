import gzip
import io
from pathlib import Path

import pytest

from backend.events.reader import MAX_LINE_BYTES, FileReadError, iter_lines, open_stream


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
