"""Progress of long work on standard error: a status line, and a bar over a known number of steps."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

__all__ = ["StatusLine", "ProgressBar", "track"]


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


class ProgressBar:
    """Progress over a known number of steps, on standard error, as a context manager.

    On a terminal, a rich bar (description, bar, done/total, elapsed time) that disappears when
    the work ends; elsewhere, a :class:`StatusLine` (a plain line every ``every`` seconds); nothing
    when ``enabled`` is False.

    Examples
    --------
    >>> with ProgressBar("fitting", 3, enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.advance("best loglik -12.5")
    >>> bar.completed
    3
    """

    def __init__(self, what: str, total: int, *, enabled: bool = True, every: float = 5.0):
        self.what, self.total, self.enabled, self.every = what, int(total), enabled, every
        self.completed = 0
        self._rich = None
        self._line: StatusLine | None = None

    def __enter__(self) -> ProgressBar:
        if self.enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._rich.__enter__()
            self._task = self._rich.add_task(self.what, total=self.total)
        else:
            self._line = StatusLine(self.what, enabled=self.enabled, every=self.every).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
            self._rich = None
        if self._line is not None:
            self._line.__exit__(*exc)
            self._line = None

    def update(self, completed: int, message: str = "") -> None:
        """Set the steps done so far, with an optional message (the best value so far, say)."""
        self.completed = int(completed)
        if self._rich is not None:
            self._rich.update(self._task, completed=self.completed,
                              description=f"{self.what}: {message}" if message else self.what)
        elif self._line is not None:
            self._line.update(f"{self.completed}/{self.total}" + (f", {message}" if message else ""))

    def advance(self, message: str = "") -> None:
        """One more step done."""
        self.update(self.completed + 1, message)


def track[T](steps: Iterable[T], what: str, total: int, *, enabled: bool = True) -> Iterator[T]:
    """Iterate over ``steps`` with a :class:`ProgressBar` of ``total`` steps.

    Examples
    --------
    >>> list(track(range(3), "days", 3, enabled=False))
    [0, 1, 2]
    """
    with ProgressBar(what, total, enabled=enabled) as bar:
        for step in steps:
            yield step
            bar.advance()
