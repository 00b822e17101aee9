"""The ``deeplift`` command line tool.

Subcommands:

* ``deeplift demo``: score simulated GATA/TAL1 sequences with the small
  model shipped in the package, compare attribution methods and write
  sequence logos (no downloads);
* ``deeplift contribs MODEL``: hypothetical and actual contributions of the
  sequences of a FASTA or ``.npy`` file, written to an ``.npz`` file (or the
  ``.ohe.npz`` / ``.shap.npz`` pair that TF-MoDISco-lite reads);
* ``deeplift convert MODEL``: show the converted layer graph and check the
  forward pass against Keras.

Errors in what the user gave (files, options, sequence lengths, task
indices) are reported as one line ``deeplift: error: ...`` on stderr with
exit status 2, and nothing is written.
"""
import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time

import numpy as np

PROG = "deeplift"
DEMO_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)),
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


def _conversion_error(path, exc):
    """A CLIError for a model that could not be converted (a short line for
    unsupported layers)."""
    unsupported = getattr(exc, "unsupported", None)
    if isinstance(unsupported, dict) and unsupported:
        classes = ", ".join("%s (%d layer%s)" % (name, len(layers),
                                                 "" if len(layers) == 1
                                                 else "s")
                            for name, layers in unsupported.items())
        return CLIError("cannot convert %s: unsupported Keras layer classes: "
                        "%s; convert it from Python with "
                        "custom_conversion_funcs" % (path, classes))
    return CLIError("cannot convert %s: %s" % (path, exc))


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


def _load_model(args, method):
    """The model of ``args`` (MODEL, --json, --yaml) converted for
    ``method``."""
    from deeplift import genomics
    try:
        return genomics.load_model(args.model, json_file=args.json,
                                   yaml_file=args.yaml, method=method)
    except (ValueError, KeyError) as exc:
        raise _conversion_error(args.model, exc)


def _output_layers(model):
    """The layers of a graph model that feed no other layer."""
    return [l for l in model.get_name_to_layer().values()
            if not l.get_output_layers()]


def _check_file(path, what):
    if not os.path.exists(path):
        raise CLIError("%s %s does not exist" % (what, path))
    if os.path.isdir(path):
        raise CLIError("%s %s is a directory, not a file" % (what, path))
    if not os.access(path, os.R_OK):
        raise CLIError("%s %s is not readable" % (what, path))


def _check_writable(path):
    """Fail early (before any work) if ``path`` cannot be written."""
    if os.path.isdir(path):
        raise CLIError("output path %s is a directory" % (path,))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError("cannot write %s: directory %s does not exist"
                       % (path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError("cannot write %s: directory %s is not writable"
                       % (path, parent))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CLIError("cannot write %s: the file is not writable" % (path,))


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


# ---------------------------------------------------------------------------
# contribs
# ---------------------------------------------------------------------------

def _read_sequences(args):
    from deeplift import genomics
    if args.fasta is not None:
        _check_file(args.fasta, "FASTA file")
        try:
            names, seqs = genomics.read_fasta(args.fasta)
        except ValueError as exc:
            raise CLIError(str(exc))
        bad = genomics.length_mismatch(seqs)
        if bad is not None:
            raise CLIError(
                "%s: sequences must all have the same length; %r has length "
                "%d but %r has length %d" % (args.fasta, names[0],
                                             len(seqs[0]), names[bad],
                                             len(seqs[bad])))
        return names, genomics.one_hot_encode(seqs)
    _check_file(args.npy, "input file")
    try:
        onehot = np.load(args.npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CLIError("cannot read %s as a .npy array: %s" % (args.npy, exc))
    if isinstance(onehot, np.lib.npyio.NpzFile):
        raise CLIError("%s is an .npz archive; give a .npy file with one "
                       "(N, L, 4) array" % (args.npy,))
    if not (np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise CLIError("%s holds a non-numeric array (dtype %s)"
                       % (args.npy, onehot.dtype))
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        hint = (" (it looks like (N, 4, L): transpose it to (N, L, 4))"
                if onehot.ndim == 3 and onehot.shape[1] == 4 else "")
        raise CLIError("%s has shape %s; expected one-hot sequences of shape "
                       "(N, L, 4)%s" % (args.npy, onehot.shape, hint))
    if not np.all(np.isfinite(onehot)):
        raise CLIError("%s contains NaN or infinite values" % (args.npy,))
    return [str(i) for i in range(len(onehot))], onehot.astype(np.float32)


def cmd_contribs(args):
    from deeplift import genomics
    _check_model_files(args)
    if args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    if args.ig_steps < 1:
        raise CLIError("--ig-steps must be at least 1")
    task = _parse_tasks(args.task)
    several = isinstance(task, list)
    try:
        method = genomics.normalize_method(args.method)
        ref_kind, ref_value = genomics.parse_reference(args.reference)
    except ValueError as exc:
        raise CLIError(str(exc))
    outputs = ([args.out] if args.format == "npz"
               else _modisco_paths(args.out, task if several else None))
    for path in outputs:
        _check_writable(path)
    names, onehot = _read_sequences(args)
    if len(onehot) == 0:
        raise CLIError("no sequences to score")

    model = _load_model(args, method)
    reference = ref_value if ref_kind == "array" else args.reference
    try:
        hyp, contribs = genomics.score_sequences(
            model, onehot, task_idx=task, method=method,
            reference=reference, seed=args.seed, batch_size=args.batch_size,
            find_scores_layer=args.find_scores_layer,
            target_layer=args.target_layer, progress=not args.quiet,
            ig_steps=args.ig_steps)
    except (ValueError, KeyError) as exc:
        raise CLIError(str(exc).strip("'\""))

    from deeplift import __version__ as version
    settings = {
        "deeplift_version": version, "model": args.model,
        "json": args.json, "yaml": args.yaml,
        "input": args.fasta if args.fasta is not None else args.npy,
        "num_sequences": int(onehot.shape[0]),
        "length": int(onehot.shape[1]), "task": task,
        "method": method, "reference": args.reference, "seed": args.seed,
        "batch_size": args.batch_size,
        "find_scores_layer": args.find_scores_layer,
        "target_layer": args.target_layer, "ig_steps": args.ig_steps,
        "format": args.format,
    }
    settings_json = np.array([json.dumps(settings, sort_keys=True)])
    if args.format == "npz":
        _atomic_write_npz([(args.out, {
            "onehot": onehot, "hypothetical": hyp, "contribs": contribs,
            "names": np.array(names, dtype=str),
            "settings": settings_json})])
        print("wrote %s: onehot, hypothetical, contribs (%s%d x %d x 4), "
              "names, settings" % (args.out, "%d tasks x " % len(task)
                                   if several else "", onehot.shape[0],
                                   onehot.shape[1]))
    else:
        ohe_path, shap_paths = outputs[0], outputs[1:]
        per_task = list(hyp) if several else [hyp]
        _atomic_write_npz(
            [(ohe_path, [np.ascontiguousarray(
                onehot.transpose(0, 2, 1), dtype=np.float32)])]
            + [(path, [np.ascontiguousarray(h.transpose(0, 2, 1),
                                            dtype=np.float32)])
               for path, h in zip(shap_paths, per_task)])
        print("wrote %s (one-hot) and %s (hypothetical contributions), "
              "arrays (%d, 4, %d) under 'arr_0'; run: modisco motifs -s %s "
              "-a %s -n 2000 -w %d" % (ohe_path, ", ".join(shap_paths),
                                       onehot.shape[0], onehot.shape[1],
                                       ohe_path, shap_paths[0],
                                       onehot.shape[1]))
    return 0


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------

def _model_layers(model):
    """(index or '-', layer) in order: a Sequential model's list, or the
    topological order of a graph model."""
    if hasattr(model, "get_layers"):
        return list(enumerate(model.get_layers()))
    from deeplift.graph import topological_order
    return list(enumerate(topological_order(_output_layers(model))))


def _layer_mode(layer):
    for attr in ("nonlinear_mxts_mode", "maxpool_deeplift_mode",
                 "dense_mxts_mode", "conv_mxts_mode"):
        value = getattr(layer, attr, None)
        if value is not None:
            return "%s=%s" % (attr.replace("_deeplift_mode", "").replace(
                "_mxts_mode", ""), value)
    return ""


def _shape_text(layer):
    try:
        shape = layer.get_shape()
    except RuntimeError:
        return "?"
    return "(" + ", ".join("None" if s is None else str(s)
                           for s in shape) + ")"


def _load_keras_model(h5_file, json_file, yaml_file):
    """Try keras (3) and tf_keras; returns (model, description) or
    (None, reason)."""
    import importlib
    order = (("keras", "tf_keras") if h5_file.endswith(".keras")
             else ("tf_keras", "keras"))
    reasons = []
    for module_name in order:
        try:
            keras = importlib.import_module(module_name)
        except Exception as exc:  # not installed or broken
            reasons.append("%s: not importable (%s)" % (module_name,
                                                        type(exc).__name__))
            continue
        try:
            if yaml_file is not None:
                raise ValueError("YAML model configs are not loadable by "
                                 "current Keras")
            if json_file is not None:
                with open(json_file) as handle:
                    model = keras.models.model_from_json(handle.read())
                model.load_weights(h5_file)
            else:
                model = keras.models.load_model(h5_file, compile=False)
            return model, "%s %s" % (module_name,
                                     getattr(keras, "__version__", "?"))
        except Exception as exc:
            text = str(exc).strip().splitlines()
            reasons.append("%s: %s" % (module_name,
                                       (text[0] if text else
                                        type(exc).__name__)[:150]))
    return None, "; ".join(reasons)


def _keras_check(model, args, quiet):
    if hasattr(model, "get_layers"):
        inputs = [model.get_layers()[0]]
        outputs = [model.get_layers()[-1]]
    else:
        inputs = [model.get_layer(n) for n in model.get_input_layer_names()]
        outputs = _output_layers(model)
    if len(inputs) != 1 or len(outputs) != 1:
        return "skipped (only single-input, single-output models are checked)"
    shape = inputs[0].get_shape()
    if any(s is None for s in shape[1:]):
        return "skipped (the input shape %s is not fully known)" % (shape,)
    keras_model, description = _load_keras_model(args.model, args.json,
                                                 args.yaml)
    if keras_model is None:
        return "skipped (Keras cannot load the model: %s)" % description
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 1, size=(8,) + tuple(shape[1:])).astype(np.float32)
    try:
        expected = keras_model.predict(x, verbose=0)
    except Exception as exc:
        return "skipped (%s could not run the model: %s)" % (
            description, str(exc).splitlines()[0][:150] if str(exc) else
            type(exc).__name__)
    if isinstance(expected, (list, tuple)):
        if len(expected) != 1:
            return "skipped (the Keras model has several outputs)"
        expected = expected[0]
    if isinstance(expected, dict):
        return "skipped (the Keras model has named outputs)"
    predict = model.prediction_function(inputs, outputs[0])
    ours = predict([x], batch_size=8)
    expected = np.asarray(expected)
    if ours.shape != expected.shape:
        return ("FAILED: output shapes differ (deeplift %s, %s %s)"
                % (ours.shape, description, expected.shape))
    diff = float(np.max(np.abs(ours - expected)))
    return ("max abs difference vs %s on 8 random inputs: %.3g"
            % (description, diff))


def cmd_convert(args):
    from deeplift import genomics
    _check_model_files(args)
    try:
        method = genomics.normalize_method(args.method)
    except ValueError as exc:
        raise CLIError(str(exc))
    model = _load_model(args, method)
    rows = [(str(i), str(layer.get_name()), type(layer).__name__,
             _shape_text(layer), _layer_mode(layer))
            for i, layer in _model_layers(model)]
    header = ("idx", "name", "type", "output shape", "mode")
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(5)]
    kind = type(model).__name__
    print("%s: %s with %d layers (method %s)" % (args.model, kind, len(rows),
                                                 method))
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, row))
              .rstrip())
    if not args.no_keras_check:
        print("keras check: %s" % _keras_check(model, args, args.quiet))
    return 0


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------

DEMO_METHODS = (
    # label, method, reference
    ("gradient x input", "gradient", "zeros"),
    ("integrated gradients (20 steps)", "integrated_gradients", "gc"),
    ("guided backprop x input", "guided_backprop", "gc"),
    ("DeepLIFT Rescale", "rescale", "gc"),
    ("DeepLIFT RevealCancel", "revealcancel", "gc"),
    ("DeepLIFT genomics default", "genomics_default", "gc"),
    ("DeepLIFT genomics default", "genomics_default", "dinuc-shuffle:20"),
)


def _runs(mask):
    """(start, end) ranges where the bool vector ``mask`` is True."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _plot_demo_logos(out_dir, task, idx, panels, mask):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from deeplift.visualization import viz_sequence
    from deeplift.genomics import TASK_NAMES
    # mask: (3, L) motif positions of the tasks; 1 = GATA, 2 = TAL1
    highlight = {"gold": _runs(mask[1]), "deepskyblue": _runs(mask[2])}
    fig, axes = plt.subplots(len(panels), 1,
                             figsize=(20, 2.2 * len(panels)), squeeze=False)
    try:
        for ax, (title, array) in zip(axes[:, 0], panels):
            viz_sequence.plot_weights_given_ax(
                ax, array, subticks_frequency=10, highlight=highlight)
            ax.set_title(title, fontsize=11, loc="left")
            ax.set_xlim(-1, array.shape[0] + 1)
        fig.suptitle("explaining task %d (%s) on simulated sequence %d; "
                     "boxes: embedded GATA (gold) and TAL1 (blue) motifs"
                     % (task, TASK_NAMES[task], idx), fontsize=12)
        fig.tight_layout()
        path = os.path.join(out_dir, "demo_task%d_seq%d.png" % (task, idx))
        fig.savefig(path, dpi=80)
    finally:
        plt.close(fig)
    return path


def cmd_demo(args):
    from deeplift import genomics
    if args.n < 8:
        raise CLIError("--n must be at least 8")
    out_dir = args.out
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CLIError("--out %s exists and is not a directory" % (out_dir,))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise CLIError("cannot create directory %s: %s"
                       % (out_dir, exc.strerror or exc))
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise CLIError("directory %s is not writable" % (out_dir,))
    if not os.path.exists(DEMO_MODEL):
        raise CLIError("the demo model %s is missing from the installation"
                       % (DEMO_MODEL,))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("the demo draws sequence logos and needs matplotlib "
                       "(pip install matplotlib)")

    t_start = time.time()
    seqs, labels, mask = genomics.simulate_sequences(args.n, seed=args.seed)
    onehot = genomics.one_hot_encode(seqs)
    num_tasks = labels.shape[1]
    print("deeplift demo: %d simulated 200-bp sequences (seed %d) with GATA "
          "and TAL1 motifs; model %s" % (args.n, args.seed,
                                         os.path.basename(DEMO_MODEL)))
    print("tasks: " + ", ".join("%d = %s (%d positives)"
                                % (t, genomics.TASK_NAMES[t],
                                   labels[:, t].sum())
                                for t in range(num_tasks)))
    positives = [np.flatnonzero(labels[:, task]) for task in range(num_tasks)]
    example = []      # per task: the logo's sequence, an index in positives
    for task, pos in enumerate(positives):
        if len(pos) == 0:
            raise CLIError("no positive sequence for task %d; increase --n"
                           % task)
        # the logos show a sequence with only the task's own motif (GATA
        # for task 1, TAL1 for task 2) where there is one
        own = [j for j, i in enumerate(pos)
               if labels[i].sum() == 1 or task == 0]
        example.append(own[0] if own else 0)

    rows, logos, models = [], {}, {}
    for label, method, reference in DEMO_METHODS:
        t0 = time.time()
        if method not in models:
            models[method] = genomics.load_model(DEMO_MODEL, method=method)
        model = models[method]
        if not rows:
            predict = model.get_prediction_function(0, -1)
            pred = predict([onehot], batch_size=256)
            print("model AUROC on these sequences: " + ", ".join(
                "task %d %.3f" % (t, genomics.auroc(pred[:, t], labels[:, t]))
                for t in range(num_tasks)))
        aurocs = []
        for task, pos in enumerate(positives):
            hyp, contribs = genomics.score_sequences(
                model, onehot[pos], task_idx=task, method=method,
                reference=reference, seed=args.seed,
                progress=not args.quiet)
            aurocs.append(genomics.motif_mask_auroc(contribs,
                                                    mask[pos, task]))
            logos[(label, reference, task)] = (contribs[example[task]],
                                               hyp[example[task]])
        rows.append((label, reference, aurocs, time.time() - t0))

    header = ["method", "reference"] + [
        "AUROC t%d %s" % (t, genomics.TASK_NAMES[t])
        for t in range(num_tasks)] + ["time (s)"]
    table = [[r[0], r[1]] + ["%.3f" % a for a in r[2]] + ["%.1f" % r[3]]
             for r in rows]
    widths = [max(len(x[c]) for x in table + [header])
              for c in range(len(header))]
    print()
    print("How well each method's scores find the embedded motifs "
          "(per-position AUROC of |contribution| against the motif "
          "positions, averaged over the positive sequences of each task):")
    for row in [header, ["-" * w for w in widths]] + table:
        print("  ".join(("%-*s" if c < 2 else "%*s") % (widths[c], row[c])
                        for c in range(len(row))).rstrip())
    print("gc: each sequence's base composition at every position; time: "
          "scoring of the positives of all tasks, with the model's "
          "conversion and compilation for the first row of a method")
    with open(os.path.join(out_dir, "demo_results.tsv"), "w") as handle:
        handle.write("\t".join(header) + "\n")
        for row in table:
            handle.write("\t".join(row) + "\n")

    written = []
    for task in range(num_tasks):
        idx = int(positives[task][example[task]])
        panels = [
            ("gradient x input: contributions",
             logos[("gradient x input", "zeros", task)][0]),
            ("DeepLIFT genomics default, reference gc: contributions",
             logos[("DeepLIFT genomics default", "gc", task)][0]),
            ("DeepLIFT genomics default, 20 dinucleotide-shuffled "
             "references: contributions",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][0]),
            ("... and hypothetical contributions (every base at every "
             "position)",
             logos[("DeepLIFT genomics default", "dinuc-shuffle:20",
                    task)][1]),
        ]
        written.append(_plot_demo_logos(out_dir, task, idx, panels,
                                        mask[idx]))
    print()
    print("wrote %s and %d sequence logos: %s"
          % (os.path.join(out_dir, "demo_results.tsv"), len(written),
             ", ".join(os.path.basename(p) for p in written)))
    print("total time %.1f s" % (time.time() - t_start))
    return 0


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------

METHOD_HELP = ("attribution method: rescale, revealcancel, genomics_default "
               "(Rescale after convolutions, RevealCancel after dense "
               "layers), gradient (gradient x (input - reference)), "
               "guided_backprop, integrated_gradients (default: "
               "%(default)s)")
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


def build_parser():
    parser = _Parser(
        prog=PROG, description="DeepLIFT attribution scores for Keras "
        "models (TensorFlow 2 / Keras 3).")
    from deeplift import __version__
    parser.add_argument("--version", action="version",
                        version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="compare attribution methods on simulated sequences "
        "with the model shipped in the package",
        description="Simulate sequences with GATA and TAL1 motifs, score "
        "them with the small genomics model shipped in the package using "
        "several methods, print how well each method finds the embedded "
        "motifs (and its run time) and write sequence logos. No downloads.")
    demo.add_argument("--out", default="deeplift_demo", metavar="DIR",
                      help="directory for the logos and the results table "
                      "(default: %(default)s)")
    demo.add_argument("--n", type=int, default=400,
                      help="number of simulated sequences "
                      "(default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0,
                      help="simulation and shuffling seed "
                      "(default: %(default)s)")
    demo.add_argument("--quiet", action="store_true",
                      help="no progress bars")
    demo.set_defaults(func=cmd_demo)

    contribs = sub.add_parser(
        "contribs", help="contribution scores of DNA sequences",
        description="Hypothetical and actual contribution scores of one-hot "
        "DNA sequences for one output of a Keras model. Writes an .npz file "
        "with 'onehot', 'hypothetical' and 'contribs' (N, L, 4; contribs = "
        "hypothetical * onehot), 'names' and 'settings' (a one-element "
        "array holding the settings as a JSON string). With --format "
        "modisco, writes instead OUT.ohe.npz (one-hot) and OUT.shap.npz "
        "(hypothetical contributions), each one (N, 4, L) float32 array "
        "under 'arr_0', the layout read by TF-MoDISco-lite's 'modisco "
        "motifs -s OUT.ohe.npz -a OUT.shap.npz -n MAX_SEQLETS -w L'. "
        "With several tasks (--task 0,2), one forward pass serves them all: "
        "'hypothetical' and 'contribs' get a leading task axis (T, N, L, 4), "
        "and --format modisco writes OUT.taskT.shap.npz per task next to "
        "OUT.ohe.npz. Output files are written atomically.")
    _add_model_arguments(contribs)
    inputs = contribs.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--fasta", metavar="FILE",
                        help="sequences (equal length; .gz accepted; "
                        "lowercase accepted, N and other letters are "
                        "encoded as all-zero rows)")
    inputs.add_argument("--npy", metavar="FILE",
                        help="one-hot sequences, an (N, L, 4) array")
    contribs.add_argument("--task", default="0",
                          help="output unit of the target layer to explain, "
                          "or a comma-separated list of them, e.g. 0,2,5 "
                          "(default: %(default)s)")
    contribs.add_argument("--method", default="genomics_default",
                          help=METHOD_HELP)
    contribs.add_argument("--reference", default="dinuc-shuffle:20",
                          help=REFERENCE_HELP)
    contribs.add_argument("--seed", type=int, default=0,
                          help="seed of the shuffled references "
                          "(default: %(default)s)")
    contribs.add_argument("--batch-size", type=int, default=256,
                          help="(sequence, reference) pairs per batch "
                          "(default: %(default)s)")
    contribs.add_argument("--target-layer", type=_layer_ref, default=-2,
                          help="layer whose output is explained: index "
                          "(Sequential) or name (functional); default: the "
                          "layer before the final activation (-2)")
    contribs.add_argument("--find-scores-layer", type=_layer_ref, default=0,
                          help="layer whose scores are computed (default: "
                          "the input, 0)")
    contribs.add_argument("--ig-steps", type=int, default=20,
                          help="path points for integrated_gradients "
                          "(default: %(default)s)")
    contribs.add_argument("--out", required=True, metavar="FILE.npz",
                          help="output file")
    contribs.add_argument("--format", choices=("npz", "modisco"),
                          default="npz",
                          help="npz (default) or modisco (the OUT.ohe.npz / "
                          "OUT.shap.npz pair)")
    contribs.add_argument("--quiet", action="store_true",
                          help="no progress bar")
    contribs.set_defaults(func=cmd_contribs)

    convert = sub.add_parser(
        "convert", help="show the converted layer graph and check it "
        "against Keras",
        description="Convert a saved Keras model, print its deeplift layers "
        "(index, name, type, output shape, mode) and, when Keras 3 or "
        "tf_keras can load the model, the largest absolute difference "
        "between the two forward passes on random input.")
    _add_model_arguments(convert)
    convert.add_argument("--method", default="genomics_default",
                         help=METHOD_HELP)
    convert.add_argument("--no-keras-check", action="store_true",
                         help="do not compare with Keras")
    convert.add_argument("--quiet", action="store_true",
                         help="(accepted for symmetry; nothing to silence)")
    convert.set_defaults(func=cmd_convert)
    return parser


def main(argv=None):
    """Entry point of the ``deeplift`` command; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet_native_stderr():
            parser = build_parser()
            args = parser.parse_args(argv)
            if getattr(args, "func", None) is None:
                parser.print_help()
                return 2
            return args.func(args)
    except CLIError as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, " ".join(
            str(exc).split())))
        sys.stderr.flush()
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
