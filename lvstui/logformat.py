"""Log line formats: journald's priority prefix, a plain UTC line, and JSON for log shippers.

`--log-format json` writes one JSON object a line: ``time`` (RFC 3339, UTC), ``level``,
``logger``, ``message``, then the structured fields a caller passed with ``extra=``, and
``exception`` when there is a traceback. Shippers (Vector, Fluent Bit, Promtail) read it with
no parsing rules; the journald default stays what systemd expects.
"""

from __future__ import annotations

import json
import logging
import time
from enum import Enum

__all__ = ["LOG_FORMATS", "JournalFormatter", "JsonFormatter", "LogFormat", "PlainFormatter"]


class LogFormat(Enum):
    AUTO = "auto"  # journald's priority prefix when stderr is the journal, else plain
    JSON = "json"


LOG_FORMATS = tuple(f.value for f in LogFormat)

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}

# What every LogRecord carries: anything else on a record came from `extra=` and is a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JournalFormatter(logging.Formatter):
    """``<6>lvstui.engine: message``: the journal reads the priority, adds the time."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        # Every line of a multi-line message keeps the priority (journald splits on \n).
        return "\n".join(f"<{prio}>{line}" for line in text.splitlines())


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.converter = time.gmtime  # UTC, as the Z says


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a newline inside the message stays escaped inside the string."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        obj: dict[str, object] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in obj:
                obj[key] = value
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        # default=str: a field that is an address, a path or an enum is logged, not lost.
        return json.dumps(obj, default=str, ensure_ascii=False)
