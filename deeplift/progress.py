"""Progress bars for long loops (tqdm on stderr), easy to turn off.

Every long-running public function takes a ``progress_update`` (original
API) or ``progress`` argument; ``None``/``False`` turns the bar off.  The
environment variable ``DEEPLIFT_NO_PROGRESS=1`` turns all bars off.
"""
import contextlib
import os


class _NullBar(object):
    def update(self, n=1):
        pass

    def set_description(self, desc):
        pass


@contextlib.contextmanager
def progress_bar(total, enabled=True, desc=None):
    """Context manager yielding an object with ``update(n)``."""
    if not enabled or os.environ.get("DEEPLIFT_NO_PROGRESS"):
        yield _NullBar()
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but stay usable without it
        yield _NullBar()
        return
    bar = tqdm(total=total, desc=desc, leave=False, unit="ex")
    try:
        yield bar
    finally:
        bar.close()
