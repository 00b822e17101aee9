"""Differential testing against the original deeplift 0.6.13.

``write_cases(seeds, out_dir)`` writes random models (``random_models``),
their inputs and a runner spec; ``run_original(spec, out)`` runs the
original on it in its own process (``original_runner.py``);
``compare(spec_path, expected_path)`` makes the same calls with this
package and returns one record per returned array: the largest absolute
difference and the score scale (largest absolute value of the original's
array), so that ``err / scale`` is the relative divergence.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_PATH = os.path.join(HERE, "original_runner.py")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load("_deeplift_original_runner", RUNNER_PATH)
random_models = _load("_deeplift_random_models",
                      os.path.join(HERE, "random_models.py"))


def write_cases(seeds, out_dir, modes=None, name="differential",
                family=None, n=6):
    """Models, ``inputs_<name>.npz`` and ``spec_<name>.json`` in
    ``out_dir`` (``family``, ``n``: see ``random_models.random_case``);
    returns the spec path."""
    os.makedirs(out_dir, exist_ok=True)
    cases = [random_models.random_case(seed, out_dir, family=family, n=n)
             for seed in seeds]
    arrays = {}
    for _, case_arrays, _ in cases:
        arrays.update(case_arrays)
    np.savez_compressed(os.path.join(out_dir, "inputs_%s.npz" % name),
                        **arrays)
    convs = random_models.spec_conversions(
        cases, **({"modes": modes} if modes else {}))
    spec = {"name": name, "inputs_npz": "inputs_%s.npz" % name,
            "conversions": convs,
            "cases": [info for _, _, info in cases]}
    path = os.path.join(out_dir, "spec_%s.json" % name)
    with open(path, "w") as f:
        json.dump(spec, f, indent=1, sort_keys=True)
    return path


def run_original(spec_path, out_path, group=5):
    """Run the original on ``spec_path``, ``group`` conversions per process
    (the original's TF1 graph grows with every conversion, and so does the
    time of each), and merge the outputs into ``out_path``; raises with
    the runner's output on failure."""
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    with open(spec_path) as f:
        spec = json.load(f)
    convs = spec["conversions"]
    merged, meta = {}, None
    for start in range(0, len(convs), group):
        part = dict(spec, conversions=convs[start:start + group])
        part_spec = os.path.join(base_dir, ".part_spec.json")
        part_out = os.path.join(base_dir, ".part_out.npz")
        with open(part_spec, "w") as f:
            json.dump(part, f)
        proc = subprocess.run([sys.executable, RUNNER_PATH, part_spec,
                               part_out], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("the original runner failed:\n"
                               + proc.stdout[-3000:] + proc.stderr[-3000:])
        with np.load(part_out) as z:
            part_meta = json.loads(str(z["__meta__"]))
            merged.update({k: z[k] for k in z.files if k != "__meta__"})
        if meta is None:
            meta = part_meta
        else:
            meta["conversions"].update(part_meta["conversions"])
        os.remove(part_spec)
        os.remove(part_out)
    merged["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez_compressed(out_path, **merged)


def compare(spec_path, expected_path, conversions=None):
    """Records ``{conversion, job, key, err, scale, problem}`` for every
    array the original returned (``problem``: a string when the layers,
    shapes or errors differ, else None)."""
    import deeplift.conversion.kerasapi_conversion as kc
    import deeplift.layers
    import deeplift.util
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    with open(spec_path) as f:
        spec = json.load(f)
    with np.load(os.path.join(base_dir, spec["inputs_npz"])) as z:
        arrays = {k: z[k] for k in z.files}
    with np.load(expected_path) as z:
        expected = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(str(z["__meta__"]))["conversions"]
    records = []
    for conv in spec["conversions"]:
        if conversions is not None and conv["name"] not in conversions:
            continue
        cmeta = meta[conv["name"]]
        model, _ = runner.convert(kc, conv, base_dir, layers=deeplift.layers)
        ours = json.loads(json.dumps(runner.describe_model(model),
                                     default=lambda o: o.item()))
        if ours != cmeta["model"]:
            records.append({"conversion": conv["name"], "job": None,
                            "key": None, "err": np.inf, "scale": 0.0,
                            "problem": "converted layers differ: %s vs %s"
                                       % (ours, cmeta["model"])})
            continue
        for job in conv["jobs"]:
            jmeta = cmeta["jobs"][job["name"]]
            base = {"conversion": conv["name"], "job": job["name"]}
            if "error" in jmeta:
                records.append(dict(base, key=None, err=np.inf, scale=0.0,
                                    problem="the original raised " +
                                    jmeta["error"]))
                continue
            outputs = runner.flatten_result(
                job, runner.run_job(model, deeplift.util, job, arrays))
            for suffix, arr in outputs:
                key = conv["name"] + "__" + job["name"] + suffix
                want = expected[key]
                if arr.shape != want.shape:
                    records.append(dict(base, key=key, err=np.inf,
                                        scale=0.0, problem="shape %s != %s"
                                        % (arr.shape, want.shape)))
                    continue
                records.append(dict(
                    base, key=key, problem=None,
                    err=float(np.abs(arr.astype(np.float64) - want).max()),
                    scale=float(np.abs(want).max())))
    return records


def relative(record):
    """err / scale (the divergence relative to the score scale)."""
    return record["err"] / max(record["scale"], 1e-12)
