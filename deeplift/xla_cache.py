"""XLA's compiled kernels kept on disk across processes.

The rules' fused elementwise math (``deeplift.rules.ops.fused``) is
compiled by XLA once per layer and batch shape, 0.06-0.08 s of CPU each
(XLA's own log, Basset-like layers).
TensorFlow can keep those programs on disk (``TF_XLA_FLAGS``'s
``--tf_xla_persistent_cache_directory``) and load them in later processes
instead of compiling again.  :func:`use_xla_cache` points that flag at a
folder in deeplift's cache folder (``DEEPLIFT_CACHE_DIR``; ``off`` turns
it off with the rest of the cache), one folder per TensorFlow version and
CPU.  ``import deeplift`` calls it, and a Dask worker's plugin calls it
again before the worker's first task.

TensorFlow reads ``TF_XLA_FLAGS`` once, at its first operation in the
process: a script that runs TensorFlow operations before it imports
deeplift compiles as before (no error, no cache); a ``TF_XLA_FLAGS`` that
already names a persistent cache is left as it is, and so is one whose
folder cannot be made or written (read-only, full): XLA fails an
operation whose compiled kernel it cannot write.  Any XLA program the
process compiles is kept there, not only deeplift's; the files are small
(about 13 kB per program) and can be deleted at any time.  TensorFlow
writes each entry to a temporary file and renames it, so processes that
share the folder do not see half-written entries.  This module imports
neither TensorFlow nor NumPy.
"""
import hashlib
import os

#: the XLA flag that keeps compiled kernels on disk across processes
XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"
#: bytes written to check that the folder takes a kernel (one is about 13 kB)
PROBE_BYTES = 1 << 16


def _cpu_signature():
    """What compiled CPU code depends on: the CPU model and its feature
    flags (Linux ``/proc/cpuinfo``; else the platform's names)."""
    import platform
    text = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith(("model name", "flags")):
                    text += line
                if line.strip() == "":
                    break          # the first processor is enough
    except OSError:
        pass
    return text or "%s %s" % (platform.machine(), platform.processor())


def xla_cache_directory():
    """The folder for XLA's compiled kernels (the fused rule math) in
    deeplift's cache folder, one per TensorFlow version and CPU (model and
    feature flags: a kernel compiled for one CPU may not run on another of
    a cluster); None when the cache is off (``DEEPLIFT_CACHE_DIR=off``)."""
    from deeplift.conversion.cache import cache_dir
    base = cache_dir()
    if base is None:
        return None
    try:
        from importlib.metadata import version
        tf_version = version("tensorflow")
    except Exception:
        tf_version = "unknown"
    key = hashlib.sha256(("%s\n%s" % (tf_version, _cpu_signature()))
                         .encode()).hexdigest()[:16]
    return os.path.join(base, "xla", key)


def _writable(folder):
    """Whether ``folder`` can be made and takes a file of PROBE_BYTES: an
    XLA compilation whose kernel cannot be written there fails (the
    operation raises), so a read-only or full cache folder must not be
    named."""
    import tempfile
    try:
        os.makedirs(folder, exist_ok=True)
        handle, path = tempfile.mkstemp(dir=folder, suffix=".probe")
        try:
            os.write(handle, b"\0" * PROBE_BYTES)
        finally:
            os.close(handle)
            os.unlink(path)
    except OSError:
        return False
    return True


def use_xla_cache(environ=None):
    """Point TensorFlow's persistent XLA cache (``TF_XLA_FLAGS`` in
    ``environ``, by default the process's) at :func:`xla_cache_directory`,
    so that the fused rule kernels compiled by one process are loaded, not
    compiled again, by later processes on a machine with the same CPU.
    Takes effect only before the process's first TensorFlow operation.  A
    ``TF_XLA_FLAGS`` that already names a persistent cache is left alone.
    Returns the folder used, or None (left alone, cache off, or a folder
    that cannot be made or written: then XLA compiles as before)."""
    environ = os.environ if environ is None else environ
    flags = environ.get("TF_XLA_FLAGS", "")
    if XLA_CACHE_FLAG in flags:
        return None
    folder = xla_cache_directory()
    if folder is None:
        return None
    if not _writable(folder):
        return None
    environ["TF_XLA_FLAGS"] = ("%s %s=%s" % (flags, XLA_CACHE_FLAG,
                                             folder)).strip()
    return folder
