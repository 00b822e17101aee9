"""Progress bars for long loops, easy to turn off, fit for log files.

Every long-running public function takes a ``progress_update`` (original
API) or ``progress`` argument; ``None``/``False`` turns the bar off.  The
environment variable ``DEEPLIFT_NO_PROGRESS=1`` turns all bars off.

On a terminal the bar is tqdm's (on stderr).  Elsewhere (a log file, a
pipe, a notebook's captured stream) a ``\\r``-redrawn bar would become one
endless line, so :class:`LineProgress` writes one plain line each time
another ``LINE_EVERY_PERCENT`` percent is done (and one at the end).
"""
import contextlib
import os
import sys
import time

try:
    # the terminal bar: it is only drawn on a terminal (below), so
    # tqdm.auto's notebook widget (and its "IProgress not found" warning
    # where ipywidgets is missing) is never wanted
    from tqdm import tqdm
except ImportError:  # a dependency, but stay usable without it
    tqdm = None

#: a non-terminal bar prints a line each time this much more is done
LINE_EVERY_PERCENT = 5


class _NullBar(object):
    def update(self, n=1):
        pass

    def set_description(self, desc):
        pass


class LineProgress(object):
    """A progress bar as separate lines: ``desc: 40/100 (40%), 3.2 s``.

    ``stream``: where the lines go (default: sys.stderr at creation);
    ``every_percent``: the step between lines."""

    def __init__(self, total, desc=None, stream=None,
                 every_percent=LINE_EVERY_PERCENT, unit="ex"):
        self.total = total
        self.desc = desc or "progress"
        self.stream = stream if stream is not None else sys.stderr
        self.every = float(every_percent)
        self.unit = unit
        self.n = 0
        self._next = self.every
        self._start = time.monotonic()
        self._closed = False

    def set_description(self, desc):
        self.desc = desc

    def _line(self):
        elapsed = time.monotonic() - self._start
        if self.total:
            text = "%s: %d/%d %s (%d%%), %.1f s" % (
                self.desc, self.n, self.total, self.unit,
                100.0 * self.n / self.total, elapsed)
        else:
            text = "%s: %d %s, %.1f s" % (self.desc, self.n, self.unit,
                                          elapsed)
        self.stream.write(text + "\n")
        self.stream.flush()

    def update(self, n=1):
        self.n += n
        if not self.total:
            return
        percent = 100.0 * self.n / self.total
        if percent >= self._next and self.n < self.total:
            self._line()
            while self._next <= percent:
                self._next += self.every

    def close(self):
        if not self._closed:
            self._closed = True
            if self.n:
                self._line()


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress_bar(total, enabled=True, desc=None):
    """Context manager yielding an object with ``update(n)``: nothing when
    disabled, tqdm on a terminal, :class:`LineProgress` otherwise."""
    if not enabled or os.environ.get("DEEPLIFT_NO_PROGRESS"):
        yield _NullBar()
        return
    if tqdm is None or not _is_terminal(sys.stderr):
        bar = LineProgress(total=total, desc=desc)
    else:
        bar = tqdm(total=total, desc=desc, leave=False, unit="ex")
    try:
        yield bar
    finally:
        bar.close()
