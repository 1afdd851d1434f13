"""The one progress line of the package's long loops that Keras does not run.

Conversions (`prepare*`), evaluation with votes, prediction over many files
and the benchmark sections show it on stderr:

    prepare: [######..................] 250/1000 (25%) 41.7 files/s, 18s left, 2 skipped

On a terminal the line is redrawn in place (at most 10 times a second) and
ends with a final line. Elsewhere (a log file, CI, captured by tests) a line
is printed at most every `interval` seconds, and a final line when the loop
ends, if it printed any line before (or with `always_final`): a loop that
ends within `interval` seconds prints nothing. `enabled=False` prints nothing.
"""

import sys
import time

# Non-terminal streams: seconds between two progress lines.
DEFAULT_INTERVAL = 5.0
# Terminals: seconds between two redraws.
REDRAW_INTERVAL = 0.1
BAR_WIDTH = 24


def format_duration(seconds):
    """`45s`, `3m05s` or `2h07m`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """A plain-text progress line: done/total, rate, time left (or taken) and skips.

    Args:
        total: Number of items, or None when unknown (no bar, no time left).
        label: Text in front of the line.
        unit: What the items are ("files", "batches"), shown with the rate.
        stream: Where to write (default: `sys.stderr`, looked up when writing).
        enabled: False to print nothing.
        initial: Items already done (e.g. resumed): counted as done, not in the rate.
        interval: Seconds between two lines on a non-terminal stream (default `DEFAULT_INTERVAL`).
        always_final: Print the final line even when nothing was printed before.
        clock: Function giving the time in seconds (tests pass a fake one).
        tty: Whether the stream is a terminal (default: `stream.isatty()`).
    """

    def __init__(self, total, label="progress", *, unit="", stream=None, enabled=True, initial=0,
                 interval=None, always_final=False, clock=time.perf_counter, tty=None):
        self.total = None if total is None else int(total)
        self.label, self.unit, self.enabled = label, unit, bool(enabled)
        self._stream = stream
        self.done = self.initial = int(initial)
        self.skipped = 0
        self.interval = float(DEFAULT_INTERVAL if interval is None else interval)
        self.always_final = bool(always_final)
        self.clock = clock
        self.start = clock()
        self._last_draw = self.start
        self._printed = False
        self._closed = False
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else bool(tty)

    @property
    def stream(self):
        """The output stream."""
        return self._stream if self._stream is not None else sys.stderr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def finished(self):
        """Whether every item is done (never, for an unknown total)."""
        return self.total is not None and self.done >= self.total

    def update(self, count=1, *, skipped=0):
        """Marks `count` more items done, `skipped` of them skipped."""
        self.done += count
        self.skipped += skipped
        if not self.enabled or self._closed:
            return
        now = self.clock()
        if self._tty:
            if now - self._last_draw >= REDRAW_INTERVAL or self.finished or not self._printed:
                self._draw(now)
        elif now - self._last_draw >= self.interval:
            self._draw(now)

    def _draw(self, now):
        self._last_draw, self._printed = now, True
        if self._tty:
            self.stream.write("\r" + self.line(now) + "\033[K")
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def clear(self):
        """Wipes the line from a terminal before other output; the next update draws it again."""
        if self.enabled and self._tty and self._printed and not self._closed:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._last_draw = float("-inf")

    def rate(self, now=None):
        """Items per second since the start (items done before it, `initial`, left out)."""
        elapsed = (self.clock() if now is None else now) - self.start
        return (self.done - self.initial) / elapsed if elapsed > 0 else 0.0

    def line(self, now=None):
        """The progress text; once every item is done, with the time taken instead of the time left."""
        now = self.clock() if now is None else now
        rate = self.rate(now)
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            text = f"{self.label}: {self.done}{unit} done, {rate:.1f}{unit}/s"
        else:
            filled = min(BAR_WIDTH, int(BAR_WIDTH * self.done / self.total)) if self.total else BAR_WIDTH
            percent = 100.0 * self.done / max(self.total, 1)
            text = (f"{self.label}: [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} "
                    f"({percent:.0f}%) {rate:.1f}{unit}/s")  # fmt: skip
        if self.finished or self._closed:
            text += f", took {format_duration(now - self.start)}"
        elif self.total is not None and rate > 0:
            text += f", {format_duration((self.total - self.done) / rate)} left"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text

    def close(self):
        """Ends the progress: the final line (see the module docstring)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled or not (self._printed or self.always_final):
            return
        now = self.clock()
        if self._tty:
            self.stream.write("\r" + self.line(now) + "\033[K\n")
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
