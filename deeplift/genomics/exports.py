"""Exports of a complete score store, one writer per format in a registry.

* ``h5``: ChromBPNet's contribution file layout -- ``raw/seq`` (N, 4, L)
  int8 one-hot, ``shap/seq`` (N, 4, L) float32 hypothetical and
  ``projected_shap/seq`` (N, 4, L) float32 projected (actual)
  contributions -- and, for genomic regions, the interpreted regions as a
  narrowPeak-style BED in the same row order (summit column = L // 2,
  name column = the regions file's peak names, see ``region_names``);
* ``modisco``: the ``PREFIX.ohe.npz`` / ``PREFIX.shap.npz`` pair
  (``arr_0``, (N, 4, W) float32, cropped to the central ``window``) that
  ``modisco motifs -s PREFIX.ohe.npz -a PREFIX.shap.npz`` reads;
* ``bigwig``: projected contributions summed over the bases, one value
  per base; regions sorted by chromosome and start, overlapping regions
  cut at the midpoint between their centres (as ChromBPNet does);
  chromosome sizes from the genome index (pyBigWig).

Every writer reads each chunk of the store once, in store order, so its
time is linear in the store's size (the bigWig writer scatters the
per-base sums into a flat float32 track in genome order -- in memory, or
in an unlinked memory-mapped file next to the output when it is large --
and writes that track once).  Each file is written to a temporary file
next to it, renamed into place at the end; it gets the permissions of an
ordinary new file (``0666`` less the umask; an existing file keeps its
mode).  A new format is one function ``writer(store, path, task=None,
**options)`` and one :func:`register_writer` call.
"""
import contextlib
import logging
import os
import stat
import tempfile
import zipfile

import numpy as np

logger = logging.getLogger(__name__)

#: bigWig tracks larger than this many bytes are spilled to a memory-mapped
#: temporary file instead of RAM
SPILL_BYTES = 256 << 20

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


def _new_file_mode(path):
    """The mode an ordinary ``open(path, "w")`` leaves: an existing file's
    own, else ``0666`` less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    try:                        # Linux >= 4.7: read without changing it
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def _atomic(path):
    """A temporary path next to ``path``, renamed to it on success and
    removed on failure.  The file ends with the mode of an ordinary new
    file (see :func:`_new_file_mode`), not ``mkstemp``'s ``0600``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
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
                write_narrowpeak(bed_tmp, table, length,
                                 region_names(store, table))
    return [path] + ([bed] if bed is not None else [])


def write_narrowpeak(path, table, length, names=None):
    """The regions of ``table`` as 10-column narrowPeak lines (summit at
    ``length // 2`` of each window); ``names``: one name per row for
    column 4 (default ``.``)."""
    if names is None:
        names = ["."] * len(table)
    with open(path, "w") as handle:
        for c, s, e, name in zip(table.chrom, table.start, table.end, names):
            handle.write("%s\t%d\t%d\t%s\t0\t.\t0\t0\t0\t%d\n"
                         % (table.chrom_names[c], s, e, name, length // 2))


def region_names(store, table):
    """Column 4 (the peak name) of the regions file the store was made
    from, one per row of ``table`` (``.`` where a line has none), or None
    when that file cannot be found unchanged (its sha256 is in the store's
    fingerprint); the file is looked for where the run named it and next
    to the store."""
    from deeplift.genomics.regions import data_lines, file_digest
    given = store.settings.get("input")
    digest = store.fingerprint.get("regions_sha256")
    if not given or not digest:
        return None
    candidates = [given]
    if not os.path.isabs(given):
        candidates.append(os.path.join(
            os.path.dirname(os.path.abspath(store.path)), given))
    candidates.append(os.path.join(os.path.dirname(
        os.path.abspath(store.path)), os.path.basename(given)))
    for candidate in candidates:
        try:
            if (os.path.isfile(candidate)
                    and file_digest(candidate) == digest):
                break
        except OSError:
            continue
    else:
        logger.warning("the regions file %s is not where the store names "
                       "it or has changed: the BED's name column is '.'",
                       given)
        return None
    names = []
    # the data lines, as deeplift.genomics.regions.read_regions counts
    # them (source_row): blank, '#', 'track ' and 'browser ' lines skipped
    for _, fields, _ in data_lines(candidate):
        name = fields[3].strip() if len(fields) >= 4 else ""
        names.append(name or ".")
    rows = np.asarray(table.source_row, dtype=np.int64)
    if len(rows) and rows.max() >= len(names):
        return None
    return [names[r] for r in rows]


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


@contextlib.contextmanager
def _track(size, directory):
    """A float32 array of ``size`` values: in memory, or memory-mapped on
    an unlinked temporary file in ``directory`` above :data:`SPILL_BYTES`."""
    if size * 4 <= SPILL_BYTES:
        yield np.empty(size, dtype=np.float32)
        return
    with tempfile.TemporaryFile(dir=directory, prefix=".deeplift-track.") \
            as handle:
        handle.truncate(size * 4)
        track = np.memmap(handle, dtype=np.float32, mode="r+",
                          shape=(size,))
        try:
            yield track
        finally:
            del track


def write_bigwig(store, path, task=None):
    """Projected contributions summed over bases (in float64, stored as
    float32), one value per base, for the parts of the windows that
    :func:`bigwig_intervals` gives.  One pass over the store's chunks in
    store order scatters each row's part into a flat track in genome
    order; the track is then written in genome order, parts that touch
    as one section (the same values as one section per region, fewer
    compressed blocks)."""
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
    _task_axis(store, task)
    genome_order = {name: k for k, (name, _) in enumerate(sizes)}
    order, lo, hi = bigwig_intervals(
        table, [genome_order[name] for name in table.chrom_names])
    widths = hi - lo                          # in sorted order
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    names = table.chrom_names
    directory = os.path.dirname(os.path.abspath(path))
    with _track(int(offsets[-1]), directory) as track:
        length = store.length
        for start, stop, arrays in _chunks(store, ("contribs",), task):
            sums = arrays["contribs"].astype(np.float64).sum(-1)
            # each row's part [lo, hi) goes to track[offsets[k]:offsets[k+1]]
            k = rank[start:stop]
            width = widths[k]
            total = int(width.sum())
            if not total:
                continue
            first = np.cumsum(width) - width    # of each part, in the copy
            step = np.arange(total) - np.repeat(first, width)
            source = np.repeat(np.arange(stop - start) * length
                               + lo[k] - table.start[start:stop], width)
            track[np.repeat(offsets[k], width) + step] = \
                sums.ravel()[source + step]
        with _atomic(path) as tmp:
            handle = pyBigWig.open(tmp, "w")
            try:
                handle.addHeader([(name, int(size)) for name, size in sizes])
                chrom = table.chrom[order]
                for a, b in _runs(chrom, lo, hi):
                    handle.addEntries(names[chrom[a]], int(lo[a]),
                                      values=track[offsets[a]:offsets[b]],
                                      span=1, step=1)
            finally:
                handle.close()
    return [path]


def _runs(chrom, lo, hi):
    """``(a, b)`` index ranges of the sorted parts with something in them
    whose parts follow each other without a gap on one chromosome: each
    is one fixed-step section of the bigWig (libBigWig compresses one
    block per section, so touching parts are written together)."""
    keep = np.flatnonzero(hi > lo)
    if not len(keep):
        return []
    breaks = np.flatnonzero((chrom[keep[1:]] != chrom[keep[:-1]])
                            | (lo[keep[1:]] != hi[keep[:-1]])) + 1
    firsts = keep[np.concatenate([[0], breaks])]
    lasts = keep[np.concatenate([breaks - 1, [len(keep) - 1]])]
    return list(zip(firsts.tolist(), (lasts + 1).tolist()))


register_writer("h5", write_h5)
register_writer("modisco", write_modisco)
register_writer("bigwig", write_bigwig)
