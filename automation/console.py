"""Terminal output that never misreads data as markup and survives a reader that goes away."""

from __future__ import annotations

import io
import os
import threading
import time
from typing import Any, Callable, Sequence, TextIO

from rich.console import Console, ConsoleDimensions, Group
from rich.live import Live
from rich.table import Table as RichTable
from rich.text import Text

from automation.progress import Waiting, describe

# Width of a console that is not a terminal (a pipe, a file, CI's log): wide enough for any row we print, so that a
# table keeps its natural width and no identifier is wrapped or cut. Nothing printed expands to the full width.
WIDTH_WITHOUT_TERMINAL = 10_000


def plain(value: Any) -> Any:
    """Text shown as is: `[arn:aws:...]` in an AWS error or a user's reason is data, not Rich markup."""
    return Text(value) if isinstance(value, str) else value


class OpsConsole(Console):
    """The CLI's console: identifiers are never cut, digits and booleans never coloured.

    - Not a terminal (piped, redirected, CI): the width is unlimited, whatever COLUMNS says, so tables keep their
      natural width and a policy, alarm or resource name stays whole on its row for grep and diff.
    - A terminal: its own width; `Table` folds a long cell onto more lines rather than ending it with an ellipsis.
    - `highlight=False`: Rich's automatic highlighter colours stray digits in region names (`us-east-1`) and
      booleans; what matters is marked by words here, not by accident.
    - `soft_wrap=True`: a plain line is never broken, the terminal wraps it.
    """

    def __init__(self, **options: Any):
        super().__init__(**{"soft_wrap": True, "highlight": False, **options})

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        return dimensions if self.is_terminal else ConsoleDimensions(WIDTH_WITHOUT_TERMINAL, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


class Table(RichTable):
    """A Rich table whose title and cells are plain text (step details, AWS messages, URLs, user input), and whose
    cells fold onto more lines when the terminal is narrow: an identifier is wrapped, never cut to a look-alike."""

    def __init__(self, *columns: Any, title: Any = None, **options: Any):
        super().__init__(*columns, title=plain(title), **options)

    def add_column(self, *args: Any, **options: Any) -> None:
        super().add_column(*args, **{"overflow": "fold", **options, "no_wrap": False})

    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(plain(cell) for cell in cells), **options)


def table_of(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A table of `rows` without the columns that are empty in every row (no `changed keys` column of blanks when
    every change is a create)."""
    kept = [i for i in range(len(columns)) if any(row[i] not in ("", None) for row in rows)] or list(range(len(columns)))
    table = Table(title=title)
    for i in kept:
        table.add_column(columns[i])
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    return table


class ReaderMayLeave:
    """stdout whose reader may close it early (`scraper-ops ... | head`): from then on output is dropped and the
    command carries on, so a run still finishes its steps and writes its record.

    Python ignores SIGPIPE, so a write to a closed pipe raises BrokenPipeError; as the Python docs advise
    (signal module, "Note on SIGPIPE"), the descriptor is then pointed at devnull so that the interpreter's
    last flush does not fail again at exit.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def _leave(self) -> None:
        self.reader_left = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass  # not a real descriptor (a test's capture): dropping the output is enough

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class WaitReporter:
    """The observer the CLI hands to a job that waits (automation/progress.py).

    On a terminal: a live line per wait in progress, its elapsed time ticking, with its deadline, replaced by
    `...: ended after 0:04:12` when it ends. Elsewhere (a pipe, CI's log): a plain line once a wait has lasted
    `every_seconds`, then one per `every_seconds`, and its end; waits shorter than that print nothing. A wait the
    job reports only at its start and end (a maintenance step: `pulumi up` gives no heartbeat) still gets its
    line a minute: a background ticker (`tick`) counts on from the last report with the reporter's own clock.
    `clock` is the reporter's own (the live line's ticking); the job's clock gives the elapsed time it reports.
    With `auto_refresh` false nothing runs in the background: tests call `tick()` themselves.
    """

    def __init__(self, console: Console, every_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 auto_refresh: bool = True):
        self.console, self.every_seconds, self.clock = console, every_seconds, clock
        self._auto_refresh = auto_refresh
        self._active: dict[str, tuple[Waiting, float]] = {}  # what -> (last report, reporter's time of it)
        self._printed: dict[str, float] = {}  # what -> elapsed at its last plain line
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def __call__(self, waiting: Waiting) -> None:
        if self.console.is_terminal:
            self._on_terminal(waiting)
        else:
            self._plain(waiting)

    def _plain(self, waiting: Waiting) -> None:
        with self._lock:
            if waiting.done:
                self._active.pop(waiting.what, None)
                if waiting.what in self._printed or waiting.elapsed_seconds >= self.every_seconds:
                    self.console.print(describe(waiting), markup=False)
                self._printed.pop(waiting.what, None)
                return
            self._active[waiting.what] = (waiting, self.clock())
            self._print_if_due(waiting)
        if self._auto_refresh and (self._ticker is None or not self._ticker.is_alive()):
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick_until_idle, name="wait-reporter", daemon=True)
            self._ticker.start()

    def _print_if_due(self, waiting: Waiting) -> None:
        last = self._printed.get(waiting.what)
        if waiting.elapsed_seconds >= (last + self.every_seconds if last is not None else self.every_seconds):
            self.console.print(describe(waiting), markup=False)
            self._printed[waiting.what] = waiting.elapsed_seconds

    def tick(self) -> None:
        """Plain mode: a line for each wait in progress that is due one, counting on from its last report."""
        now = self.clock()
        with self._lock:
            for waiting, seen in list(self._active.values()):
                self._print_if_due(Waiting(waiting.what, waiting.elapsed_seconds + now - seen,
                                           waiting.deadline_seconds))

    def _tick_until_idle(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()
            with self._lock:
                if not self._active:
                    return

    def _on_terminal(self, waiting: Waiting) -> None:
        with self._lock:
            if waiting.done:
                self._active.pop(waiting.what, None)
            else:
                self._active[waiting.what] = (waiting, self.clock())
        if self._active and self._live is None:
            self._live = Live(get_renderable=self._render, console=self.console, auto_refresh=self._auto_refresh,
                              refresh_per_second=2, transient=True, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        elif not self._active and self._live is not None:
            self._live.stop()
            self._live = None
        if self._live is not None:
            self._live.refresh()
        if waiting.done:  # after the refresh: the line printed above the live display no longer shows it waiting
            self.console.print(describe(waiting), markup=False)

    def _render(self) -> Group:
        now = self.clock()
        with self._lock:
            active = list(self._active.values())
        return Group(*(Text(describe(Waiting(w.what, w.elapsed_seconds + now - seen, w.deadline_seconds)))
                       for w, seen in active))

    def close(self) -> None:
        """Ends a live display a failed job left open, and the plain-mode ticker."""
        self._stop.set()
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._active.clear()
        self._printed.clear()
