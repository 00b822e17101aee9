"""What the ``deeplift`` subcommands share: the one-line error
(:class:`CLIError`), the argument parser that raises it, quieting
TensorFlow's native start-up logs, file checks and atomic ``.npz``
writing."""
import argparse
import contextlib
import errno
import io
import os
import re
import sys
import tempfile

import numpy as np

from deeplift import methods

PROG = "deeplift"
DEMO_MODEL = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "data", "demo_genomics_model.h5")

# native (C++) log lines TensorFlow writes to the stderr file descriptor
_NATIVE_NOISE = ("I0000 ", "W0000 ", "WARNING: All log messages before absl")


class CLIError(Exception):
    """An error in what the user asked for: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (and exits 2)."""

    def error(self, message):
        raise CLIError("%s (see '%s --help')" % (message, self.prog))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_native_stderr():
    """Send what native code writes to file descriptor 2 (TensorFlow's C++
    start-up logs) to a temporary file while Python's ``sys.stderr`` (error
    messages, warnings, progress bars) keeps going to the real stderr.  The
    captured native output is replayed (less the known start-up noise) if
    the command fails unexpectedly.  File descriptor 2 and ``sys.stderr``
    are restored however the block ends.  ``DEEPLIFT_SHOW_TF_LOGS=1`` turns
    this off."""
    if os.environ.get("DEEPLIFT_SHOW_TF_LOGS"):
        yield
        return
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError, AttributeError):   # no usable stderr
        yield
        return
    old_stderr = sys.stderr
    failed = False
    try:
        # unbuffered (write_through on a raw file): nothing to flush later
        with tempfile.TemporaryFile() as capture, io.TextIOWrapper(
                os.fdopen(os.dup(saved_fd), "wb", buffering=0),
                encoding=getattr(old_stderr, "encoding", None) or "utf-8",
                errors="backslashreplace", write_through=True) as python_err:
            os.dup2(capture.fileno(), 2)
            sys.stderr = python_err
            try:
                yield
            except BaseException as exc:
                failed = not isinstance(exc, (CLIError, KeyboardInterrupt,
                                              SystemExit))
                raise
            finally:
                sys.stderr = old_stderr
                os.dup2(saved_fd, 2)
                if failed:
                    capture.seek(0)
                    text = capture.read().decode("utf-8", "replace")
                    lines = [l for l in text.splitlines() if l.strip()
                             and not l.startswith(_NATIVE_NOISE)]
                    if lines:
                        sys.stderr.write("\n".join(lines) + "\n")
    finally:
        os.close(saved_fd)


#: Python argument names in library messages -> the CLI's flags
_FLAG_WORDS = (("target_layer", "--target-layer"),
               ("find_scores_layer", "--find-scores-layer"),
               ("json_file=", "--json"), ("yaml_file=", "--yaml"),
               ("task_idx", "--task"), ("batch_size", "--batch-size"),
               ("ig_steps", "--ig-steps"))


#: (pattern of a library message, what the CLI adds to it)
_FLAG_HINTS = ((re.compile(r"model has \d+ output layers"),
                "; for a two-headed BPNet/ChromBPNet-style model (profile "
                "and counts outputs) --target profile or --target counts"),)


def _cli_words(text):
    """``text`` with the Python argument names of library messages replaced
    by the CLI's flags (whole words only), and the CLI's other options for
    the problem added (``_FLAG_HINTS``)."""
    for word, flag in _FLAG_WORDS:
        text = re.sub(r"(?<![\w-])%s(?![\w])" % re.escape(word.rstrip("="))
                      + ("=" if word.endswith("=") else ""), flag, text)
    for pattern, hint in _FLAG_HINTS:
        if pattern.search(text):
            text += hint
    return text


def _conversion_error(path, exc):
    """A CLIError for a model that could not be converted (a short line for
    unsupported layers)."""
    from deeplift.conversion.loading import ModelLoadingError
    if isinstance(exc, ModelLoadingError):
        return CLIError("cannot convert %s: %s" % (path, exc))
    unsupported = getattr(exc, "unsupported", None)
    if isinstance(unsupported, dict) and list(unsupported) == ["Lambda"]:
        return CLIError("cannot convert %s: Lambda layer%s %s hold%s Python "
                        "code; give --trust-model to load and trace it (only "
                        "for a file you trust)" % (
                            path, "" if len(unsupported["Lambda"]) == 1
                            else "s", ", ".join(unsupported["Lambda"]),
                            "s" if len(unsupported["Lambda"]) == 1 else ""))
    if isinstance(unsupported, dict) and unsupported:
        classes = "; ".join("%s (layer%s %s)" % (
            name, "" if len(layers) == 1 else "s", ", ".join(layers))
            for name, layers in unsupported.items())
        return CLIError("cannot convert %s: unsupported Keras layer classes: "
                        "%s; give --custom-conversions MODULE:NAME (a dict "
                        "of class names to conversion functions), or "
                        "--import PACKAGE (the package defining them) so "
                        "that Keras loads them to be traced"
                        % (path, classes))
    return CLIError("cannot convert %s: %s" % (path, _cli_words(str(exc))))


def _layer_ref(text):
    """A layer given on the command line: an integer index or a name."""
    try:
        return int(text)
    except ValueError:
        return text


def _check_model_files(args):
    _check_file(args.model, "model file")
    for option, path in (("--json", args.json), ("--yaml", args.yaml)):
        if path is not None:
            _check_file(path, option + " file")


def _load_model(args, method, **options):
    """The model of ``args`` (MODEL, --json, --yaml) converted for
    ``method`` (``options`` for :func:`deeplift.genomics.load_model`)."""
    from deeplift import genomics
    options.setdefault("import_packages",
                       tuple(getattr(args, "import_packages", None) or ()))
    options.setdefault("trust_model", bool(getattr(args, "trust_model",
                                                   False)))
    from deeplift.conversion.cache import store_model
    try:
        model = genomics.load_model(args.model, json_file=args.json,
                                    yaml_file=args.yaml, method=method,
                                    **options)
    except (ValueError, KeyError) as exc:
        raise _conversion_error(args.model, exc)
    # cached, so that the workers of a run read it instead of converting
    store_model(model, (args.model, args.json, args.yaml),
                dict(options, method=method))
    return model


def _check_file(path, what):
    if not os.path.exists(path):
        raise CLIError("%s %s does not exist" % (what, path))
    if os.path.isdir(path):
        raise CLIError("%s %s is a directory, not a file" % (what, path))
    if not os.access(path, os.R_OK):
        raise CLIError("%s %s is not readable" % (what, path))


def _check_parent(path, option="--out"):
    """The directory that will hold ``path``, checked by creating (and
    removing) a temporary file in it; a file in the directory part is
    named as such."""
    parent = os.path.dirname(os.path.abspath(path))
    probe = parent
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise CLIError("cannot write %s %s: %s is a file, not a directory"
                       % (option, path, probe))
    if not os.path.isdir(parent):
        raise CLIError("cannot write %s %s: directory %s does not exist"
                       % (option, path, parent))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".deeplift-check-", dir=parent)
    except OSError as exc:
        raise CLIError("cannot write %s %s: directory %s %s; choose another "
                       "%s" % (option, path, parent, _why_not_writable(exc),
                               option))
    os.close(fd)
    os.unlink(tmp)
    return parent


def _why_not_writable(exc):
    """Why a directory that exists refused a new file, in words (``exc``:
    the OSError of creating one)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "is not writable by you (permission denied)"
    if exc.errno == errno.EROFS:
        return "is on a read-only filesystem"
    if exc.errno == errno.ENOSPC:
        return "is on a full filesystem (no space left)"
    if exc.errno == errno.EDQUOT:
        return "is on a filesystem where your quota is exhausted"
    if exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL):
        # e.g. /proc or /sys: the directory exists but its filesystem
        # does not hold ordinary files
        return ("does not accept new files (it is on a special filesystem "
                "such as /proc or /sys: %s)" % (exc.strerror or exc))
    return "is not writable (%s)" % (exc.strerror or exc)


def _check_writable(path, option="--out"):
    """Fail early (before any work) if the file ``path`` cannot be
    written: its directory must exist and take a new file, and an existing
    ``path`` must be a writable file."""
    if os.path.isdir(path):
        raise CLIError("%s %s is a directory" % (option, path))
    _check_parent(path, option)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CLIError("cannot write %s %s: the file is not writable"
                       % (option, path))


def _file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_npz(items):
    """Write several ``(path, arrays_dict_or_list)`` npz files atomically:
    each is written to a temporary file in its directory, and the files
    replace their targets only once all were written; on any error the
    temporary files are removed and no target is touched."""
    temps = []
    path = items[0][0]
    try:
        for path, arrays in items:
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(
                prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                dir=directory)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as handle:
                if isinstance(arrays, dict):
                    np.savez(handle, **arrays)
                else:
                    np.savez(handle, *arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, _file_mode())
        for (path, _), tmp in zip(items, temps):
            os.replace(tmp, path)
        temps = []
    except OSError as exc:
        raise CLIError("cannot write %s: %s" % (path, exc.strerror or exc))
    finally:
        for tmp in temps:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _modisco_paths(out, tasks=None):
    """The one-hot file, then the hypothetical-contribution file (one per
    task when ``tasks`` lists several)."""
    stem = out[:-4] if out.endswith(".npz") else out
    if tasks is None:
        return [stem + ".ohe.npz", stem + ".shap.npz"]
    return [stem + ".ohe.npz"] + ["%s.task%d.shap.npz" % (stem, t)
                                  for t in tasks]


def _parse_tasks(text):
    """``--task``: an int, or a list of ints for "0,2,5"."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        tasks = [int(p) for p in parts]
    except ValueError:
        raise CLIError("--task takes a task index or a comma-separated list "
                       "of them (e.g. 0 or 0,2,5), got %r" % (text,))
    bad = [t for t in tasks if t < 0]
    if bad:
        raise CLIError("--task must be >= 0, got %d" % bad[0])
    if len(set(tasks)) != len(tasks):
        raise CLIError("--task lists a task twice: %s" % (text,))
    return tasks if len(parts) > 1 else tasks[0]



METHOD_HELP = ("attribution method: " + methods.help_text().replace("%", "%%")
               + " (default: %(default)s)")
REFERENCE_HELP = ("reference: zeros, gc (each sequence's base composition), "
                  "gc:FRACTION, dinuc-shuffle:N (N dinucleotide-shuffled "
                  "copies of each sequence, scores averaged) or a .npy file "
                  "of shape (L, 4), (N, L, 4) or (N, R, L, 4) (default: "
                  "%(default)s)")


def _add_model_arguments(parser):
    """MODEL and --json / --yaml (for contribs and convert)."""
    parser.add_argument("model", metavar="MODEL",
                        help="saved Keras model: whole-model .h5, .keras, "
                        "or a weights .h5 with --json/--yaml")
    config = parser.add_mutually_exclusive_group()
    config.add_argument("--json", metavar="FILE",
                        help="model architecture (model.to_json())")
    config.add_argument("--yaml", metavar="FILE",
                        help="model architecture (YAML)")
    parser.add_argument("--import", dest="import_packages", action="append",
                        default=[], metavar="PACKAGE",
                        help="a package whose modules the model file may "
                        "name (e.g. crested for CREsted's layers): imported "
                        "so that Keras can load the model's custom classes; "
                        "deeplift imports no other module a model file "
                        "names (repeat for several packages)")

