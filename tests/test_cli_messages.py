"""Error messages of the ``deeplift`` command for an --out that cannot be
written and for a model with several outputs and no target (issue 21)."""
import errno
import os

import pytest

from deeplift.cli import DEMO_MODEL, main
from deeplift.cli.common import CLIError, _check_parent, _why_not_writable


def run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux "
                    "/proc (a directory that takes no new files)")
@pytest.mark.parametrize("out", ["/proc/x.zarr", "/proc/x.npz"])
def test_out_in_proc_says_the_directory_takes_no_files(out, capfd):
    """/proc exists, so 'No such file or directory' alone was misleading:
    the message says the directory takes no new files and to choose
    another --out (exit 2, before the model is read)."""
    status, stdout, err = run(["contribs", DEMO_MODEL, "--quiet", "--npy",
                               _tiny_npy(), "--out", out], capfd)
    assert status == 2 and stdout == ""
    line = err.strip()
    assert line == ("deeplift: error: cannot write --out %s: directory /proc "
                    "does not accept new files (it is on a special "
                    "filesystem such as /proc or /sys: No such file or "
                    "directory); choose another --out" % out), line


def _tiny_npy(_cache={}):
    """One all-A sequence of length 200 (the demo model's input length)."""
    if "path" not in _cache:
        import tempfile
        import numpy as np
        path = os.path.join(tempfile.mkdtemp(), "x.npy")
        np.save(path, np.eye(4, dtype="float32")[np.zeros((1, 200), int)])
        _cache["path"] = path
    return _cache["path"]


def test_missing_parent_and_permission_messages(tmp_path):
    with pytest.raises(CLIError, match="directory .*/no/such does not exist"):
        _check_parent(str(tmp_path / "no" / "such" / "x.npz"))
    (tmp_path / "f").write_text("")
    with pytest.raises(CLIError, match="f is a file, not a directory"):
        _check_parent(str(tmp_path / "f" / "x.npz"))
    # the words for each errno (a directory that exists refused a file)
    for code, words in ((errno.EACCES, "not writable by you"),
                        (errno.EROFS, "read-only filesystem"),
                        (errno.ENOSPC, "no space left"),
                        (errno.ENOENT, "does not accept new files")):
        assert words in _why_not_writable(OSError(code, os.strerror(code)))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write into a read-only directory")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(CLIError, match="ro is not writable by you "
                           r"\(permission denied\); choose another --out"):
            _check_parent(str(ro / "x.npz"))
    finally:
        ro.chmod(0o700)


@pytest.fixture(scope="module")
def two_output_models(tmp_path_factory):
    import keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((200, 4))
    x = keras.layers.Conv1D(2, 3, padding="same", activation="relu")(inp)
    prof = keras.layers.Flatten(name="profile")(keras.layers.Conv1D(1, 1)(x))
    counts = keras.layers.Dense(1, name="counts")(
        keras.layers.GlobalAveragePooling1D()(x))
    path = str(tmp_path_factory.mktemp("m") / "two.h5")
    keras.Model(inp, [prof, counts]).save(path)
    return path


def test_two_outputs_without_target_names_the_flags(two_output_models,
                                                    tmp_path, capfd):
    status, stdout, err = run(["contribs", two_output_models, "--quiet",
                               "--npy", _tiny_npy(), "--out",
                               tmp_path / "o.npz"], capfd)
    assert status == 2 and stdout == ""
    line = err.strip()
    assert len(line.splitlines()) == 1, err
    assert "the model has 2 output layers (profile_0 (None, 200), " \
        "counts_0 (None, 1))" in line, line
    assert "--target-layer=<name>" in line and \
        "--target profile or --target counts" in line, line
    assert not (tmp_path / "o.npz").exists()
