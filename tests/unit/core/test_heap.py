"""`reuse_freed_memory` sets glibc's allocator for the block and restores it after (but the
arena limit), once for nested and concurrent blocks."""

from __future__ import annotations

import sys
import threading

import pytest

from backend.core import heap


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, 0))
        return 1


# The arena limit is set, never restored: glibc fixes it once (`heap`'s docstring).
HOLD = [
    ("mallopt", heap.M_MMAP_MAX, 0),
    ("mallopt", heap.M_TRIM_THRESHOLD, heap.KEEP),
    ("mallopt", heap.M_ARENA_MAX, 1),
]
RESTORE = [
    ("mallopt", heap.M_MMAP_MAX, heap.DEFAULT_MMAP_MAX),
    ("mallopt", heap.M_TRIM_THRESHOLD, heap.DEFAULT_TRIM_THRESHOLD),
    ("malloc_trim", 0, 0),
]


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(heap, "_LIBC", recorder)
    return recorder


def test_set_for_the_block_and_restored_after(libc: Recorder) -> None:
    with heap.reuse_freed_memory():
        assert libc.calls == HOLD
    assert libc.calls == HOLD + RESTORE


def test_restored_once_the_last_block_ends(libc: Recorder) -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with heap.reuse_freed_memory():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with heap.reuse_freed_memory():
        thread.start()
        assert inside.wait(5)
        with heap.reuse_freed_memory():
            pass
    assert libc.calls == HOLD  # the other thread still holds it
    release.set()
    thread.join(5)
    assert libc.calls == HOLD + RESTORE


def test_restored_when_the_block_raises(libc: Recorder) -> None:
    with pytest.raises(RuntimeError), heap.reuse_freed_memory():
        raise RuntimeError
    assert libc.calls == HOLD + RESTORE


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator: Linux only")
def test_this_platform_has_the_allocator_calls() -> None:
    """The stack runs on glibc (Debian, the image's python:3.11-slim): the setting must take."""
    assert heap._LIBC is not None
