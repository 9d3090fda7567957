"""Structured logs: JSON lines with the `extra` fields, and text with key=value pairs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from rung.logs import setup_logging


def emit(fmt: str, level: str = "info") -> str:
    out = io.StringIO()
    setup_logging(level, fmt, stream=out)
    log = logging.getLogger("rung.test")
    log.info("lease expired", extra={"study": "mnist", "trial": 7})
    log.debug("not shown at info")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("journal write failed")
    return out.getvalue()


def test_json_lines(restore_root_logger: None) -> None:
    lines = [json.loads(line) for line in emit("json").splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["msg"] == "lease expired" and first["level"] == "info"
    assert first["logger"] == "rung.test"
    assert (first["study"], first["trial"]) == ("mnist", 7)
    assert first["ts"].endswith("+00:00")
    assert "ValueError: boom" in second["exc"]


def test_text_keeps_the_extra_fields(restore_root_logger: None) -> None:
    text = emit("text")
    first = text.splitlines()[0]
    assert first.endswith("INFO rung.test lease expired study=mnist trial=7")
    assert "Traceback" in text and "not shown" not in text


def test_debug_level(restore_root_logger: None) -> None:
    assert "not shown at info" in emit("text", "debug")


def test_unknown_settings_are_refused(restore_root_logger: None) -> None:
    with pytest.raises(ValueError, match="log format"):
        setup_logging("info", "xml")
    with pytest.raises(ValueError, match="log level"):
        setup_logging("loud", "json")
