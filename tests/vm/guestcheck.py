"""One check of a guest script: run it, print its JSON line (tests/guest.py reads them).

Guest scripts are run by path (`python tests/x/guest_y.py`), so they put the repository on
sys.path before importing this."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable

__all__ = ["Skip", "check", "results"]

results: list[dict[str, object]] = []


class Skip(Exception):
    """This guest's kernel cannot run the check: the host test skips it with this reason."""


def check(name: str, fn: Callable[[], str]) -> None:
    try:
        detail = fn()
        results.append({"name": name, "ok": True, "detail": detail})
    except Skip as skip:
        results.append({"name": name, "ok": True, "detail": "", "skip": str(skip)})
    except Exception as exc:
        results.append(
            {"name": name, "ok": False, "detail": f"{exc!r}\n{traceback.format_exc()[-1500:]}"}
        )
    print(json.dumps(results[-1]), flush=True)
