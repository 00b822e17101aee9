"""Tests of the ``deeplift`` command line tool (deeplift.cli)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deeplift import cli, genomics
from deeplift.cli import DEMO_MODEL, main
from tests.genomics_helpers import (REPO, REAL_JSON, REAL_WEIGHTS, SIMDATA,
                                    needs_shared)


def run(argv, capfd):
    """main(argv) in process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:       # --help / --version
        status = exc.code
    out, err = capfd.readouterr()
    return status, out, err


def write_fasta(path, seqs, names=None):
    names = names or ["seq%d" % i for i in range(len(seqs))]
    with open(path, "w") as handle:
        for name, seq in zip(names, seqs):
            handle.write(">%s\n%s\n" % (name, seq))
    return path


@pytest.fixture(scope="module")
def sim_seqs():
    return genomics.simulate_sequences(6, seed=11)[0]


# ---------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", [[], ["demo"], ["contribs"], ["convert"],
                                 ["status"], ["export"]])
def test_help(cmd, capfd):
    status, out, err = run(cmd + ["--help"], capfd)
    assert status == 0
    assert out.startswith("usage: deeplift")
    if cmd == ["contribs"]:
        assert "--reference" in out and "modisco" in out


def test_no_command_prints_help(capfd):
    status, out, _ = run([], capfd)
    assert status == 2 and "usage:" in out


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_demo_small(tmp_path, capfd):
    out_dir = tmp_path / "demo"
    status, out, err = run(["demo", "--out", out_dir, "--n", 24, "--quiet"],
                           capfd)
    assert status == 0, err
    for label, method, reference in cli.DEMO_METHODS:
        assert label in out
    assert "dinuc-shuffle:20" in out and "time (s)" in out
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 3
    assert all(p.stat().st_size > 10000 for p in pngs)
    rows = (out_dir / "demo_results.tsv").read_text().splitlines()
    assert len(rows) == 1 + len(cli.DEMO_METHODS)
    for row in rows[1:]:
        aurocs = [float(v) for v in row.split("\t")[2:5]]
        assert all(0.5 < a <= 1.0 for a in aurocs), row


# ---------------------------------------------------------------------------
# contribs
# ---------------------------------------------------------------------------

def test_contribs_npz_layout(tmp_path, capfd, sim_seqs):
    seqs = list(sim_seqs[:3])
    seqs[1] = seqs[1][:10].lower() + "N" + seqs[1][11:]    # lowercase and N
    fasta = write_fasta(tmp_path / "in.fa", seqs)
    out = tmp_path / "out.npz"
    status, stdout, err = run(["contribs", DEMO_MODEL, "--fasta", fasta,
                               "--task", 2, "--reference", "dinuc-shuffle:2",
                               "--out", out, "--quiet"], capfd)
    assert status == 0, err
    assert err == ""
    assert "wrote" in stdout
    with np.load(out) as data:
        assert set(data.files) == {"onehot", "hypothetical", "contribs",
                                   "names", "settings"}
        onehot, hyp, contribs = (data["onehot"], data["hypothetical"],
                                 data["contribs"])
        settings = json.loads(data["settings"][0])
        names = list(data["names"])
    assert onehot.shape == hyp.shape == contribs.shape == (3, 200, 4)
    np.testing.assert_array_equal(contribs, hyp * onehot)
    np.testing.assert_array_equal(onehot[1, 10], 0)          # N
    np.testing.assert_array_equal(
        onehot[1, :10], genomics.one_hot_encode([sim_seqs[1][:10]])[0])
    assert names == ["seq0", "seq1", "seq2"]
    assert settings["task"] == 2 and settings["method"] == "genomics_default"
    assert settings["reference"] == "dinuc-shuffle:2"
    assert settings["seed"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_contribs_npy_input_and_modisco_format(tmp_path, capfd, sim_seqs):
    onehot = genomics.one_hot_encode(sim_seqs[:4])
    npy = tmp_path / "x.npy"
    np.save(npy, onehot)
    status, _, err = run(["contribs", DEMO_MODEL, "--npy", npy, "--method",
                          "gradient", "--reference", "zeros", "--out",
                          tmp_path / "m.npz", "--format", "modisco",
                          "--quiet"], capfd)
    assert status == 0, err
    assert not (tmp_path / "m.npz").exists()
    with np.load(tmp_path / "m.ohe.npz") as ohe, \
            np.load(tmp_path / "m.shap.npz") as shap:
        assert ohe.files == ["arr_0"] and shap.files == ["arr_0"]
        assert ohe["arr_0"].shape == shap["arr_0"].shape == (4, 4, 200)
        np.testing.assert_array_equal(ohe["arr_0"],
                                      onehot.transpose(0, 2, 1))
        hyp_api, _ = genomics.score_sequences(
            DEMO_MODEL, onehot, task_idx=0, method="gradient",
            reference="zeros", progress=False)
        np.testing.assert_allclose(shap["arr_0"],
                                   hyp_api.transpose(0, 2, 1), atol=1e-6)


def test_contribs_task_list(tmp_path, capfd, sim_seqs):
    """--task 2,0: one forward pass for both; a leading task axis in the
    npz, one .shap.npz per task for modisco; equal to one run per task."""
    fasta = write_fasta(tmp_path / "in.fa", sim_seqs[:3])
    common = ["--fasta", fasta, "--reference", "dinuc-shuffle:2",
              "--quiet"]
    status, stdout, err = run(["contribs", DEMO_MODEL, "--task", "2,0",
                               "--out", tmp_path / "both.npz"] + common,
                              capfd)
    assert status == 0, err
    assert "2 tasks" in stdout
    with np.load(tmp_path / "both.npz") as data:
        hyp, contribs = data["hypothetical"], data["contribs"]
        settings = json.loads(data["settings"][0])
        onehot = data["onehot"]
    assert hyp.shape == contribs.shape == (2, 3, 200, 4)
    assert settings["task"] == [2, 0]
    np.testing.assert_array_equal(contribs, hyp * onehot)
    for t, task in enumerate([2, 0]):
        out = tmp_path / ("t%d.npz" % task)
        status, _, err = run(["contribs", DEMO_MODEL, "--task", str(task),
                              "--out", out] + common, capfd)
        assert status == 0, err
        with np.load(out) as data:
            np.testing.assert_allclose(hyp[t], data["hypothetical"],
                                       rtol=1e-5, atol=1e-7)
    status, stdout, err = run(["contribs", DEMO_MODEL, "--task", "2,0",
                               "--format", "modisco",
                               "--out", tmp_path / "m.npz"] + common, capfd)
    assert status == 0, err
    for t, task in enumerate([2, 0]):
        with np.load(tmp_path / ("m.task%d.shap.npz" % task)) as shap:
            np.testing.assert_allclose(shap["arr_0"],
                                       hyp[t].transpose(0, 2, 1),
                                       rtol=1e-5, atol=1e-7)
    assert (tmp_path / "m.ohe.npz").exists()
    assert not (tmp_path / "m.shap.npz").exists()


@needs_shared
def test_contribs_real_model_matches_python_api(tmp_path, capfd):
    names, seqs = [], []
    import gzip
    with gzip.open(SIMDATA, "rt") as handle:
        handle.readline()
        for line in handle:
            fields = line.split("\t")
            if fields[0].startswith(("gata", "tal1")):
                names.append(fields[0])
                seqs.append(fields[1])
            if len(seqs) == 5:
                break
    fasta = write_fasta(tmp_path / "real.fa", seqs, names)
    out = tmp_path / "real.npz"
    status, _, err = run(["contribs", REAL_WEIGHTS, "--json", REAL_JSON,
                          "--fasta", fasta, "--task", 1, "--reference",
                          "dinuc-shuffle:3", "--seed", 7, "--out", out,
                          "--quiet"], capfd)
    assert status == 0, err
    hyp, contribs = genomics.score_sequences(
        str(REAL_WEIGHTS), genomics.one_hot_encode(seqs), task_idx=1,
        json_file=str(REAL_JSON), method="genomics_default",
        reference="dinuc-shuffle:3", seed=7, progress=False)
    with np.load(out) as data:
        np.testing.assert_array_equal(data["hypothetical"], hyp)
        np.testing.assert_array_equal(data["contribs"], contribs)
        np.testing.assert_array_equal(data["contribs"],
                                      data["hypothetical"] * data["onehot"])
        assert list(data["names"]) == names


# ---------------------------------------------------------------------------
# bad input: one stderr line, exit status 2, nothing written
# ---------------------------------------------------------------------------

BAD_CASES = {
    "wrong_length": (["--fasta", "{short}"], "model expects length 200"),
    "unknown_method": (["--fasta", "{good}", "--method", "magic"],
                       "unknown --method 'magic'"),
    "unknown_reference": (["--fasta", "{good}", "--reference", "shuffle"],
                          "unknown --reference 'shuffle'"),
    "bad_shuffle_count": (["--fasta", "{good}", "--reference",
                           "dinuc-shuffle:0"], "at least 1"),
    "missing_reference_file": (["--fasta", "{good}", "--reference",
                                "{tmp}/nope.npy"], "does not exist"),
    "task_out_of_range": (["--fasta", "{good}", "--task", "3"],
                          "task index 3 is out of range"),
    "negative_task": (["--fasta", "{good}", "--task", "-1"], "--task"),
    "task_list_out_of_range": (["--fasta", "{good}", "--task", "0,3"],
                               "task index 3 is out of range"),
    "task_not_a_number": (["--fasta", "{good}", "--task", "0,x"],
                          "comma-separated list"),
    "task_twice": (["--fasta", "{good}", "--task", "1,1"],
                   "lists a task twice"),
    "bad_fasta_char": (["--fasta", "{badchar}"], "invalid character"),
    "unequal_lengths": (["--fasta", "{unequal}"], "same length"),
    "missing_fasta": (["--fasta", "{tmp}/missing.fa"], "does not exist"),
    "npy_wrong_layout": (["--npy", "{transposed}"], "(N, L, 4)"),
    "unwritable_out": (["--fasta", "{good}", "--out",
                        "{tmp}/no/such/dir/out.npz"], "cannot write"),
    "out_is_dir": (["--fasta", "{good}", "--out", "{tmp}"], "directory"),
    "both_inputs": (["--fasta", "{good}", "--npy", "{transposed}"],
                    "not allowed with"),
    "target_is_activation": (["--fasta", "{good}", "--target-layer", "-1"],
                             "activation"),
    "bad_batch_size": (["--fasta", "{good}", "--batch-size", "0"],
                       "--batch-size"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input(case, tmp_path, capfd, sim_seqs):
    paths = {"tmp": str(tmp_path)}
    paths["good"] = write_fasta(tmp_path / "good.fa", sim_seqs[:2])
    paths["short"] = write_fasta(tmp_path / "short.fa", ["ACGTNacgtn"])
    paths["badchar"] = write_fasta(tmp_path / "badchar.fa",
                                   [sim_seqs[0][:50] + "7" + sim_seqs[0][51:]])
    paths["unequal"] = write_fasta(tmp_path / "unequal.fa",
                                   [sim_seqs[0], sim_seqs[1][:-1]])
    paths["transposed"] = str(tmp_path / "t.npy")
    np.save(paths["transposed"],
            genomics.one_hot_encode(sim_seqs[:2]).transpose(0, 2, 1))
    args, expected = BAD_CASES[case]
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]
    out = tmp_path / "result.npz"
    if "--out" not in args:
        args += ["--out", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    status, stdout, err = run(["contribs", DEMO_MODEL, "--quiet"] + args,
                              capfd)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("deeplift: error: ")
    assert expected in lines[0]
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.slow   # subprocess runs of the command line
def test_bad_input_subprocess_single_clean_line(tmp_path, sim_seqs):
    """Through a real process (TensorFlow's native start-up logs included):
    still exactly one line on stderr."""
    fasta = write_fasta(tmp_path / "x.fa", sim_seqs[:1])
    env = dict(os.environ)
    env.pop("DEEPLIFT_SHOW_TF_LOGS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "deeplift.cli", "contribs", DEMO_MODEL,
         "--fasta", str(fasta), "--task", "5", "--out",
         str(tmp_path / "o.npz")],
        capture_output=True, text=True, env=env, cwd=str(REPO), timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("deeplift: error: task index 5 is out of "
                               "range for target layer ")
    assert lines[0].endswith("which has 3 outputs (valid: 0..2)")
    assert not (tmp_path / "o.npz").exists()


def test_native_stderr_restored_and_replayed_on_crash(capfd, monkeypatch):
    """An unexpected error: fd 2 and sys.stderr are restored and what
    native code wrote to fd 2 meanwhile is shown (less the start-up
    noise)."""
    monkeypatch.delenv("DEEPLIFT_SHOW_TF_LOGS", raising=False)

    def crash():
        os.write(2, b"I0000 start-up noise\nnative detail\n")
        sys.stderr.write("python message\n")
        raise RuntimeError("boom")
    monkeypatch.setattr(cli, "build_parser", crash)
    stderr, fd2 = sys.stderr, os.fstat(2)
    with pytest.raises(RuntimeError, match="boom"):
        main(["demo"])
    assert sys.stderr is stderr
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (fd2.st_dev, fd2.st_ino)
    err = capfd.readouterr().err
    assert err.splitlines() == ["python message", "native detail"]


def test_interrupted_run_leaves_nothing(tmp_path, capfd, sim_seqs,
                                        monkeypatch):
    fasta = write_fasta(tmp_path / "x.fa", sim_seqs[:1])

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt()
    monkeypatch.setattr(genomics, "score_sequences", interrupted)
    status, _, err = run(["contribs", DEMO_MODEL, "--fasta", fasta,
                          "--out", tmp_path / "o.npz", "--quiet"], capfd)
    assert status == 130 and "interrupted" in err
    monkeypatch.undo()

    real_savez = np.savez
    calls = []

    def failing_savez(handle, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:      # the second file of the modisco pair
            handle.write(b"partial")
            raise KeyboardInterrupt()
        return real_savez(handle, *args, **kwargs)
    monkeypatch.setattr(np, "savez", failing_savez)
    status, _, err = run(["contribs", DEMO_MODEL, "--fasta", fasta,
                          "--reference", "zeros", "--format", "modisco",
                          "--out", tmp_path / "o.npz", "--quiet"], capfd)
    assert status == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.fa"]


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------

def test_convert_prints_table_and_keras_check(capfd):
    status, out, err = run(["convert", DEMO_MODEL], capfd)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[1].split() == ["idx", "name", "type", "output", "shape",
                                "mode"]
    body = "\n".join(lines)
    for text in ("Conv1D", "MaxPool1D", "GlobalAvgPool1D", "Dense",
                 "nonlinear=Rescale", "nonlinear=RevealCancel",
                 "(None, 200, 4)", "(None, 3)"):
        assert text in body, text
    check = [l for l in lines if l.startswith("keras check:")]
    assert len(check) == 1
    diff = float(check[0].rsplit(":", 1)[1])
    assert diff < 1e-4


def test_convert_bad_model(tmp_path, capfd):
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("not a model")
    status, _, err = run(["convert", bogus], capfd)
    assert status == 2
    assert err.startswith("deeplift: error: cannot convert")
    assert len(err.strip().splitlines()) == 1


@needs_shared
def test_convert_real_model_with_json(capfd):
    status, out, err = run(["convert", REAL_WEIGHTS, "--json", REAL_JSON,
                            "--method", "rescale"], capfd)
    assert status == 0, err
    assert "AvgPool1D" in out and "nonlinear=Rescale" in out
    assert "RevealCancel" not in out
    assert "keras check:" in out
