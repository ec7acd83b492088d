"""Run code that might hang without hanging the test run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_with_timeout(function: Callable[[], T], timeout: float = 20) -> T:
    """Run ``function`` in a daemon thread; fail instead of hanging the test run."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{function} did not finish within {timeout} s"
    if errors:
        raise errors[0]
    return result[0]
