"""Exports of a complete score store, one writer per format in a registry.

* ``h5``: ChromBPNet's contribution file layout -- ``raw/seq`` (N, 4, L)
  int8 one-hot, ``shap/seq`` (N, 4, L) float32 hypothetical and
  ``projected_shap/seq`` (N, 4, L) float32 projected (actual)
  contributions -- and, for genomic regions, the interpreted regions as a
  narrowPeak-style BED in the same row order (summit column = L // 2);
* ``modisco``: the ``PREFIX.ohe.npz`` / ``PREFIX.shap.npz`` pair
  (``arr_0``, (N, 4, W) float32, cropped to the central ``window``) that
  ``modisco motifs -s PREFIX.ohe.npz -a PREFIX.shap.npz`` reads;
* ``bigwig``: projected contributions summed over the bases, one value
  per base; regions sorted by chromosome and start, overlapping regions
  cut at the midpoint between their centres (as ChromBPNet does);
  chromosome sizes from the genome index (pyBigWig).

All are written chunk by chunk (memory bounded by the chunk size) to a
temporary file renamed into place at the end.  A new format is one
function ``writer(store, path, task=None, **options)`` and one
:func:`register_writer` call.
"""
import contextlib
import os
import tempfile
import zipfile

import numpy as np

#: format name -> writer(store, path, task=None, **options)
WRITERS = {}


class ExportError(ValueError):
    """An export that cannot be made (one line, says the fix)."""


def register_writer(name, func):
    """Register ``func(store, path, task=None, **options)`` as ``name``."""
    WRITERS[name] = func
    return func


def export(store, fmt, path, task=None, **options):
    """Write ``store`` (a complete :class:`~deeplift.genomics.store.
    ScoreStore`) as format ``fmt`` to ``path``."""
    if fmt not in WRITERS:
        raise ExportError("unknown export format %r; known: %s"
                          % (fmt, ", ".join(sorted(WRITERS))))
    pending = store.pending()
    if pending:
        raise ExportError("store %s is not complete (%d of %d chunks to "
                          "do); rerun the deeplift contribs command that "
                          "made it" % (store.path, len(pending),
                                       store.num_chunks))
    return WRITERS[fmt](store, path, task=task, **options)


def _task_axis(store, task):
    """The leading index selecting ``task`` in a several-task store, or
    () for a one-task store."""
    if store.tasks is None:
        if task not in (None, store.settings.get("task")):
            raise ExportError("the store holds only task %s"
                              % (store.settings.get("task"),))
        return ()
    if task is None:
        raise ExportError("the store holds tasks %s; choose one with --task"
                          % (store.tasks,))
    if task not in store.tasks:
        raise ExportError("task %s is not in the store (it holds %s)"
                          % (task, store.tasks))
    return (store.tasks.index(task),)


def _chunks(store, names, task):
    """Yield ``(start, stop, {name: array (n, L, 4)})`` chunk by chunk."""
    lead = _task_axis(store, task)
    for index in range(store.num_chunks):
        start, stop = store.rows(index)
        out = {}
        for name in names:
            array = store.array(name)
            key = (lead if name != "onehot" else ()) + (slice(start, stop),)
            out[name] = np.asarray(array[key], dtype=np.float32)
        yield start, stop, out


@contextlib.contextmanager
def _atomic(path):
    """A temporary path next to ``path``, renamed to it on success and
    removed on failure."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------------
# h5 (ChromBPNet)
# ---------------------------------------------------------------------------

def write_h5(store, path, task=None, bed=None):
    """ChromBPNet layout (see the module docstring); ``bed``: where to
    write the interpreted regions (regions stores only; default
    ``<path without .h5>.interpreted_regions.bed``)."""
    import h5py
    num, length = store.num, store.length
    table = store.region_table()
    if bed is not None and table is None:
        raise ExportError("--bed needs a store made from --genome/--regions")
    if table is not None and bed is None:
        stem = path[:-3] if path.endswith(".h5") else path
        bed = stem + ".interpreted_regions.bed"
    with _atomic(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            sets = {
                "onehot": handle.create_dataset(
                    "raw/seq", (num, 4, length), dtype="int8"),
                "hypothetical": handle.create_dataset(
                    "shap/seq", (num, 4, length), dtype="float32"),
                "contribs": handle.create_dataset(
                    "projected_shap/seq", (num, 4, length), dtype="float32"),
            }
            for start, stop, arrays in _chunks(store, sets, task):
                for name, data in arrays.items():
                    sets[name][start:stop] = data.transpose(0, 2, 1)
        if table is not None:
            with _atomic(bed) as bed_tmp:
                write_narrowpeak(bed_tmp, table, length)
    return [path] + ([bed] if bed is not None else [])


def write_narrowpeak(path, table, length):
    """The regions of ``table`` as 10-column narrowPeak lines (summit at
    ``length // 2`` of each window)."""
    with open(path, "w") as handle:
        for c, s, e in zip(table.chrom, table.start, table.end):
            handle.write("%s\t%d\t%d\t.\t0\t.\t0\t0\t0\t%d\n"
                         % (table.chrom_names[c], s, e, length // 2))


# ---------------------------------------------------------------------------
# modisco
# ---------------------------------------------------------------------------

def _window(length, window):
    if window is None:
        return 0, length
    window = int(window)
    if not 1 <= window <= length:
        raise ExportError("--window must be between 1 and the sequence "
                          "length %d, got %d" % (length, window))
    start = (length - window) // 2
    return start, start + window


def _npz_writer(path, shape):
    """A context manager yielding ``write(array)`` that streams float32
    rows into ``arr_0`` of the .npz ``path``."""
    @contextlib.contextmanager
    def writer():
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED,
                             allowZip64=True) as archive:
            with archive.open("arr_0.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(
                    member, {"descr": np.lib.format.dtype_to_descr(
                        np.dtype("float32")), "fortran_order": False,
                        "shape": tuple(shape)})
                yield lambda a: member.write(
                    np.ascontiguousarray(a, dtype="<f4").tobytes())
    return writer()


def write_modisco(store, prefix, task=None, window=None):
    """``PREFIX.ohe.npz`` (one-hot) and ``PREFIX.shap.npz`` (hypothetical
    contributions), each ``arr_0`` of shape (N, 4, W)."""
    lo, hi = _window(store.length, window)
    stem = prefix[:-4] if prefix.endswith(".npz") else prefix
    paths = [stem + ".ohe.npz", stem + ".shap.npz"]
    shape = (store.num, 4, hi - lo)
    with _atomic(paths[0]) as ohe_tmp, _atomic(paths[1]) as shap_tmp:
        with _npz_writer(ohe_tmp, shape) as ohe, \
                _npz_writer(shap_tmp, shape) as shap:
            for _, _, arrays in _chunks(store, ("onehot", "hypothetical"),
                                        task):
                ohe(arrays["onehot"][:, lo:hi].transpose(0, 2, 1))
                shap(arrays["hypothetical"][:, lo:hi].transpose(0, 2, 1))
    return paths


# ---------------------------------------------------------------------------
# bigWig
# ---------------------------------------------------------------------------

def bigwig_intervals(table, chrom_rank=None):
    """Per region (in the order of ``table``), the part ``[lo, hi)`` of its
    window it contributes to the track: regions are sorted by chromosome
    and start, and two overlapping neighbours meet at the midpoint between
    their centres.  Returns ``(order, lo, hi)`` arrays (``order``: row
    indices sorted; lo == hi for a region left with nothing).
    ``chrom_rank``: the sort rank of each of ``table.chrom_names``
    (default: their order)."""
    centre = (table.start + table.end) // 2
    rank = (np.arange(len(table.chrom_names)) if chrom_rank is None
            else np.asarray(chrom_rank))
    order = np.lexsort((table.start, rank[table.chrom]))
    lo = table.start[order].copy()
    hi = table.end[order].copy()
    chrom, mid = table.chrom[order], centre[order]
    prev = None              # the last region that keeps a part
    for k in range(len(order)):
        if prev is not None and chrom[k] == chrom[prev]:
            if mid[k] == mid[prev]:       # same centre: the first keeps it
                lo[k] = hi[k]
                continue
            if lo[k] < hi[prev]:
                # bases nearer the left centre (or as near) stay with it
                cut = (mid[prev] + mid[k]) // 2 + 1
                hi[prev] = max(lo[prev], min(hi[prev], cut))
                lo[k] = max(lo[k], cut)
            lo[k] = max(lo[k], hi[prev])
        prev = k
    hi = np.maximum(hi, lo)
    return order, lo, hi


def write_bigwig(store, path, task=None):
    """Projected contributions summed over bases, one value per base."""
    try:
        import pyBigWig
    except ImportError:
        raise ExportError("--bigwig needs pyBigWig: pip install "
                          "'deeplift[genomics]'")
    table = store.region_table()
    if table is None:
        raise ExportError("--bigwig needs a store made from "
                          "--genome/--regions")
    sizes = store.group["regions"].attrs.get("chrom_sizes")
    if not sizes:
        raise ExportError("the store does not record chromosome sizes")
    lead = _task_axis(store, task)
    genome_order = {name: k for k, (name, _) in enumerate(sizes)}
    order, lo, hi = bigwig_intervals(
        table, [genome_order[name] for name in table.chrom_names])
    contribs = store.array("contribs")
    cached = [None, None]           # chunk index, (n, L) summed values

    def row_values(row):
        index = row // store.chunk_size
        if cached[0] != index:
            start, stop = store.rows(index)
            cached[0] = index
            cached[1] = np.asarray(contribs[lead + (slice(start, stop),)],
                                   dtype=np.float64).sum(-1)
        return cached[1][row - index * store.chunk_size]

    names = table.chrom_names
    with _atomic(path) as tmp:
        handle = pyBigWig.open(tmp, "w")
        try:
            handle.addHeader([(name, int(size)) for name, size in sizes])
            for k, row in enumerate(order):
                if hi[k] <= lo[k]:
                    continue
                values = row_values(int(row))
                offset = lo[k] - table.start[row]
                handle.addEntries(names[table.chrom[row]], int(lo[k]),
                                  values=values[offset:offset + hi[k] - lo[k]],
                                  span=1, step=1)
        finally:
            handle.close()
    return [path]


register_writer("h5", write_h5)
register_writer("modisco", write_modisco)
register_writer("bigwig", write_bigwig)
