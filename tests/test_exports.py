"""Exports of a score store (deeplift.genomics.exports) on synthetic
stores written directly (random scores, no model): the one-pass bigWig
writer gives the same track as the former chunk-rereading writer (kept
below as the reference), exports follow the umask, and the interpreted
regions keep the peak names."""
import os
import stat

import numpy as np
import pytest

pytest.importorskip("zarr")

from deeplift.cli import main  # noqa: E402
from deeplift.genomics import exports  # noqa: E402
from deeplift.genomics.regions import file_digest, read_regions  # noqa
from deeplift.genomics.store import ScoreStore  # noqa: E402

SIZES = [("chrB", 3000), ("chrA", 2500), ("chrC", 40)]   # genome order
L = 50


def make_store(tmp, num=150, chunk=16, tasks=None, dtype="float32", seed=0):
    """A complete store of ``num`` narrowPeak regions on chrA/chrB (file
    order: chrA first, so that genome and file order differ; many overlap,
    some share a centre), random scores; returns (store, peaks path)."""
    rng = np.random.RandomState(seed)
    peaks = os.path.join(str(tmp), "p.narrowPeak")
    with open(peaks, "w") as handle:
        handle.write("track name=test\n# a comment\n")
        last = 0
        for i in range(num):
            chrom = "chrA" if i % 3 else "chrB"
            start = int(rng.randint(0, 2400))
            if i % 13 == 7:              # a window longer than chrC: left out
                chrom, start = "chrC", 0
            if i % 17 == 5:              # a copy of the previous peak
                start = last
            last = start
            name = ("peak_%d" % i) if i % 11 else ""
            handle.write("%s\t%d\t%d\t%s\t0\t.\t1\t1\t1\t%d\n"
                         % (chrom, start, start + 60, name, 30))
    table = read_regions(peaks, dict(SIZES), L)
    kept = table.kept_table()
    store = ScoreStore.create(
        os.path.join(str(tmp), "s.zarr"),
        {"regions_sha256": file_digest(peaks)}, {"input": peaks},
        len(kept), L, chunk, tasks=tasks, dtype=dtype, regions=table,
        chrom_sizes=SIZES)
    lead = (len(tasks),) if tasks is not None else ()
    for index in range(store.num_chunks):
        start, stop = store.rows(index)
        onehot = np.eye(4, dtype=np.float32)[
            rng.randint(0, 4, (stop - start, L))]
        hyp = rng.standard_normal(lead + onehot.shape).astype(np.float32)
        store.write(index, onehot, hyp)
    return store, peaks


def reference_bigwig(store, path, task=None):
    """The writer before the one-pass rewrite: regions in genome order,
    the row's whole chunk re-read and re-summed whenever the chunk
    changes."""
    import pyBigWig
    table = store.region_table()
    sizes = store.group["regions"].attrs["chrom_sizes"]
    lead = exports._task_axis(store, task)
    genome_order = {name: k for k, (name, _) in enumerate(sizes)}
    order, lo, hi = exports.bigwig_intervals(
        table, [genome_order[name] for name in table.chrom_names])
    contribs = store.array("contribs")
    cached = [None, None]

    def row_values(row):
        index = row // store.chunk_size
        if cached[0] != index:
            start, stop = store.rows(index)
            cached[0] = index
            cached[1] = np.asarray(contribs[lead + (slice(start, stop),)],
                                   dtype=np.float64).sum(-1)
        return cached[1][row - index * store.chunk_size]

    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([(name, int(size)) for name, size in sizes])
    for k, row in enumerate(order):
        if hi[k] <= lo[k]:
            continue
        values = row_values(int(row))
        offset = lo[k] - table.start[row]
        handle.addEntries(table.chrom_names[table.chrom[row]], int(lo[k]),
                          values=values[offset:offset + hi[k] - lo[k]],
                          span=1, step=1)
    handle.close()


@pytest.mark.parametrize("tasks,dtype,spill", [
    (None, "float32", False), ([0, 3], "float16", True)])
def test_one_pass_bigwig_equals_the_former_writer(tmp_path, monkeypatch,
                                                  tasks, dtype, spill):
    pyBigWig = pytest.importorskip("pyBigWig")
    store, _ = make_store(tmp_path, tasks=tasks, dtype=dtype)
    task = None if tasks is None else 3
    if spill:       # force the memory-mapped track
        monkeypatch.setattr(exports, "SPILL_BYTES", 0)
    new, old = tmp_path / "new.bw", tmp_path / "old.bw"
    assert exports.export(store, "bigwig", str(new), task=task) == [str(new)]
    reference_bigwig(store, old, task=task)
    # the same track: every interval, the summary and the zoom levels (the
    # data sections differ: touching parts are now one section)
    a, b = pyBigWig.open(str(new)), pyBigWig.open(str(old))
    assert a.chroms() == b.chroms() and a.header() == b.header()
    covered_bases = 0
    for chrom, size in SIZES:
        assert a.intervals(chrom) == b.intervals(chrom)
        for bins in (1, 7, 100):
            for kind in ("mean", "max", "coverage"):
                assert a.stats(chrom, 0, size, type=kind, nBins=bins) == \
                    b.stats(chrom, 0, size, type=kind, nBins=bins)
        covered = np.isfinite(np.asarray(b.values(chrom, 0, size)))
        covered_bases += int(covered.sum())
    a.close()
    b.close()
    assert covered_bases > 1000
    # and the values are those of the rows (not only equal to themselves)
    handle = pyBigWig.open(str(new))
    table = store.region_table()
    contribs = np.asarray(store.array("contribs")[:], np.float64)
    if tasks is not None:
        contribs = contribs[tasks.index(task)]
    rank = [[name for name, _ in SIZES].index(n) for n in table.chrom_names]
    order, lo, hi = exports.bigwig_intervals(table, rank)
    checked = 0
    for k, row in enumerate(order):
        if hi[k] > lo[k]:
            got = handle.values(table.chrom_names[table.chrom[row]],
                                int(lo[k]), int(hi[k]), numpy=True)
            off = lo[k] - table.start[row]
            want = contribs[row, off:off + hi[k] - lo[k]].sum(-1)
            # bigWig stores float32: the float64 sums rounded once
            np.testing.assert_array_equal(got, want.astype(np.float32))
            checked += 1
    handle.close()
    assert checked > 50 and len(order) > checked   # some were cut away
    runs = exports._runs(table.chrom[order], lo, hi)
    assert 10 < len(runs) < checked           # touching parts were merged
    assert sum(int((hi[a:b] - lo[a:b]).sum()) for a, b in runs) == \
        int((hi - lo).sum())                  # every part in one run


def _modes(paths):
    return {os.path.basename(p): stat.S_IMODE(os.stat(p).st_mode)
            for p in paths}


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_exports_follow_the_umask(tmp_path, capfd, umask):
    pytest.importorskip("h5py")
    pytest.importorskip("pyBigWig")
    store, _ = make_store(tmp_path, num=40)
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(umask)
    try:
        status = main(["export", store.path, "--h5", str(out / "c.h5"),
                       "--modisco", str(out / "m"),
                       "--bigwig", str(out / "t.bw")])
    finally:
        os.umask(old)
    capfd.readouterr()
    assert status == 0
    names = ["c.h5", "c.interpreted_regions.bed", "m.ohe.npz",
             "m.shap.npz", "t.bw"]
    assert sorted(os.listdir(out)) == sorted(names)   # no temporary left
    assert _modes([out / n for n in names]) == {n: 0o666 & ~umask
                                                for n in names}
    # an existing file keeps its own mode, as with open(path, "w")
    os.chmod(out / "t.bw", 0o640)
    assert exports.export(store, "bigwig", str(out / "t.bw"))
    assert stat.S_IMODE(os.stat(out / "t.bw").st_mode) == 0o640


def test_interpreted_regions_keep_the_peak_names(tmp_path, capfd):
    pytest.importorskip("h5py")
    store, peaks = make_store(tmp_path, num=40)
    status = main(["export", store.path, "--h5", str(tmp_path / "c.h5")])
    capfd.readouterr()
    assert status == 0
    bed = (tmp_path / "c.interpreted_regions.bed").read_text().splitlines()
    # independently: the data lines of the file, the kept ones in order
    data = [line.split("\t") for line in open(peaks)
            if not line.startswith(("track", "#"))]
    kept = [f for f in data if f[0] != "chrC"]      # chrC: 40 bases < L
    table = store.region_table()
    assert len(bed) == len(table) == len(kept) < len(data)
    assert [line.split("\t")[3] for line in bed] == \
        [f[3] or "." for f in kept]
    assert sum(f[3] == "" for f in kept) > 0          # unnamed lines: "."
    # a moved or edited regions file: no wrong names, '.' and a warning
    with open(peaks, "a") as handle:
        handle.write("chrA\t10\t70\tlate\t0\t.\t1\t1\t1\t30\n")
    status = main(["export", store.path, "--h5", str(tmp_path / "d.h5")])
    capfd.readouterr()
    assert status == 0
    bed = (tmp_path / "d.interpreted_regions.bed").read_text().splitlines()
    assert {line.split("\t")[3] for line in bed} == {"."}


def test_export_help_states_the_overlap_rule(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "centre is nearer" in text and "starting first" in text
    assert "umask" in text and "peak names" in text
