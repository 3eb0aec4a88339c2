"""Progress of long work on standard error."""

from __future__ import annotations

import sys
import time

__all__ = ["StatusLine"]


class StatusLine:
    """Progress of long work on standard error, as a context manager with :meth:`update`.

    On a terminal, a rich status line that each update rewrites; elsewhere (CI logs, notebooks,
    a redirected stream) one plain line every ``every`` seconds, the first after ``every``
    seconds, so that short work prints nothing; nothing at all when ``enabled`` is False.

    Examples
    --------
    >>> with StatusLine("counting", enabled=False) as status:
    ...     status.update("3 of 10")
    """

    def __init__(self, what: str, *, enabled: bool = True, every: float = 5.0):
        self.what, self.enabled, self.every = what, enabled, every
        self._status = None
        self._stream = None

    def __enter__(self) -> StatusLine:
        self._started = self._last = time.monotonic()
        if self.enabled:
            self._stream = sys.stderr
            if self._stream.isatty():
                from rich.console import Console

                self._status = Console(stderr=True).status(self.what)
                self._status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)
            self._status = None
        self._stream = None

    def update(self, message: str) -> None:
        """Show ``message`` (now on a terminal; elsewhere when ``every`` seconds have passed since the last line)."""
        if self._status is not None:
            self._status.update(f"{self.what}: {message}")
        elif self._stream is not None:
            now = time.monotonic()
            if now - self._last >= self.every:
                self._last = now
                print(f"{self.what}: {message} ({now - self._started:.0f} s)", file=self._stream, flush=True)
