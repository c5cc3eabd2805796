"""Replaying the dead-letter store: every entry validated again with the current contract (a
contract change or a fixed producer may have made it valid); the valid ones are ingested, the
rest stay as they are (source, line, raw text)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.events.validation import Rejection, validate
from backend.ingest import dlq
from backend.ingest.producer import Producer

PAGE = 500


@dataclass(frozen=True, slots=True)
class Replay:
    replayed: int
    still_invalid: int


def replay_dead_letters(producer: Producer, wait: bool, limit: int = 0) -> Replay:
    """Up to the entry that was last when it started (entries rejected meanwhile wait for the
    next replay); at most `limit` entries looked at (0: all)."""
    client = producer.client
    last = dlq.read_last_id(client)
    after, replayed, still_bad = "-", 0, 0
    while last is not None and after != last:
        entries = dlq.read(client, after, PAGE, until=last)
        if not entries:
            break
        replayable = []
        for entry in entries:
            after = entry.entry_id
            r = entry.rejection
            if isinstance(validate(r.raw, r.source, r.location), Rejection):
                still_bad += 1
                continue
            producer.add(r.raw, r.source, r.location)
            replayable.append(entry.entry_id)
        producer.flush()
        if wait:
            producer.wait()
        dlq.delete(client, replayable)  # only once enqueued: a crash here replays twice, harmlessly
        replayed += len(replayable)
        if limit and replayed + still_bad >= limit:
            break
    return Replay(replayed, still_bad)
