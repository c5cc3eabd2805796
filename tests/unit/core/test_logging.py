import json
import logging

from backend.core.logging import JsonFormatter, request_id_var


def test_json_log_line_carries_request_id_and_extras() -> None:
    record = logging.LogRecord("heracles.api", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    token = request_id_var.set("req-42")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "request"
    assert line["request_id"] == "req-42"
    assert line["status"] == 200
    assert line["level"] == "INFO"


def test_json_log_line_without_request() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hi %s", ("there",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hi there"
    assert "request_id" not in line
