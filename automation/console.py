"""Terminal output that never misreads data as markup and survives a reader that goes away."""

from __future__ import annotations

import io
import os
from typing import Any, TextIO

from rich.table import Table as RichTable
from rich.text import Text


def plain(value: Any) -> Any:
    """Text shown as is: `[arn:aws:...]` in an AWS error or a user's reason is data, not Rich markup."""
    return Text(value) if isinstance(value, str) else value


class Table(RichTable):
    """A Rich table whose title and cells are plain text (step details, AWS messages, URLs, user input)."""

    def __init__(self, *columns: Any, title: Any = None, **options: Any):
        super().__init__(*columns, title=plain(title), **options)

    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(plain(cell) for cell in cells), **options)


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
