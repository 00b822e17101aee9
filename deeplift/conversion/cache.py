"""An on-disk cache of converted models: convert once per (model files,
deeplift code, conversion options), reuse in every later process.

Where: ``$DEEPLIFT_CACHE_DIR`` if set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/deeplift``, else ``~/.cache/deeplift``; entries live in
its ``models/`` folder as ``<key>.pickle`` (a pickled converted model and
the key's parts, checked on reading).  The key is a sha256 over the model
files' bytes, the deeplift version and a digest of deeplift's own source
files (a changed converter never serves an old entry), the TensorFlow,
Keras, NumPy and Python versions and the conversion options.

Safe for many processes at once: an entry is written to a temporary file
in the same folder and renamed into place, so a reader sees a whole entry
or none; two processes converting the same model both write the same
entry.  An entry that cannot be read (truncated by a full disk, written by
an incompatible version) is converted again and replaced.  Nothing is
cached when ``options`` hold anything but plain values or set custom
conversion functions (:data:`CODE_OPTIONS`: code the key cannot see).

Entries are pickles: load them only from a cache directory that only you
can write (the folder is created ``0700``).
"""
import functools
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile

logger = logging.getLogger(__name__)

#: bump when the layout of an entry changes
CACHE_FORMAT = 1
ENV = "DEEPLIFT_CACHE_DIR"
#: options that name code the key cannot see: set, nothing is cached
CODE_OPTIONS = ("custom_conversion_funcs",)


def cache_dir():
    """The cache folder (see the module docstring), or None when the cache
    is turned off (``DEEPLIFT_CACHE_DIR=off``)."""
    given = os.environ.get(ENV)
    if given is not None:
        if given.strip().lower() in ("", "off", "0", "none"):
            return None
        return os.path.abspath(os.path.expanduser(given))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deeplift")


@functools.lru_cache(maxsize=1)
def code_digest():
    """sha256 over deeplift's own ``.py`` files (relative path and bytes)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            if filename.endswith(".py"):
                path = os.path.join(dirpath, filename)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(distribution):
    """The installed version of ``distribution`` (without importing it)."""
    from importlib import metadata
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _plain(value):
    """Whether ``value`` is JSON-like (so the key can see all of it)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v)
                   for k, v in value.items())
    return False


def cache_key(files, options):
    """``(hex key, parts)`` for a model made from ``files`` (paths, None
    entries skipped) with the conversion ``options`` (a dict of plain
    values), or ``(None, None)`` when ``options`` are not plain or set one
    of :data:`CODE_OPTIONS`."""
    if not _plain(options) or any(options.get(name) is not None
                                  for name in CODE_OPTIONS):
        return None, None
    from deeplift import __version__
    parts = {
        "format": CACHE_FORMAT,
        "files": [_file_digest(os.fspath(f)) for f in files
                  if f is not None],
        "deeplift": __version__, "code": code_digest(),
        "tensorflow": _version("tensorflow"), "keras": _version("keras"),
        "numpy": _version("numpy"),
        "python": "%d.%d" % sys.version_info[:2],
        "options": options,
    }
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest(), parts


def entry_path(key, directory=None):
    """The path of the entry ``key`` in ``directory`` (default
    :func:`cache_dir`)."""
    directory = cache_dir() if directory is None else directory
    return os.path.join(directory, "models", key + ".pickle")


def _read(path, parts):
    try:
        with open(path, "rb") as handle:
            entry = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:                   # truncated, incompatible
        logger.warning("ignoring the unreadable cache entry %s (%s: %s)",
                       path, type(exc).__name__, exc)
        return None
    if not isinstance(entry, dict) or entry.get("parts") != parts:
        logger.warning("ignoring the cache entry %s: it was made for "
                       "other settings", path)
        return None
    return entry["model"]


def _write(path, model, parts):
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        data = pickle.dumps({"parts": parts, "model": model},
                            protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(prefix=".tmp.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as exc:        # read-only home, full disk, unpicklable
        # only a lost speed-up: not worth a line on the user's console
        logger.info("could not cache the converted model in %s (%s: %s)",
                    folder, type(exc).__name__, exc)
        return False
    return True


def cached_model(convert, files, options, directory=None):
    """The model ``convert()`` returns for ``files`` and ``options``: read
    from the cache when an entry for the same key exists, else converted
    now and stored.  ``files``: the model's files (their bytes are keyed);
    ``options``: every setting ``convert`` depends on, as plain values;
    ``directory``: the cache folder (default :func:`cache_dir`; None there
    means no caching).  Returns the model; its ``deeplift_cache`` attribute
    says ``"hit"``, ``"stored"`` or ``"off"``."""
    directory = cache_dir() if directory is None else directory
    key = parts = None
    if directory is not None:
        try:
            key, parts = cache_key(files, options)
        except OSError:         # a missing file: convert() says so
            key = None
    if key is None:
        model = convert()
        model.deeplift_cache = "off"
        return model
    path = entry_path(key, directory)
    model = _read(path, parts)
    if model is not None:
        logger.info("converted model read from the cache: %s", path)
        model.deeplift_cache = "hit"
        return model
    model = convert()
    model.deeplift_cache = "stored" if _write(path, model, parts) else "off"
    return model


def store_model(model, files, options, directory=None):
    """Put ``model`` (just converted from ``files`` with ``options``, not yet
    used) in the cache unless an entry for that key exists, so that other
    processes (a run's workers) read it instead of converting.  Returns
    the entry's path, or None when nothing is cached (see
    :func:`cached_model`)."""
    directory = cache_dir() if directory is None else directory
    if directory is None:
        return None
    try:
        key, parts = cache_key(files, options)
    except OSError:
        return None
    if key is None:
        return None
    path = entry_path(key, directory)
    if os.path.exists(path) or _write(path, model, parts):
        return path
    return None
