"""The one polling loop for every wait in the harness."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.errors import WaitTimeout

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    hint: str = "",
) -> T:
    """Call ``check`` until it returns a truthy value, and return that value.

    Exceptions raised by ``check`` count as "not yet"; the last one is named in
    the ``WaitTimeout`` raised when ``timeout`` seconds pass, together with
    ``what`` was awaited and an optional ``hint`` on what to do.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # polled operations fail until ready
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            advice = f" {hint}" if hint else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}.{advice}")
        time.sleep(interval)
