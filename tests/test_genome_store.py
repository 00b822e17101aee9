"""Genome + regions in, a chunked resumable Zarr store out (deeplift
contribs --genome/--regions --out X.zarr), deeplift status and deeplift
export; bit-identity across chunk sizes, the FASTA path and a resume after
SIGKILL."""
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("pyfaidx")

from deeplift import genomics  # noqa: E402
from deeplift.cli import DEMO_MODEL, main  # noqa: E402
from deeplift.genomics.store import ScoreStore  # noqa: E402
from tests.genomics_helpers import (REPO, contribs_argv,  # noqa: E402
                                     dask_worker_processes, done_count,
                                     random_peak_rows, repo_env,
                                     wait_for_chunks, write_genome,
                                     write_peaks)

SIZES = {"chr1": 2400, "chr2": 900}
L = 200
COMMON = ["--reference", "dinuc-shuffle:3", "--task", "0,2",
          "--batch-size", "24", "--quiet"]


def run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A genome, 40 peaks (two running off a chromosome, overlapping ones)
    and the store of one uninterrupted in-process run (chunk size 64)."""
    tmp = tmp_path_factory.mktemp("genome")
    seqs = write_genome(tmp / "g.fa", SIZES, seed=2)
    rows = random_peak_rows(SIZES, 40)
    rows[5] = ("chr1", 0, 60, 10)                 # off the start
    rows[17] = ("chr2", 850, 900, 40)             # off the end
    peaks = write_peaks(tmp / "p.narrowPeak", rows)
    ref = tmp / "ref.zarr"
    status = main(contribs_argv(tmp / "g.fa", peaks, ref, "--chunk-size",
                                "64", *COMMON))
    assert status == 0
    return {"tmp": tmp, "genome": str(tmp / "g.fa"), "peaks": str(peaks),
            "ref": str(ref), "seqs": seqs, "rows": rows}


def arrays(path):
    store = ScoreStore.open(path)
    return {name: np.asarray(store.array(name)[:])
            for name in ("onehot", "hypothetical", "contribs")}


def assert_same_bytes(a, b):
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == \
            b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), name


def windows(rows):
    """Independently: the centred windows and which are inside."""
    out = []
    for chrom, start, end, summit in rows:
        lo = start + summit - L // 2
        out.append((chrom, lo, lo + L, lo >= 0 and lo + L <= SIZES[chrom]))
    return out


def test_regions_store_equals_fasta_path_and_other_chunkings(data, capfd,
                                                             tmp_path):
    ref = arrays(data["ref"])
    wins = windows(data["rows"])
    kept = [w for w in wins if w[3]]
    assert ref["onehot"].shape == (38, L, 4)
    assert ref["hypothetical"].shape == (2, 38, L, 4)
    assert ref["hypothetical"].dtype == np.float32
    store = ScoreStore.open(data["ref"])
    table = store.region_table(kept_only=False)
    assert table.kept.tolist() == [w[3] for w in wins]
    assert [(table.chrom_names[c], s, e) for c, s, e in zip(
        table.chrom, table.start, table.end)] == [w[:3] for w in wins]

    # chunk size 7 (six chunks, one partial), same bytes
    status, _, err = run(contribs_argv(data["genome"], data["peaks"],
                                       tmp_path / "c7.zarr", "--chunk-size",
                                       "7", *COMMON), capfd)
    assert status == 0
    assert "2 of 40 regions run off their chromosome" in err
    assert_same_bytes(arrays(tmp_path / "c7.zarr"), ref)

    # the FASTA path on the same sequences, extracted independently
    seqs = [data["seqs"][c][s:e] for c, s, e, _ in kept]
    with open(tmp_path / "x.fa", "w") as handle:
        for i, seq in enumerate(seqs):
            handle.write(">r%d extra words\n%s\n" % (i, seq))
    status, _, _ = run(["contribs", DEMO_MODEL, "--fasta", tmp_path / "x.fa",
                        "--out", tmp_path / "f.zarr", "--chunk-size", "64"]
                       + COMMON, capfd)
    assert status == 0
    assert_same_bytes(arrays(tmp_path / "f.zarr"), ref)
    assert ScoreStore.open(tmp_path / "f.zarr").group.attrs["names"][:2] == \
        ["r0", "r1"]
    # ... and the Python API in memory
    model = genomics.load_model(DEMO_MODEL,
                                maxpool_deeplift_mode="summation_to_delta")
    hyp, contribs = genomics.score_sequences(
        model, genomics.one_hot_encode(seqs), task_idx=[0, 2],
        reference="dinuc-shuffle:3", seed=0, batch_size=24, progress=False)
    assert hyp.tobytes() == ref["hypothetical"].tobytes()
    assert contribs.tobytes() == ref["contribs"].tobytes()
    np.testing.assert_array_equal(ref["onehot"],
                                  genomics.one_hot_encode(seqs))


def test_fingerprint_overwrite_and_status(data, capfd, tmp_path):
    out = tmp_path / "s.zarr"
    base = contribs_argv(data["genome"], data["peaks"], out, "--chunk-size",
                         "16", *COMMON)
    assert run(base, capfd)[0] == 0
    status, stdout, _ = run(base, capfd)            # nothing left to do
    assert status == 0 and "(0 scored now, 3 done before)" in stdout
    status, _, err = run(base + ["--seed", "1"], capfd)
    assert status == 2 and err.count("\n") == 1
    assert "holds a different job (it differs in: --seed)" in err
    assert "--overwrite" in err
    assert arrays(out)["hypothetical"].tobytes() == \
        arrays(tmp_path / "s.zarr")["hypothetical"].tobytes()
    status, _, _ = run(base + ["--seed", "1", "--overwrite"], capfd)
    assert status == 0
    assert ScoreStore.open(out).settings["seed"] == 1
    status, stdout, _ = run(["status", out], capfd)
    assert status == 0
    assert stdout.splitlines()[0].endswith("3/3 chunks done (38/38 rows); "
                                           "complete")
    assert "regions: 40 in the file, 38 scored, 2 left out" in stdout
    assert "  seed: 1" in stdout.splitlines()
    status, stdout, _ = run(["status", out, "--json"], capfd)
    info = json.loads(stdout.splitlines()[-1])
    assert info["done_chunks"] == info["num_chunks"] == 3
    assert info["fingerprint"]["seed"] == 1
    assert info["fingerprint"]["batch_size"] == 24


def test_automatic_batch_size_is_resolved_into_the_fingerprint(
        data, capfd, tmp_path):
    """Without --batch-size the store records the size chosen on the
    driver (so workers and resumed runs use the same), not None."""
    from deeplift.genomics.scoring import ScoringPlan
    out = tmp_path / "auto.zarr"
    argv = contribs_argv(data["genome"], data["peaks"], out, "--reference",
                         "dinuc-shuffle:3", "--quiet")
    assert run(argv, capfd)[0] == 0
    chosen = ScoreStore.open(out).fingerprint["batch_size"]
    model = genomics.load_model(DEMO_MODEL, method="genomics_default")
    plan = ScoringPlan(model, "genomics_default", 38, L,
                       reference="dinuc-shuffle:3")
    assert isinstance(chosen, int) and chosen == plan.requested_batch_size
    status, stdout, _ = run(argv, capfd)              # resumes: same job
    assert status == 0 and "(0 scored now" in stdout


def test_resume_keeps_the_stores_fusion_decision(data, capfd, tmp_path,
                                                 monkeypatch):
    """A store keeps the XLA-fusion decision it was created with (derived
    from its size by a threshold that another deeplift version may set
    elsewhere): resumed under a threshold that would now fuse it, it is
    resumed unfused, not refused; --overwrite decides afresh."""
    from deeplift import scoring
    out = tmp_path / "fuse.zarr"
    argv = contribs_argv(data["genome"], data["peaks"], out, "--reference",
                         "dinuc-shuffle:3", "--quiet")
    assert run(argv, capfd)[0] == 0
    assert ScoreStore.open(out).fingerprint["fuse"] is False
    # 38 sequences x 3 references = 114 pairs: fused under a threshold of 100
    monkeypatch.setattr(scoring, "FUSE_MIN_EXAMPLES", 100)
    status, stdout, err = run(argv, capfd)
    assert status == 0 and "(0 scored now" in stdout, err
    assert ScoreStore.open(out).fingerprint["fuse"] is False
    assert run(argv + ["--overwrite"], capfd)[0] == 0
    assert ScoreStore.open(out).fingerprint["fuse"] is True


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(data, tmp_path):
    """Kill the CLI (SIGKILL) after some chunks are done, rerun the same
    command: the store equals the uninterrupted run; the in-process path
    imports no Dask."""
    out = tmp_path / "k.zarr"
    code = ("import sys; from deeplift.cli import main; "
            "rc = main(sys.argv[1:]); print('dask imported:', 'dask' in sys.modules); sys.exit(rc)")
    argv = [sys.executable, "-c", code] + contribs_argv(
        data["genome"], data["peaks"], out, "--chunk-size", "4", *COMMON)
    env = repo_env()
    proc = subprocess.Popen(argv, cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_chunks(out, proc, 120, poll=0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = done_count(out)
    assert 2 <= done < 10, "the run was not killed mid-way (%d done)" % done
    result = subprocess.run(argv, cwd=str(REPO), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "%d scored now, %d done before" % (10 - done, done) in \
        result.stdout
    assert "dask imported: False" in result.stdout
    assert_same_bytes(arrays(out), arrays(data["ref"]))


@pytest.mark.parametrize("case", ["unknown_chrom", "malformed", "empty",
                                  "not_fasta", "length", "store_is_dir",
                                  "file_in_dir_part", "regions_alone",
                                  "no_scheduler"])
def test_bad_input_one_line(case, data, capfd, tmp_path, monkeypatch):
    from deeplift import distributed
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 3)
    genome, peaks = data["genome"], data["peaks"]
    out = tmp_path / "o.zarr"
    extra, expected = [], None
    if case == "unknown_chrom":
        peaks = write_peaks(tmp_path / "u.bed", [("chr1", 0, 300, 150),
                                                 ("chrZ", 5, 300, 10)])
        expected = "line 2: chromosome 'chrZ' is not in the genome"
    elif case == "malformed":
        (tmp_path / "m.bed").write_text("chr1\t0\t300\nchr1\t5\n")
        peaks, expected = tmp_path / "m.bed", "m.bed line 2: a BED line"
    elif case == "empty":
        (tmp_path / "e.bed").write_text("")
        peaks, expected = tmp_path / "e.bed", "holds no regions"
    elif case == "not_fasta":
        genome, expected = peaks, "is not a FASTA file"
    elif case == "length":
        extra, expected = ["--length", "150"], "--length 150 differs from " \
            "the model's input length 200"
    elif case == "store_is_dir":
        out.mkdir()
        (out / "x").write_text("")
        expected = "exists and is not a deeplift score store"
    elif case == "file_in_dir_part":
        (tmp_path / "f").write_text("")
        out, expected = tmp_path / "f" / "o.zarr", "is a file, not a directory"
    elif case == "regions_alone":
        genome, expected = None, "--fasta --npy --genome is required"
    elif case == "no_scheduler":
        pytest.importorskip("distributed")
        extra = ["--scheduler", "tcp://127.0.0.1:9"]
        expected = "no Dask scheduler answered at tcp://127.0.0.1:9"
    argv = ["contribs", DEMO_MODEL, "--regions", peaks, "--out", out] + \
        (["--genome", genome] if genome else []) + extra + COMMON
    status, _, err = run(argv, capfd)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deeplift: error: "), err
    assert expected in lines[0]
    if case not in ("store_is_dir", "file_in_dir_part"):
        assert not out.exists() or ScoreStore.open(out).pending() == \
            list(range(ScoreStore.open(out).num_chunks))


# ---------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------

def test_export_h5_and_bed(data, capfd, tmp_path):
    h5py = pytest.importorskip("h5py")
    ref = arrays(data["ref"])
    status, stdout, _ = run(["export", data["ref"], "--h5", tmp_path / "c.h5",
                             "--task", "2"], capfd)
    assert status == 0
    with h5py.File(tmp_path / "c.h5", "r") as handle:
        raw = handle["raw/seq"][:]
        shap = handle["shap/seq"][:]
        proj = handle["projected_shap/seq"][:]
    assert raw.dtype == np.int8 and shap.dtype == proj.dtype == np.float32
    assert raw.shape == shap.shape == proj.shape == (38, 4, L)
    np.testing.assert_array_equal(raw, ref["onehot"].transpose(0, 2, 1))
    np.testing.assert_array_equal(shap,
                                  ref["hypothetical"][1].transpose(0, 2, 1))
    np.testing.assert_array_equal(proj, ref["contribs"][1].transpose(0, 2, 1))
    bed = (tmp_path / "c.interpreted_regions.bed").read_text().splitlines()
    kept = [w for w in windows(data["rows"]) if w[3]]
    assert [tuple(line.split("\t")[:3]) for line in bed] == \
        [(c, str(s), str(e)) for c, s, e, _ in kept]
    assert {line.split("\t")[9] for line in bed} == {str(L // 2)}
    status, _, err = run(["export", data["ref"], "--h5", tmp_path / "d.h5"],
                         capfd)
    assert status == 2 and "choose one with --task" in err


def test_export_modisco_pair_as_modisco_reads_it(data, capfd, tmp_path):
    ref = arrays(data["ref"])
    status, _, _ = run(["export", data["ref"], "--modisco", tmp_path / "m",
                        "--window", "50", "--task", "0"], capfd)
    assert status == 0
    try:
        from modiscolite.cli import _load_input as load   # what motifs uses
    except ImportError:
        def load(path):
            return np.load(path)["arr_0"]
    from pathlib import Path
    ohe = load(Path(tmp_path / "m.ohe.npz"))
    shap = load(Path(tmp_path / "m.shap.npz"))
    assert ohe.shape == shap.shape == (38, 4, 50)
    assert ohe.dtype == shap.dtype == np.float32
    np.testing.assert_array_equal(
        ohe, ref["onehot"][:, 75:125].transpose(0, 2, 1))
    np.testing.assert_array_equal(
        shap, ref["hypothetical"][0, :, 75:125].transpose(0, 2, 1))
    assert list(np.load(tmp_path / "m.shap.npz").keys()) == ["arr_0"]


def test_export_bigwig_resolves_overlaps_at_midpoints(data, capfd, tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    ref = arrays(data["ref"])
    status, _, _ = run(["export", data["ref"], "--bigwig", tmp_path / "t.bw",
                        "--task", "2"], capfd)
    assert status == 0
    # independently: every base covered by a window takes the value of the
    # window whose centre is nearest (ties: the one starting first)
    kept = [w for w in windows(data["rows"]) if w[3]]
    projected = ref["contribs"][1].sum(-1)         # (N, L)
    handle = pyBigWig.open(str(tmp_path / "t.bw"))
    assert handle.chroms() == SIZES
    overlaps = 0
    for chrom, size in SIZES.items():
        best = np.full(size, np.inf)
        value = np.full(size, np.nan)
        covering = np.zeros(size, dtype=int)
        for i, (c, s, e, _) in sorted(enumerate(kept),
                                      key=lambda t: (t[1][1], t[0])):
            if c != chrom:
                continue
            pos = np.arange(s, e)
            dist = np.abs(pos - (s + e) // 2)
            better = dist < best[pos]
            best[pos[better]] = dist[better]
            value[pos[better]] = projected[i][better]
            covering[pos] += 1
        overlaps += int((covering > 1).sum())
        got = np.array(handle.values(chrom, 0, size), dtype=np.float64)
        np.testing.assert_allclose(got, value, rtol=1e-6, atol=1e-7,
                                   equal_nan=True)
    handle.close()
    assert overlaps > 100         # the test data do overlap


# ---------------------------------------------------------------------------
# Dask distributed
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_workers_2_with_a_worker_killed_is_bit_identical(data, tmp_path):
    """deeplift contribs --workers 2 with one worker SIGKILLed mid-run: the
    run finishes, every chunk is done once, and the store equals the
    uninterrupted in-process run."""
    pytest.importorskip("distributed")
    pytest.importorskip("psutil")
    out = tmp_path / "w.zarr"
    argv = [sys.executable, "-m", "deeplift.cli"] + contribs_argv(
        data["genome"], data["peaks"], out, "--chunk-size", "4", "--workers",
        "2", *COMMON)
    proc = subprocess.Popen(argv, cwd=str(REPO), env=repo_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_chunks(out, proc, 240)
    workers = dask_worker_processes(proc.pid)
    assert len(workers) == 2
    workers[0].kill()
    killed_at = done_count(out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert killed_at < 10
    assert "10 chunks of 4 rows (10 scored now" in stdout
    assert ScoreStore.open(out).pending() == []
    assert_same_bytes(arrays(out), arrays(data["ref"]))


@pytest.mark.slow
def test_worker_that_cannot_load_the_model_is_one_error(data, tmp_path):
    pytest.importorskip("distributed")
    from deeplift.distributed import DistributedError, run_chunks
    from deeplift.genomics.jobs import ChunkRunner, JobSpec
    path = tmp_path / "d.zarr"
    ScoreStore.create(path, {}, {}, 38, L, chunk_size=10)
    spec = JobSpec(model=data["peaks"], store=str(path),
                   source=("regions", {"genome": data["genome"],
                                       "regions": data["peaks"],
                                       "length": L}),
                   num=38, length=L, model_key="bad")
    with pytest.raises(DistributedError,
                       match="a worker could not load the model: "
                       "InvalidModelFileError: .*p.narrowPeak is neither"):
        run_chunks(spec, [0, 1, 2, 3], ChunkRunner, workers=1)
    assert ScoreStore.open(path).pending() == [0, 1, 2, 3]


def test_status_and_export_of_unfinished_or_missing_stores(capfd, tmp_path):
    path = tmp_path / "u.zarr"
    store = ScoreStore.create(path, {"seed": 0}, {"seed": 0}, 10, L,
                              chunk_size=4)
    store.write(1, np.zeros((4, L, 4), np.float32),
                np.ones((4, L, 4), np.float32))
    status, stdout, _ = run(["status", path], capfd)
    assert status == 0
    assert stdout.splitlines()[0].endswith(
        "1/3 chunks done (4/10 rows); rerun the same deeplift contribs "
        "command to finish")
    status, _, err = run(["export", path, "--modisco", tmp_path / "m"],
                         capfd)
    assert status == 2 and "is not complete (2 of 3 chunks to do)" in err
    assert not list(tmp_path.glob("m*"))
    status, _, err = run(["status", tmp_path / "none.zarr"], capfd)
    assert status == 2 and "does not exist" in err
    (tmp_path / "plain").mkdir()
    status, _, err = run(["status", tmp_path / "plain"], capfd)
    assert status == 2 and "is not a deeplift score store" in err
