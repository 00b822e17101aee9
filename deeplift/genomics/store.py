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

A chunk is marked done only after its data are written, so a run killed at
any point leaves no chunk that a later run would take for done; a chunk
written twice gets the same bytes.  Each work chunk's data live in their
own zarr chunks, so processes writing different work chunks never touch
the same file.
"""
import os
import shutil

import numpy as np

FORMAT_VERSION = 1
DTYPES = ("float32", "float16")


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
               chrom_sizes=None):
        """Create a new store (``path`` must not exist).  ``tasks``: None
        for one task, else the list of tasks (adds the leading T axis);
        ``regions``: the input's :class:`RegionTable` (all rows, with
        ``kept``) or None; ``chrom_sizes``: the genome's ``(name, length)``
        list, in index order."""
        zarr = _zarr()
        path = os.fspath(path)
        if dtype not in DTYPES:
            raise StoreError("--dtype must be one of %s, got %r"
                             % (", ".join(DTYPES), dtype))
        chunk_size = int(chunk_size)
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
            table.attrs["chrom_sizes"] = [[str(n), int(l)] for n, l in
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
            "fingerprint": fingerprint})
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


def prepare(path, fingerprint, overwrite=False, **create_args):
    """The store at ``path`` for a job with ``fingerprint``: created if
    absent; reopened (to resume) if it holds the same job; replaced with
    ``overwrite``.  Anything else raises :class:`StoreError`."""
    path = os.fspath(path)
    if os.path.exists(path):
        if not is_store(path):
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
            else:
                raise StoreError("%s exists and is not a deeplift score "
                                 "store; choose another --out" % (path,))
        elif overwrite:
            shutil.rmtree(path)
        else:
            store = ScoreStore.open(path, mode="r+")
            diff = fingerprint_difference(store.fingerprint, fingerprint)
            if diff:
                raise StoreError(
                    "store %s holds a different job (it differs in: %s); "
                    "use another --out, or --overwrite to replace it"
                    % (path, ", ".join(diff)))
            return store
    return ScoreStore.create(path, fingerprint, **create_args)
