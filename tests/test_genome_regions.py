"""Region input (deeplift.genomics.regions / sources): genome FASTA via
pyfaidx, BED / narrowPeak parsing, centring, edge regions, bad input.
No TensorFlow needed."""
import gzip

import numpy as np
import pytest

from deeplift.genomics import one_hot_encode
from deeplift.genomics.regions import Genome, RegionError, read_regions
from deeplift.genomics.sources import open_source
from tests.genomics_helpers import write_genome, write_peaks

pytest.importorskip("pyfaidx")

SIZES = {"chr1": 500, "chr2": 300}


@pytest.fixture()
def genome(tmp_path):
    seqs = write_genome(tmp_path / "g.fa", SIZES, seed=1)
    return str(tmp_path / "g.fa"), seqs


def test_genome_index_built_once_and_case_kept(genome):
    path, seqs = genome
    g = Genome(path)
    assert g.sizes == SIZES
    assert g.fetch("chr1", 10, 70) == seqs["chr1"][10:70]   # lowercase, N
    mtime = __import__("os").stat(path + ".fai").st_mtime_ns
    Genome(path)
    assert __import__("os").stat(path + ".fai").st_mtime_ns == mtime


def test_centring_and_edges(tmp_path, genome):
    path, seqs = genome
    peaks = write_peaks(tmp_path / "p.narrowPeak", [
        ("chr1", 100, 200, 30),     # summit 130
        ("chr2", 0, 40, 5),         # runs off the start
        ("chr1", 300, 400, -1),     # no summit: midpoint 350
        ("chr1", 440, 500, 50),     # runs off the end
    ])
    table = read_regions(peaks, SIZES, 100)
    assert table.chrom_names == ["chr1", "chr2"]
    assert table.start.tolist() == [80, -45, 300, 440]
    assert (table.end - table.start).tolist() == [100] * 4
    assert table.kept.tolist() == [True, False, True, False]
    mid = read_regions(peaks, SIZES, 100, center="mid")
    assert mid.start.tolist() == [100, -30, 300, 420]
    with pytest.raises(RegionError, match="line 3: --center summit needs"):
        read_regions(peaks, SIZES, 100, center="summit")

    source = open_source("regions", genome=path, regions=peaks, length=100)
    assert source.num == 2 and source.table.source_row.tolist() == [0, 2]
    expected = one_hot_encode([seqs["chr1"][80:180], seqs["chr1"][300:400]])
    np.testing.assert_array_equal(source.onehot(0, 2), expected)


def test_bed3_gzipped_with_header(tmp_path):
    path = tmp_path / "r.bed.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("track name=x\n# comment\nchr1 10 30\nchr2\t0\t300\n")
    table = read_regions(path, SIZES, 20)
    assert table.start.tolist() == [10, 140] and table.kept.all()


@pytest.mark.parametrize("text, message", [
    ("chr1\t10\n", "line 1: a BED line needs at least 3 columns"),
    ("chr1\t10\t20\nchr1\tx\t20\n",
     "line 2: start and end must be integers"),
    ("chr1\t30\t20\n", "line 1: invalid interval"),
    ("chrX\t10\t20\n", "line 1: chromosome 'chrX' is not in the genome"),
    ("# only a header\n", "holds no regions"),
    ("chr1\t1\t9\tp\t0\t.\t1\t1\t1\tsummit\n",
     r"summit \(column 10\) must be an integer"),
    # a summit offset at or past the peak's length (often a genome
    # coordinate written where MACS2 writes an offset) is refused
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t150\n",
     r"line 1: the summit offset 150 \(column 10\) is outside its peak "
     r"chr1:100-200 \(length 100\).*--center mid"),
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t99\nchr1\t0\t8\tq\t0\t.\t1\t1\t1\t8\n",
     r"line 2: the summit offset 8 \(column 10\) is outside its peak"),
])
def test_bad_region_files(tmp_path, text, message):
    path = tmp_path / "bad.bed"
    path.write_text(text)
    with pytest.raises(RegionError, match=message):
        read_regions(path, SIZES, 10)


def test_summit_outside_peak_is_ignored_with_center_mid(tmp_path):
    """``--center mid`` does not read column 10, so a bad summit there
    does not matter: the window is centred on the midpoint."""
    path = tmp_path / "p.narrowPeak"
    path.write_text("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t150\n")
    table = read_regions(path, SIZES, 10, center="mid")
    assert table.start.tolist() == [145] and table.kept.all()


def test_bad_genomes(tmp_path):
    with pytest.raises(RegionError, match="does not exist"):
        Genome(tmp_path / "none.fa")
    (tmp_path / "x.fa").write_text("chr1 10 20\n")
    with pytest.raises(RegionError, match="is not a FASTA file"):
        Genome(tmp_path / "x.fa")
