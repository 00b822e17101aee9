"""Inputs of a scoring job, one reader per format in a registry.

A source gives the job's one-hot sequences by row range
(:meth:`Source.onehot`), their number and length, what identifies its
input files (:meth:`Source.fingerprint`) and, for genomic regions, the
region table.  A new input format is one function returning a
:class:`Source` and one :func:`register_reader` call.  Sources are built
from plain options (``open_source(kind, **options)``), so that every
worker process opens its own.
"""
import os

import numpy as np

from deeplift.genomics.encoding import length_mismatch, one_hot_encode
from deeplift.genomics.fasta import read_fasta
from deeplift.genomics.regions import (Genome, RegionError, file_digest,
                                       read_regions)

#: reader name -> function(**options) -> Source
READERS = {}


def register_reader(name, func):
    """Register ``func(**options)`` (returning a :class:`Source`) as the
    reader ``name``."""
    READERS[name] = func
    return func


def open_source(kind, **options):
    """The :class:`Source` of reader ``kind`` for ``options``."""
    if kind not in READERS:
        raise ValueError("unknown input kind %r; known: %s"
                         % (kind, ", ".join(sorted(READERS))))
    return READERS[kind](**options)


class Source:
    """Sequences of a job: ``num`` of them, ``length`` bases each."""
    kind = None
    table = None          # RegionTable of the scored rows (regions only)
    dropped = None        # RegionTable of the regions left out

    def __init__(self, num, length, names=None):
        self.num, self.length, self.names = int(num), int(length), names

    def onehot(self, start, stop):
        """(stop - start, L, 4) float32 one-hot of rows start..stop-1."""
        raise NotImplementedError

    def fingerprint(self):
        """A dict identifying the input (file digests, options)."""
        raise NotImplementedError


class ArraySource(Source):
    """Sequences held as one (N, L, 4) array (a FASTA read in memory or a
    memory-mapped ``.npy``)."""

    def __init__(self, kind, path, onehot, names):
        super().__init__(len(onehot), onehot.shape[1], names)
        self.kind, self.path, self._onehot = kind, path, onehot

    def onehot(self, start, stop):
        return np.asarray(self._onehot[start:stop], dtype=np.float32)

    def fingerprint(self):
        return {"input": self.kind, "input_sha256": file_digest(self.path)}


def _fasta_source(path):
    names, seqs = read_fasta(path)
    bad = length_mismatch(seqs)
    if bad is not None:
        raise ValueError(
            "%s: sequences must all have the same length; %r has length "
            "%d but %r has length %d" % (path, names[0], len(seqs[0]),
                                         names[bad], len(seqs[bad])))
    return ArraySource("fasta", path, one_hot_encode(seqs), names)


def _npy_source(path):
    try:
        onehot = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ValueError("cannot read %s as a .npy array: %s" % (path, exc))
    if isinstance(onehot, np.lib.npyio.NpzFile):
        raise ValueError("%s is an .npz archive; give a .npy file with one "
                         "(N, L, 4) array" % (path,))
    if not (np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise ValueError("%s holds a non-numeric array (dtype %s)"
                         % (path, onehot.dtype))
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        hint = (" (it looks like (N, 4, L): transpose it to (N, L, 4))"
                if onehot.ndim == 3 and onehot.shape[1] == 4 else "")
        raise ValueError("%s has shape %s; expected one-hot sequences of "
                         "shape (N, L, 4)%s" % (path, onehot.shape, hint))
    return ArraySource("npy", path, onehot,
                       [str(i) for i in range(len(onehot))])


class RegionSource(Source):
    """Windows of a genome around the regions of a BED / narrowPeak file;
    the rows are the kept regions, in file order."""
    kind = "regions"

    def __init__(self, genome, regions, length, center="auto"):
        self.genome = Genome(genome)
        self.regions_path = os.fspath(regions)
        self.center = center
        full = read_regions(regions, self.genome.sizes, length, center)
        self.all_regions = full
        self.table = full.kept_table()
        super().__init__(len(self.table), length)

    def onehot(self, start, stop):
        return self.genome.onehot(self.table, range(start, stop))

    def fingerprint(self):
        return {"input": "regions",
                "genome_index_sha256": self.genome.index_digest(),
                "regions_sha256": file_digest(self.regions_path),
                "center": self.center}


register_reader("fasta", _fasta_source)
register_reader("npy", _npy_source)
register_reader("regions", RegionSource)

__all__ = ["READERS", "register_reader", "open_source", "Source",
           "ArraySource", "RegionSource", "RegionError"]
