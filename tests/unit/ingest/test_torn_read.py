"""A checkpoint read racing the commit that moves it can come back null (Neo4j reads take no
locks): it is read again, never handed to the journal as a position."""

from __future__ import annotations

from typing import Any

import pytest

from backend.ingest import service


class _Session:
    def __init__(self, answers: list[tuple[Any, int]]) -> None:
        self.answers = answers

    def execute_read(self, _work: Any) -> tuple[Any, int]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_a_null_checkpoint_is_read_again() -> None:
    session = _Session([(None, 0), (None, 0), ("17-0", 5)])
    assert service._read_checkpoint(session) == ("17-0", 5)  # type: ignore[arg-type]


def test_a_checkpoint_that_stays_null_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.ingest.service.time.sleep", lambda _s: None)
    with pytest.raises(RuntimeError, match="no position"):
        service._read_checkpoint(_Session([(None, 0)]))  # type: ignore[arg-type]
