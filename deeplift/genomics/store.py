"""The chunked, resumable score store (Zarr v3).

Layout of ``scores.zarr`` (one chunk along the rows = one unit of work)::

    onehot        (N, L, 4) uint8
    hypothetical  ([T,] N, L, 4) float32 or float16   (T: several tasks)
    contribs      ([T,] N, L, 4)                      hypothetical * onehot
    done          (num_chunks,) uint8, one zarr chunk per work chunk:
                  1 once that chunk's rows are written
    regions/      chrom (int32, index into attrs chrom_names; attrs
                  chrom_sizes: the genome index), start, end,
                  source_row (int64), kept (bool): every region of the
                  input file; the scored rows are the kept ones, in order
    attributes    deeplift_store (format version), state ("creating" until
                  every array exists, then "ready"), fingerprint, settings,
                  num, length, chunk_size, tasks, names (FASTA / .npy)

                  kernels ({"tensorflow": version, "onednn": bool}: what
                  scored it; other_kernels: any others accepted later)
    deeplift.lock while a run works on the store: host, pid (see
                  :class:`StoreLock`)

A chunk is marked done only after its data are written, so a run killed at
any point leaves no chunk that a later run would take for done; a chunk
written twice gets the same bytes.  Each work chunk's data live in their
own zarr chunks, so processes writing different work chunks never touch
the same file.  Every file (zarr's and the lock) is created with the
process's umask, so collaborators read what the umask lets them.
"""
import json
import logging
import os
import shutil
import socket
import time

import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DTYPES = ("float32", "float16")
LOCK_NAME = "deeplift.lock"

#: fingerprint key -> how the user sets it (the mismatch message names
#: these); keys not listed follow from the others (e.g. ``fuse``, decided
#: from the number of sequences and references) and are named only when
#: nothing the user sets differs
USER_SETTINGS = {
    "model_sha256": "the model file (its contents)",
    "method": "--method", "reference": "--reference", "seed": "--seed",
    "task": "--task", "target_layer": "--target-layer",
    "find_scores_layer": "--find-scores-layer", "length": "--length",
    "dtype": "--dtype", "chunk_size": "--chunk-size",
    "batch_size": "--batch-size", "maxpool_mode": "--maxpool-mode",
    "custom_conversions": "--custom-conversions", "target": "--target",
    "target_convention": "--target-convention", "ig_steps": "--ig-steps",
    "reference_sha256": "the --reference file (its contents)",
    "input": "the input (--fasta / --npy / --genome)",
    "input_sha256": "the input file (its contents)",
    "genome_index_sha256": "--genome (its chromosomes)",
    "regions_sha256": "--regions (its contents)", "center": "--center",
}


class StoreError(ValueError):
    """A store that cannot be used as asked (one line, says the fix)."""


def _zarr():
    try:
        import zarr
    except ImportError:
        raise StoreError("a .zarr output needs zarr (v3): pip install "
                         "'deeplift[genomics]'")
    if int(zarr.__version__.split(".")[0]) < 3:
        raise StoreError("a .zarr output needs zarr >= 3, found %s: pip "
                         "install -U 'zarr>=3'" % zarr.__version__)
    return zarr


def is_store(path):
    """Whether ``path`` is a directory holding a deeplift score store."""
    meta = os.path.join(os.fspath(path), "zarr.json")
    if not os.path.isfile(meta):
        return False
    try:
        group = _zarr().open_group(os.fspath(path), mode="r")
    except Exception:
        return False
    return "deeplift_store" in group.attrs


def fingerprint_difference(old, new):
    """The keys whose values differ between two fingerprints."""
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def describe_difference(keys):
    """The user-facing names (CLI flags, files) of the differing
    fingerprint ``keys``; derived keys only when nothing else differs
    (then the deeplift version decided them differently)."""
    named = []
    for key in keys:
        name = USER_SETTINGS.get(key)
        if name is not None and name not in named:
            named.append(name)
    if named:
        return ", ".join(named)
    return ("settings this deeplift derives from yours (%s), so it was "
            "probably written by another deeplift version"
            % ", ".join(keys))


# ---------------------------------------------------------------------------
# kernel library
# ---------------------------------------------------------------------------

def current_kernels():
    """``{"tensorflow": version, "onednn": bool}`` of this process: the
    TensorFlow version and whether its oneDNN kernels are on, as TensorFlow
    resolved ``TF_ENABLE_ONEDNN_OPTS`` (its default depends on the CPU).
    Imports TensorFlow."""
    import tensorflow as tf
    try:
        from tensorflow.python.util import _pywrap_util_port
        onednn = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):      # not exposed: the variable
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() \
            in ("1", "true")
    return {"tensorflow": tf.__version__, "onednn": onednn}


def describe_kernels(kernels):
    """e.g. ``TensorFlow 2.21.0 with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)``."""
    return "TensorFlow %s with oneDNN %s (TF_ENABLE_ONEDNN_OPTS=%d)" % (
        kernels.get("tensorflow"), "on" if kernels.get("onednn") else "off",
        int(bool(kernels.get("onednn"))))


def kernels_mismatch(stored, current):
    """None when ``current`` kernels score like ``stored``, else a sentence
    saying how they differ and what to set."""
    if not stored or (stored.get("tensorflow") == current.get("tensorflow")
                      and bool(stored.get("onednn")) ==
                      bool(current.get("onednn"))):
        return None
    fixes = []
    if bool(stored.get("onednn")) != bool(current.get("onednn")):
        fixes.append("set TF_ENABLE_ONEDNN_OPTS=%d"
                     % int(bool(stored.get("onednn"))))
    if stored.get("tensorflow") != current.get("tensorflow"):
        fixes.append("use TensorFlow %s" % stored.get("tensorflow"))
    return ("it was scored with %s, this run has %s (other kernels round "
            "differently, so its chunks would not match); %s"
            % (describe_kernels(stored), describe_kernels(current),
               " and ".join(fixes)))


# ---------------------------------------------------------------------------
# lock
# ---------------------------------------------------------------------------

def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:              # someone else's live process
        return True
    return True


class StoreLock:
    """A run's claim on a store: ``deeplift.lock`` in the store directory,
    created atomically (``O_CREAT | O_EXCL``), holding the host, process id
    and start time of its owner.  A second run is refused with the owner
    named; a lock left by a dead process of this host is removed
    automatically; ``break_lock`` removes any lock (a crashed run on another
    host).  Use as a context manager or :meth:`acquire` /
    :meth:`release`."""

    def __init__(self, path, break_lock=False):
        self.path = os.fspath(path)
        self.file = os.path.join(self.path, LOCK_NAME)
        self.break_lock = break_lock
        self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                     "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "token": "%s-%d-%f" % (socket.gethostname(),
                                            os.getpid(), time.time())}
        self.created_dir = False
        self.held = False

    def _holder(self):
        """The lock file's contents (None if it vanished; {} if
        unreadable or being written)."""
        for _ in range(5):
            try:
                with open(self.file) as handle:
                    text = handle.read()
            except FileNotFoundError:
                return None
            try:
                return json.loads(text)
            except ValueError:            # being written: look again
                time.sleep(0.1)
        return {}

    def acquire(self):
        if not os.path.isdir(self.path):
            try:
                os.mkdir(self.path)
                self.created_dir = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError("cannot create store %s (%s); choose "
                                 "another --out" % (self.path, exc.strerror))
        for _ in range(10):
            try:
                fd = os.open(self.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                             0o666)
            except PermissionError as exc:
                raise StoreError("cannot write in store %s (%s)"
                                 % (self.path, exc.strerror))
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue
                if self.break_lock:
                    logger.warning("breaking the lock of %s held by %s",
                                   self.path, _describe_holder(holder))
                    _remove(self.file)
                    continue
                if holder.get("host") == self.info["host"] and isinstance(
                        holder.get("pid"), int) and \
                        not _process_alive(holder["pid"]):
                    logger.warning("removing the stale lock of %s: process "
                                   "%d of this host is gone", self.path,
                                   holder["pid"])
                    _remove(self.file)
                    continue
                raise StoreError(
                    "store %s is in use by %s; wait for that run to finish "
                    "(or share nothing: use another --out); if that run is "
                    "gone (e.g. a crashed job on another host), rerun with "
                    "--break-lock" % (self.path, _describe_holder(holder)))
            with os.fdopen(fd, "w") as handle:
                json.dump(self.info, handle)
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            return self
        raise StoreError("could not lock store %s (its lock file keeps "
                         "changing); rerun" % (self.path,))

    def release(self):
        """Remove the lock if it is still this run's (and the directory if
        this run created it and nothing else is in it)."""
        if self.held:
            holder = self._holder()
            if holder and holder.get("token") == self.info["token"]:
                _remove(self.file)
            self.held = False
        if self.created_dir:
            try:
                os.rmdir(self.path)      # only if empty: a failed creation
            except OSError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _describe_holder(holder):
    if not holder:
        return "another run (its lock file %s is unreadable)" % LOCK_NAME
    return "process %s on host %s (since %s)" % (
        holder.get("pid"), holder.get("host"), holder.get("since"))


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _only_lock(path):
    """Whether directory ``path`` holds nothing but our lock file."""
    return set(os.listdir(path)) <= {LOCK_NAME}


def _clear(path):
    """Remove everything in directory ``path`` but the lock file."""
    for name in os.listdir(path):
        if name == LOCK_NAME:
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.remove(full)


class ScoreStore:
    """An open score store; see the module docstring for the layout."""

    def __init__(self, path, group):
        self.path, self.group = os.fspath(path), group
        attrs = group.attrs
        self.num = int(attrs["num"])
        self.length = int(attrs["length"])
        self.chunk_size = int(attrs["chunk_size"])
        self.tasks = attrs.get("tasks")
        self.fingerprint = dict(attrs.get("fingerprint") or {})
        self.settings = dict(attrs.get("settings") or {})
        self.kernels = dict(attrs.get("kernels") or {})
        self.num_chunks = -(-self.num // self.chunk_size)

    # -- opening ---------------------------------------------------------

    @classmethod
    def open(cls, path, mode="r"):
        """Open an existing, complete store (``mode`` "r" or "r+")."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise StoreError("store %s does not exist" % (path,))
        if not is_store(path):
            raise StoreError("%s is not a deeplift score store" % (path,))
        group = _zarr().open_group(path, mode=mode)
        if group.attrs.get("state") != "ready":
            raise StoreError("store %s was not completely created (the run "
                             "that made it was interrupted); rerun with "
                             "--overwrite" % (path,))
        if group.attrs.get("deeplift_store") != FORMAT_VERSION:
            raise StoreError("store %s has format version %r; this deeplift "
                             "reads version %d" % (
                                 path, group.attrs.get("deeplift_store"),
                                 FORMAT_VERSION))
        return cls(path, group)

    @classmethod
    def create(cls, path, fingerprint, settings, num, length, chunk_size,
               tasks=None, dtype="float32", regions=None, names=None,
               chrom_sizes=None, kernels=None):
        """Create a new store (``path`` must not exist, or hold only this
        run's lock).  ``kernels``: what scores it (``current_kernels``).
        ``tasks``: None for one task, else the list of tasks (adds the
        leading T axis); ``regions``: the input's :class:`RegionTable` (all
        rows, with ``kept``) or None; ``chrom_sizes``: the genome's
        ``(name, length)`` list, in index order."""
        zarr = _zarr()
        path = os.fspath(path)
        if dtype not in DTYPES:
            raise StoreError("--dtype must be one of %s, got %r"
                             % (", ".join(DTYPES), dtype))
        chunk_size = int(chunk_size)
        if os.path.isdir(path) and _only_lock(path):
            group = zarr.open_group(path, mode="a")   # locked by this run
        else:
            group = zarr.open_group(path, mode="w-")
        group.attrs.update({"deeplift_store": FORMAT_VERSION,
                            "state": "creating"})
        lead = (len(tasks),) if tasks is not None else ()
        lead_chunks = (1,) * len(lead)
        group.create_array("onehot", shape=(num, length, 4),
                           chunks=(chunk_size, length, 4), dtype="uint8",
                           fill_value=0)
        for name in ("hypothetical", "contribs"):
            group.create_array(name, shape=lead + (num, length, 4),
                               chunks=lead_chunks + (chunk_size, length, 4),
                               dtype=dtype, fill_value=0)
        num_chunks = max(1, -(-num // chunk_size))
        group.create_array("done", shape=(num_chunks,), chunks=(1,),
                           dtype="uint8", fill_value=0)
        if regions is not None:
            table = group.create_group("regions")
            table.attrs["chrom_names"] = list(regions.chrom_names)
            table.attrs["chrom_sizes"] = [[str(n), int(size)] for n, size in
                                          (chrom_sizes or [])]
            size = max(1, len(regions))
            for name in ("chrom", "start", "end", "source_row", "kept"):
                values = np.asarray(getattr(regions, name))
                array = table.create_array(name, shape=values.shape,
                                           chunks=(min(size, 1 << 20),),
                                           dtype=values.dtype)
                array[:] = values
        group.attrs.update({
            "num": int(num), "length": int(length),
            "chunk_size": chunk_size, "tasks": tasks, "dtype": dtype,
            "names": names, "settings": settings,
            "fingerprint": fingerprint, "kernels": kernels})
        group.attrs["state"] = "ready"
        return cls(path, group)

    # -- work ------------------------------------------------------------

    def rows(self, index):
        """The row range ``(start, stop)`` of work chunk ``index``."""
        start = index * self.chunk_size
        return start, min(self.num, start + self.chunk_size)

    def done_mask(self):
        """(num_chunks,) bool: which work chunks are complete."""
        if self.num == 0:
            return np.ones(0, dtype=bool)
        return np.asarray(self.group["done"][:], dtype=bool)[
            :self.num_chunks]

    def pending(self):
        """Indices of the work chunks still to do."""
        return [int(i) for i in np.flatnonzero(~self.done_mask())]

    def write(self, index, onehot, hypothetical):
        """Write work chunk ``index``: ``onehot`` (n, L, 4) and
        ``hypothetical`` ([T,] n, L, 4); then mark it done."""
        start, stop = self.rows(index)
        onehot = np.asarray(onehot)
        binary = onehot.astype(np.uint8)
        if not np.array_equal(binary, onehot):
            raise StoreError("rows %d-%d: the one-hot input holds values "
                             "other than 0 and 1, which a .zarr store "
                             "cannot keep; write an .npz instead"
                             % (start, stop - 1))
        dtype = self.group["hypothetical"].dtype
        hyp = np.asarray(hypothetical, dtype=np.float32)
        self.group["onehot"][start:stop] = binary
        self.group["hypothetical"][..., start:stop, :, :] = hyp.astype(dtype)
        self.group["contribs"][..., start:stop, :, :] = (
            hyp * onehot).astype(dtype)
        self.group["done"][index] = 1

    # -- reading ---------------------------------------------------------

    def region_table(self, kept_only=True):
        """The stored :class:`RegionTable` (the scored rows by default), or
        None for FASTA / .npy input."""
        if "regions" not in self.group:
            return None
        from deeplift.genomics.regions import RegionTable
        table = self.group["regions"]
        full = RegionTable(list(table.attrs["chrom_names"]),
                           *(np.asarray(table[n][:]) for n in (
                               "chrom", "start", "end", "source_row",
                               "kept")))
        return full.kept_table() if kept_only else full

    def array(self, name):
        """The zarr array ``name`` (onehot, hypothetical, contribs)."""
        return self.group[name]

    def add_kernels(self, kernels):
        """Record ``kernels`` as also scoring this store (accepted with
        ``--allow-kernel-mismatch``)."""
        others = list(self.group.attrs.get("other_kernels") or [])
        if kernels != self.kernels and kernels not in others:
            others.append(kernels)
            self.group.attrs["other_kernels"] = others

    def lock_holder(self):
        """The lock file's contents (host, pid, since) or None."""
        lock = StoreLock(self.path)
        return lock._holder()


def prepare(path, fingerprint, overwrite=False, kernels=None,
            allow_kernel_mismatch=False, **create_args):
    """The store at ``path`` for a job with ``fingerprint``: created if
    absent; reopened (to resume) if it holds the same job scored with the
    same ``kernels`` (or any, with ``allow_kernel_mismatch``); replaced with
    ``overwrite``.  Anything else raises :class:`StoreError`.  Call it while
    holding the store's :class:`StoreLock`."""
    path = os.fspath(path)
    if os.path.exists(path):
        if not is_store(path):
            if os.path.isdir(path) and _only_lock(path):
                pass
            elif os.path.isdir(path) and overwrite and \
                    os.path.isfile(os.path.join(path, "zarr.json")):
                _clear(path)            # an interrupted creation
            else:
                raise StoreError("%s exists and is not a deeplift score "
                                 "store; choose another --out" % (path,))
        elif overwrite:
            _clear(path)
        else:
            store = ScoreStore.open(path, mode="r+")
            diff = fingerprint_difference(store.fingerprint, fingerprint)
            if diff:
                raise StoreError(
                    "store %s holds a different job (it differs in: %s); "
                    "use another --out, or --overwrite to replace it"
                    % (path, describe_difference(diff)))
            if kernels is not None and not store.kernels:
                # written before stores recorded their kernels: from now on
                store.group.attrs["kernels"] = kernels
                store.kernels = dict(kernels)
            if kernels is not None:
                problem = kernels_mismatch(store.kernels, kernels)
                if problem and not allow_kernel_mismatch:
                    raise StoreError(
                        "store %s: %s; or --allow-kernel-mismatch to go on "
                        "anyway, or --overwrite to start again"
                        % (path, problem))
                if problem:
                    logger.warning("store %s: %s", path, problem)
                    store.add_kernels(kernels)
            return store
    return ScoreStore.create(path, fingerprint, kernels=kernels,
                             **create_args)
