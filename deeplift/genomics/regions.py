"""Genomic regions: a genome FASTA read through pyfaidx and BED /
narrowPeak region files, centred and cut to the model's input length.

    genome = Genome("hg38.fa")                       # builds hg38.fa.fai once
    table = read_regions("peaks.narrowPeak", genome.sizes, length=2114)
    onehot = genome.onehot(table, rows)              # (len(rows), L, 4)
"""
import gzip
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from deeplift.genomics.encoding import one_hot_encode

CENTERS = ("auto", "summit", "mid")


class RegionError(ValueError):
    """Bad genome or region input (one line, naming the file and line)."""


def file_digest(path, algorithm="sha256"):
    """Hex digest of the bytes of the file ``path``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Genome:
    """A read-only genome FASTA (plain or bgzip) opened with pyfaidx; the
    ``.fai`` index is built next to it if missing.  Each process opens its
    own handle (the object pickles as its path)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise RegionError("genome %s does not exist" % (self.path,))
        with open(self.path, "rb") as handle:
            head = handle.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(self.path, "rb") as handle:
                try:
                    head = handle.read(1)
                except OSError as exc:
                    raise RegionError("cannot read genome %s: %s"
                                      % (self.path, exc))
        if head[:1] != b">":
            raise RegionError("genome %s is not a FASTA file (it does not "
                              "start with '>')" % (self.path,))
        self._fasta = None
        self.sizes = {name: length for name, length in self._open_index()}

    def _open_index(self):
        try:
            import pyfaidx
        except ImportError:
            raise RegionError("--genome needs pyfaidx: pip install "
                              "'deeplift[genomics]'")
        try:
            self._fasta = pyfaidx.Fasta(self.path, as_raw=True,
                                        sequence_always_upper=False,
                                        rebuild=False)
        except Exception as exc:     # pyfaidx raises several kinds
            raise RegionError("cannot index genome %s: %s"
                              % (self.path, str(exc).splitlines()[0]
                                 if str(exc) else type(exc).__name__))
        return [(name, len(record)) for name, record in
                self._fasta.records.items()]

    @property
    def index_path(self):
        """Path of the FASTA's ``.fai`` index (the FASTA path plus ``.fai``)."""
        return self.path + ".fai"

    def index_digest(self):
        """sha256 of the ``.fai`` index (names, lengths and layout)."""
        return file_digest(self.index_path)

    def __getstate__(self):
        return {"path": self.path, "sizes": self.sizes}

    def __setstate__(self, state):
        self.path, self.sizes = state["path"], state["sizes"]
        self._fasta = None

    def fetch(self, chrom, start, end):
        """The bases ``[start, end)`` of ``chrom`` as a string (case
        kept)."""
        if self._fasta is None:
            self._open_index()
        return str(self._fasta[chrom][int(start):int(end)])

    def onehot(self, table, rows):
        """One-hot (len(rows), L, 4) float32 of the table's rows."""
        return one_hot_encode([self.fetch(table.chrom_names[table.chrom[i]],
                                          table.start[i], table.end[i])
                               for i in rows])


@dataclass
class RegionTable:
    """Regions cut to a fixed length, in file order.

    ``chrom`` (int32 index into ``chrom_names``), ``start``, ``end``
    (int64, 0-based half-open windows), ``source_row`` (int64, the data
    line of the file, 0-based, header lines not counted) and ``kept``
    (bool: the window lies inside its chromosome), each of length the
    number of regions in the file.
    """
    chrom_names: list
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    source_row: np.ndarray
    kept: np.ndarray

    def kept_table(self):
        """The kept regions only (the rows that are scored), in order."""
        keep = self.kept
        return RegionTable(list(self.chrom_names), self.chrom[keep],
                           self.start[keep], self.end[keep],
                           self.source_row[keep], self.kept[keep])

    def __len__(self):
        return len(self.chrom)


def _open_text(path):
    with open(path, "rb") as handle:
        gz = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else open(path, "rt")


def data_lines(path):
    """``(line number, fields, text)`` of each data line of a BED or
    narrowPeak file (optionally gzipped): blank, ``#``, ``track`` and
    ``browser`` lines skipped; fields split on tabs, or on any whitespace
    when that gives fewer than 3."""
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.rstrip("\n\r")
            if (not text.strip() or text.startswith(("#", "track ",
                                                     "browser "))):
                continue
            fields = text.split("\t")
            if len(fields) < 3:
                fields = text.split()
            yield lineno, fields, text


def read_regions(path, sizes, length, center="auto"):
    """Read a BED or narrowPeak file (optionally gzipped) into a
    :class:`RegionTable` of windows of ``length`` bases.

    Each window is centred on the summit (narrowPeak column 10, an offset
    from the start) with ``center="summit"``, on the midpoint of start and
    end with ``"mid"``; ``"auto"`` uses the summit where the line has one
    (>= 0) and the midpoint otherwise.  Windows that run off their
    chromosome (``sizes``: name -> length) have ``kept=False``.  Raises
    :class:`RegionError` for a missing or empty file, a malformed line
    (naming it), a summit outside its peak (not ``0 <= summit < end -
    start``; unless ``center="mid"``, which ignores column 10) or a
    chromosome that is not in ``sizes``.
    """
    path = os.fspath(path)
    if center not in CENTERS:
        raise RegionError("--center must be one of %s, got %r"
                          % (", ".join(CENTERS), center))
    if not os.path.isfile(path):
        raise RegionError("regions file %s does not exist" % (path,))
    length = int(length)
    names, index = [], {}
    chrom, start, rows = [], [], []
    try:
        for lineno, fields, text in data_lines(path):
            if len(fields) < 3:
                raise RegionError(
                    "%s line %d: a BED line needs at least 3 columns "
                    "(chrom, start, end), got %r" % (path, lineno,
                                                     text[:60]))
            try:
                lo, hi = int(fields[1]), int(fields[2])
            except ValueError:
                raise RegionError(
                    "%s line %d: start and end must be integers, got "
                    "%r and %r" % (path, lineno, fields[1], fields[2]))
            if lo < 0 or hi < lo:
                raise RegionError("%s line %d: invalid interval %d-%d"
                                  % (path, lineno, lo, hi))
            summit = -1
            if center != "mid" and len(fields) >= 10:
                try:
                    summit = int(fields[9])
                except ValueError:
                    raise RegionError(
                        "%s line %d: the summit (column 10) must be an "
                        "integer, got %r" % (path, lineno, fields[9]))
            if summit >= hi - lo:
                # MACS2's column 10 is an offset from the start; one
                # at or past the peak's length is usually a genome
                # coordinate, and would centre the window elsewhere
                raise RegionError(
                    "%s line %d: the summit offset %d (column 10) is "
                    "outside its peak %s:%d-%d (length %d): column 10 "
                    "is an offset from the start, 0 <= offset < end - "
                    "start; fix the file or use --center mid"
                    % (path, lineno, summit, fields[0], lo, hi, hi - lo))
            if center == "summit" and summit < 0:
                raise RegionError(
                    "%s line %d: --center summit needs narrowPeak "
                    "summits (column 10 >= 0); use --center mid"
                    % (path, lineno))
            name = fields[0]
            if name not in sizes:
                raise RegionError(
                    "%s line %d: chromosome %r is not in the genome "
                    "(it has %s)" % (path, lineno, name,
                                     ", ".join(list(sizes)[:5])
                                     + (", ..." if len(sizes) > 5
                                        else "")))
            if name not in index:
                index[name] = len(names)
                names.append(name)
            mid = lo + summit if summit >= 0 else (lo + hi) // 2
            chrom.append(index[name])
            start.append(mid - length // 2)
            rows.append(len(rows))
    except UnicodeDecodeError:
        raise RegionError("%s is not a text BED file" % (path,))
    except (OSError, EOFError) as exc:
        raise RegionError("cannot read regions file %s: %s" % (path, exc))
    if not rows:
        raise RegionError("regions file %s holds no regions" % (path,))
    chrom = np.asarray(chrom, dtype=np.int32)
    start = np.asarray(start, dtype=np.int64)
    end = start + length
    limits = np.asarray([sizes[n] for n in names], dtype=np.int64)[chrom]
    kept = (start >= 0) & (end <= limits)
    return RegionTable(names, chrom, start, end,
                       np.asarray(rows, dtype=np.int64), kept)


def write_bed(path, table):
    """Write ``table``'s rows as a BED3 file (chrom, start, end)."""
    with open(path, "w") as handle:
        for c, s, e in zip(table.chrom, table.start, table.end):
            handle.write("%s\t%d\t%d\n" % (table.chrom_names[c], s, e))
