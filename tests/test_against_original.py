"""Compare this package with the ORIGINAL kundajelab/deeplift 0.6.13.

The expected values in ``tests/data/original/`` were produced by running the
original (under ``tensorflow.compat.v1``) through
``tests/reference/original_runner.py``; ``tests/reference/make_expected.py``
regenerates them (see ``tests/reference/README.md``).  Each ``spec_*.json``
lists the conversions and the exact public-API calls; the tests below make
the same calls -- through the same helper functions of ``original_runner``
that drove the original -- against THIS package and compare:

* the converted layers' names / indices / types;
* every returned array (``rtol=1e-4, atol=1e-5``; the original returned
  lists, ours are compared through ``np.asarray``);
* the calls the original refused (recorded errors).

RevealCancel on the Dense MLP fixtures is compared with the conditioning of
0.6.13's float32 scale factors taken into account
(``test_revealcancel_against_original_with_conditioning``): where a unit's
input part is exactly zero, the stored float32 answers depend on the CPU
that computed them, so there the test checks that both answers lie within
their float32 error bound of a float64 transcription of 0.6.13's rules
(``tests/reference/original_mlp.py``), and compares the well-conditioned
elements at the usual tolerance.

``test_fixture_selfcheck_*`` validate the fixtures and the harness
independently of this package (gradients against ``tf.GradientTape`` on the
Keras model, summation-to-delta, hypothetical-contribution consistency);
they need ``tf_keras``.

``test_live_against_original`` (marker ``original``; runs only with
``DEEPLIFT_TEST_ORIGINAL=1``) converts a freshly built random model with
both implementations.
"""
import glob
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data", "original")
SHARED = os.path.join(REPO, "..", "shared")
RUNNER_PATH = os.path.join(HERE, "reference", "original_runner.py")
#: float32 answers of two implementations on two CPUs: summation order and
#: vectorised activations differ by a few ulps per layer; 1e-4 relative /
#: 1e-5 absolute (scores of order 0.1-1) leaves a wide margin for that and
#: still catches any rule difference (the deliberate ones are > 1e-3)
RTOL, ATOL = 1e-4, 1e-5


def _load_runner():
    spec = importlib.util.spec_from_file_location("_deeplift_original_runner",
                                                  RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


# --------------------------------------------------------------------------
# fixtures on disk
# --------------------------------------------------------------------------
def _spec_files():
    return sorted(glob.glob(os.path.join(DATA, "spec_*.json")))


def _load_spec(path):
    with open(path) as f:
        return json.load(f)


def _cases():
    cases = []
    for path in _spec_files():
        spec = _load_spec(path)
        for conv in spec["conversions"]:
            cases.append(pytest.param(spec["name"], conv["name"],
                                      id="%s-%s" % (spec["name"],
                                                    conv["name"])))
    return cases


class Fixture(object):
    """One spec_*.json with its inputs and the original's outputs."""

    def __init__(self, name):
        self.spec = _load_spec(os.path.join(DATA, "spec_%s.json" % name))
        if self.spec.get("requires_shared") and not os.path.isdir(SHARED):
            pytest.skip("needs %s (real Keras 2 files), which is absent"
                        % os.path.normpath(SHARED))
        for conv in self.spec["conversions"]:
            for key in ("h5_file", "json_file"):
                path = runner._resolve(DATA, conv.get(key))
                if path is not None and not os.path.exists(path):
                    pytest.skip("model file %s is absent" % path)
        with np.load(os.path.join(DATA, self.spec["inputs_npz"])) as z:
            self.arrays = {k: z[k] for k in z.files}
        with np.load(os.path.join(DATA, "expected_%s.npz" % name)) as z:
            self.expected = {k: z[k] for k in z.files if k != "__meta__"}
            self.meta = json.loads(str(z["__meta__"]))["conversions"]

    def conversion(self, conv_name):
        for conv in self.spec["conversions"]:
            if conv["name"] == conv_name:
                return conv
        raise KeyError(conv_name)


_FIXTURES = {}


def get_fixture(name):
    if name not in _FIXTURES:
        _FIXTURES[name] = Fixture(name)
    return _FIXTURES[name]


# --------------------------------------------------------------------------
# comparison against this package
# --------------------------------------------------------------------------
def _our_modules():
    kc = pytest.importorskip("deeplift.conversion.kerasapi_conversion")
    import deeplift.layers
    import deeplift.util
    return kc, deeplift.util, deeplift.layers


def _normalise(obj):
    """JSON round trip: tuples -> lists, numpy ints -> ints."""
    return json.loads(json.dumps(obj, default=lambda o: o.item()))


# Jobs where this package deliberately gives other numbers than 0.6.13.
# Each is checked by `test_deliberate_differences_are_what_we_say`.
DELIBERATE_DIFFERENCES = {
    # 0.6.13 keeps placeholder zeros as the contributions of max-pool
    # layers; we report multipliers x difference-from-reference there.
    ("conv1d", "Rescale", "contribs_at_maxpool"): "maxpool_placeholder",
    # 0.6.13's DeconvNet applies the nonlinearity to the multipliers of
    # every branch, so sigmoid(0) = 0.5 and softmax(0) = 1/n inject
    # multipliers from heads that are not the target; we propagate only
    # from the target.
    ("functional_branches", "DeconvNet", "head_a_contribs_t0_ref"):
        "deconvnet_other_heads",
    ("functional_branches", "DeconvNet", "head_a_contribs_t1_zeroref"):
        "deconvnet_other_heads",
    ("functional_branches", "DeconvNet", "head_b_contribs_t2_ref"):
        "deconvnet_other_heads",
    ("functional_branches", "DeconvNet", "head_b_contribs_t0_zeroref"):
        "deconvnet_other_heads",
}


# RevealCancel on a Sequential Dense MLP: compared by
# `test_revealcancel_against_original_with_conditioning` (the float32
# conditioning of 0.6.13's scale factors taken into account), not by the
# generic comparison.
MLP_FIXTURES = ("dense", "dense_softmax")
REVEAL_CANCEL_CONVERSIONS = ("RevealCancel", "DeepLIFT_GenomicsDefault")


def _conditioned_jobs():
    out = []
    for name in MLP_FIXTURES:
        spec = _load_spec(os.path.join(DATA, "spec_%s.json" % name))
        for conv in spec["conversions"]:
            if conv["name"] not in REVEAL_CANCEL_CONVERSIONS:
                continue
            for job in conv["jobs"]:
                if job["kind"] == "contribs" and job["find_scores_layer"] \
                        == 0 and not job.get("expect_error"):
                    out.append((name, conv["name"], job["name"]))
    return out


CONDITIONED_JOBS = _conditioned_jobs()


def compare_conversion(conv, cmeta, arrays, expected, base_dir,
                       rtol=RTOL, atol=ATOL, legacy_tmp_dir=None,
                       skip_jobs=()):
    """Run ``conv`` against this package; return a list of problems.

    ``legacy_tmp_dir`` is only for checking the harness with the original
    itself (which needs the runner's file shims); never for this package."""
    kc, util, layers = _our_modules()
    model, _ = runner.convert(kc, conv, base_dir, layers=layers,
                              legacy_tmp_dir=legacy_tmp_dir)
    problems = []
    ours = _normalise(runner.describe_model(model))
    if ours != cmeta["model"]:
        problems.append("converted layers differ:\n  ours:     %s\n"
                        "  original: %s" % (ours, cmeta["model"]))
    for job in conv["jobs"]:
        if job["name"] in skip_jobs:
            continue
        jmeta = cmeta["jobs"][job["name"]]
        if "error" in jmeta:
            try:
                runner.run_job(model, util, job, arrays)
            except Exception:
                continue
            # the original refused this call on purpose (RuntimeError);
            # AttributeError etc. were limitations an improvement may lift
            if jmeta["error_type"] == "RuntimeError":
                problems.append("%s: the original raised %s; ours did not"
                                % (job["name"], jmeta["error"]))
            continue
        try:
            result = runner.run_job(model, util, job, arrays)
            outputs = runner.flatten_result(job, result)
        except Exception as e:  # report all jobs, not only the first
            problems.append("%s: raised %s: %s" % (job["name"],
                                                    type(e).__name__, e))
            continue
        keys = [conv["name"] + "__" + job["name"] + s for s, _ in outputs]
        if keys != jmeta["outputs"]:
            problems.append("%s: returned %d arrays, the original %d"
                            % (job["name"], len(keys),
                               len(jmeta["outputs"])))
            continue
        for key, (_, arr) in zip(keys, outputs):
            want = expected[key]
            if arr.shape != want.shape:
                problems.append("%s: shape %s != original %s"
                                % (key, arr.shape, want.shape))
                continue
            try:
                np.testing.assert_allclose(arr, want, rtol=rtol, atol=atol)
            except AssertionError:
                diff = np.abs(arr - want)
                problems.append("%s (%s): max |diff| %.3g, max |orig| %.3g, "
                                "%d/%d elements off"
                                % (key, job["kind"], diff.max(),
                                   np.abs(want).max(),
                                   int((diff > atol + rtol * np.abs(want))
                                       .sum()), want.size))
    return problems


@pytest.mark.parametrize("fixture_name,conv_name", _cases())
def test_against_original(fixture_name, conv_name):
    fx = get_fixture(fixture_name)
    conv = fx.conversion(conv_name)
    skip = [job for (f, c, job) in list(DELIBERATE_DIFFERENCES)
            + CONDITIONED_JOBS if f == fixture_name and c == conv_name]
    problems = compare_conversion(conv, fx.meta[conv_name], fx.arrays,
                                  fx.expected, DATA, skip_jobs=skip)
    assert not problems, "\n".join(problems)


def _load_original_mlp():
    spec = importlib.util.spec_from_file_location(
        "_deeplift_original_mlp",
        os.path.join(HERE, "reference", "original_mlp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


original_mlp = _load_original_mlp()


def _mlp_layers(spec):
    """[(kernel, bias, activation)] of a Sequential Dense MLP's h5 file."""
    import h5py
    path = runner._resolve(DATA, spec["conversions"][0]["h5_file"])
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        layers = []
        for entry in config["config"]["layers"]:
            if entry["class_name"] != "Dense":
                continue
            name = entry["config"]["name"]
            group = f["model_weights"][name][name]
            layers.append((group["kernel:0"][()], group["bias:0"][()],
                           entry["config"]["activation"]))
    return layers


#: what the conditioning test found, for the report: (fixture, conversion,
#: job) -> [(example, max |ours - 0.6.13|, the unit that explains it)]
ILL_CONDITIONED_FOUND = {}


@pytest.mark.parametrize("fixture_name,conv_name,job_name",
                         CONDITIONED_JOBS)
def test_revealcancel_against_original_with_conditioning(
        fixture_name, conv_name, job_name):
    """RevealCancel vs 0.6.13 where the answer is ill-conditioned.

    Where a unit's positive or negative input part is (near) zero, 0.6.13
    divides a float32 finite difference over its 1e-7 pseudocount by that
    pseudocount: one float32 ulp of the sigmoid moves the scale factor by
    about 0.6, so two float32 runs on different CPUs (AVX-512 vs AVX2, Eigen
    vs oneDNN) may differ by far more than the usual tolerance there.  So:

    1. ours and a float64 transcription of 0.6.13's rules
       (tests/reference/original_mlp.py) compute the same function: float64
       runs agree to 1e-6;
    2. 0.6.13's stored float32 answer and ours each lie within the usual
       tolerance plus the float32 error bound of the scale factors carried
       to each element (``bound``: the sensitivity of the element to each
       scale factor times that factor's float32 error bound) of the float64
       answer;
    3. where that bound is below ATOL (well-conditioned elements), ours
       equals 0.6.13's at the usual tolerance (RTOL, ATOL), as elsewhere;
    4. every example where ours and 0.6.13 differ beyond the usual
       tolerance has a unit with an input part below 1e-4 in magnitude that
       explains it (recorded in ILL_CONDITIONED_FOUND).
    """
    fx = get_fixture(fixture_name)
    conv = fx.conversion(conv_name)
    job = [j for j in conv["jobs"] if j["name"] == job_name][0]
    layers = _mlp_layers(fx.spec)
    data, refs = runner.build_call_args(job, fx.arrays)
    x = data[0]
    ref = 0.0 if refs is None else refs[0]
    exact, bound, units = original_mlp.contribs(layers, x, ref,
                                                job["task_idx"])
    want = fx.expected[conv_name + "__" + job_name]
    kc, util, dl_layers = _our_modules()
    model, _ = runner.convert(kc, conv, DATA, layers=dl_layers)
    ours = np.asarray(runner.run_job(model, util, job, fx.arrays))
    as64 = {k: (v.astype(np.float64) if v.dtype == np.float32 else v)
            for k, v in fx.arrays.items()}
    ours64 = np.asarray(runner.run_job(model, util, job, as64))
    assert ours.dtype == np.float32 and ours64.dtype == np.float64
    # 1. float64 both sides; left: the pseudocount finite differences in
    # float64 (rounding 1e-16 / 1e-7 = 1e-9 relative) and 0.6.13's
    # pseudocounted other part inside each Shapley term (changes a scale by
    # about f'' * 1e-7): far below 1e-6
    np.testing.assert_allclose(ours64, exact, rtol=0, atol=1e-6)
    # 2. RTOL/ATOL: the float32 noise of well-conditioned computations (as
    # in the generic comparison); bound: the ill-conditioned scale factors
    tol = ATOL + RTOL * np.abs(want)
    for name, answer in (("0.6.13", want), ("ours", ours)):
        outside = np.abs(answer - exact) > tol + bound
        assert not outside.any(), (
            "%s's float32 answer is outside its float32 error bound at %s"
            % (name, np.argwhere(outside).tolist()))
    # 3. well-conditioned elements: the usual tolerance
    well = bound <= ATOL
    off = np.abs(ours - want) > tol
    assert not (off & well).any(), (
        "well-conditioned elements differ from 0.6.13: %s"
        % np.argwhere(off & well).tolist())
    # 4. say which examples are ill-conditioned, and why
    found = []
    for example in sorted(set(np.argwhere(off)[:, 0].tolist())):
        layer, part, unit, value, scale, err, _ = units[example][0]
        # the explaining unit's part: (near) zero, where 0.6.13's scale
        # factor is a finite difference over at most ~1e-4 (0 in practice)
        assert abs(value) < 1e-4, units[example][0]
        found.append((example, float(np.abs(ours - want)[example].max()),
                      "layer %d unit %d: %s input part %.3g, scale %.3f "
                      "+- %.2f in float32" % (layer, unit, part, value,
                                               scale, err)))
    ILL_CONDITIONED_FOUND[(fixture_name, conv_name, job_name)] = found


def test_sigmoid_accuracy_assumed_by_the_conditioning_bound():
    """original_mlp.F32_ULPS: TensorFlow's float32 sigmoid on this kernel
    path is within that many ulps of the exact value (the bound of test
    2 above relies on it)."""
    tf = pytest.importorskip("tensorflow")
    z = np.random.RandomState(0).uniform(-12, 12, 200000).astype(np.float32)
    for n in (1, 7, len(z)):     # scalar tails and vector packets
        got = np.concatenate([tf.sigmoid(z[i:i + n]).numpy()
                              for i in range(0, min(len(z), 1000 * n), n)])
        exact = 1 / (1 + np.exp(-z[:len(got)].astype(np.float64)))
        ulps = np.abs(got - exact) / np.spacing(np.abs(got))
        assert ulps.max() <= original_mlp.F32_ULPS["sigmoid"]


@pytest.mark.parametrize("key", sorted(DELIBERATE_DIFFERENCES))
def test_deliberate_differences_are_what_we_say(key):
    fixture_name, conv_name, job_name = key
    fx = get_fixture(fixture_name)
    conv = fx.conversion(conv_name)
    job = [j for j in conv["jobs"] if j["name"] == job_name][0]
    kc, util, layers = _our_modules()
    model, _ = runner.convert(kc, conv, DATA, layers=layers)
    ours = runner.flatten_result(job, runner.run_job(model, util, job,
                                                     fx.arrays))[0][1]
    want = fx.expected[conv_name + "__" + job_name]
    reason = DELIBERATE_DIFFERENCES[key]
    if reason == "maxpool_placeholder":
        assert np.all(want == 0) and np.abs(ours).max() > 0
        assert np.all(np.isfinite(ours))
    elif reason == "deconvnet_other_heads":
        # the other head's injected multipliers change the numbers; ours
        # are a finite DeconvNet result of the target alone (a difference
        # 100x the comparison's tolerance, so not float32 noise)
        assert np.abs(ours - want).max() > 1e-3
        assert np.all(np.isfinite(ours))
    else:
        raise AssertionError("unknown reason " + reason)


# --------------------------------------------------------------------------
# self-checks of the fixtures / harness (independent of this package)
# --------------------------------------------------------------------------
_KERAS_CACHE = {}


def _keras_model(spec):
    """The fixture's model loaded with tf_keras (None if it cannot be)."""
    tf_keras = pytest.importorskip("tf_keras")
    key = spec["name"]
    if key not in _KERAS_CACHE:
        conv = spec["conversions"][0]
        h5 = runner._resolve(DATA, conv["h5_file"])
        js = runner._resolve(DATA, conv.get("json_file"))
        if js is not None:
            with open(js) as f:
                model = tf_keras.models.model_from_json(f.read())
            model.load_weights(h5)
        else:
            model = tf_keras.models.load_model(h5, compile=False)
        _KERAS_CACHE[key] = model
    return _KERAS_CACHE[key]


def _target_fn(spec, target):
    """x_list -> pre-activation output of the Keras layer the target is."""
    tf_keras = pytest.importorskip("tf_keras")
    model = _keras_model(spec)
    layer = model.get_layer(spec["keras_targets"][str(target)]["layer"])
    layer.activation = tf_keras.activations.linear
    sub = tf_keras.Model(model.inputs, layer.output)
    return sub


def _full_inputs_and_refs(fx, cmeta, job):
    """Inputs and (broadcast) references as lists in model-input order."""
    data, refs = runner.build_call_args(job, fx.arrays)
    names = cmeta["model"].get("input_layer_names")
    if isinstance(data, dict):
        data = [data[n] for n in names]
    if refs is None:
        refs = [0.0] * len(data)
    elif isinstance(refs, dict):
        refs = [refs[n] for n in names]
    refs = [np.ones_like(x) * r for x, r in zip(data, refs)]
    return data, refs


def _input_positions(cmeta, job):
    """Which model inputs the job scores (None if not input layers)."""
    find = job["find_scores_layer"]
    finds = find if isinstance(find, list) else [find]
    if cmeta["model"]["kind"] == "SequentialModel":
        return [0] if finds == [0] else None
    names = cmeta["model"]["input_layer_names"]
    if all(f in names for f in finds):
        return [names.index(f) for f in finds]
    return None


def _selfcheck_fixtures(job_kind=None):
    out = []
    for p in _spec_files():
        spec = _load_spec(p)
        if job_kind is None or any(j["kind"] == job_kind
                                   for c in spec["conversions"]
                                   for j in c["jobs"]):
            out.append(pytest.param(spec["name"], id=spec["name"]))
    return out


def _expected_outputs(fx, conv_name, job):
    keys = fx.meta[conv_name]["jobs"][job["name"]]["outputs"]
    return [fx.expected[k] for k in keys]


@pytest.mark.parametrize("fixture_name", _selfcheck_fixtures())
def test_fixture_selfcheck_gradient(fixture_name):
    """Gradient-mode contribs == tape gradient x (x - ref); IG likewise."""
    tf = pytest.importorskip("tensorflow")
    fx = get_fixture(fixture_name)
    if not any(c["name"] == "Gradient" for c in fx.spec["conversions"]):
        pytest.skip("no Gradient conversion")
    cmeta = fx.meta["Gradient"]
    checked = 0
    for job in fx.conversion("Gradient")["jobs"]:
        if job["kind"] not in ("contribs", "integrated_gradients"):
            continue
        positions = _input_positions(cmeta, job)
        if positions is None:
            continue
        fn = _target_fn(fx.spec, job["target_layer"])
        xs, refs = _full_inputs_and_refs(fx, cmeta, job)

        def grads(points):
            tensors = [tf.constant(p, dtype=tf.float32) for p in points]
            with tf.GradientTape() as tape:
                tape.watch(tensors)
                out = fn(tensors if len(tensors) > 1 else tensors[0])
                out = out[:, job["task_idx"]]
            return [g.numpy() for g in tape.gradient(out, tensors)]

        if job["kind"] == "contribs":
            want = [g * (x - r) for g, x, r in zip(grads(xs), xs, refs)]
        else:
            n = job.get("num_intervals", 10)
            acc = [np.zeros_like(x) for x in xs]
            for i in range(n):
                pts = [r + (x - r) * (i + 0.5) / n for x, r in zip(xs, refs)]
                acc = [a + g for a, g in zip(acc, grads(pts))]
            want = [a / n * (x - r) for a, x, r in zip(acc, xs, refs)]
        got = _expected_outputs(fx, "Gradient", job)
        for g, p in zip(got, positions):
            # the original's float32 graph vs tf_keras' float32 tape on
            # another TF version and CPU; IG sums 10 such gradients: 1e-3
            # relative, 1e-5 absolute for scores of order 0.1-1
            np.testing.assert_allclose(g, want[p], rtol=1e-3, atol=1e-5,
                                       err_msg=job["name"])
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("fixture_name", _selfcheck_fixtures())
def test_fixture_selfcheck_summation_to_delta(fixture_name):
    """Rescale / RevealCancel contribs sum to f(x) - f(ref) (no max-pool)."""
    pytest.importorskip("tensorflow")
    fx = get_fixture(fixture_name)
    if not fx.spec.get("conserves"):
        pytest.skip("model has max-pooling: DeepLIFT does not conserve")
    checked = 0
    for conv in fx.spec["conversions"]:
        if conv["name"] not in ("Rescale", "RevealCancel",
                                "DeepLIFT_GenomicsDefault"):
            continue
        cmeta = fx.meta[conv["name"]]
        for job in conv["jobs"]:
            if job["kind"] != "contribs" or "error" in \
                    cmeta["jobs"][job["name"]]:
                continue
            positions = _input_positions(cmeta, job)
            n_inputs = len(cmeta["model"].get("input_layer_names", [0]))
            if positions is None or len(positions) != n_inputs:
                continue
            fn = _target_fn(fx.spec, job["target_layer"])
            xs, refs = _full_inputs_and_refs(fx, cmeta, job)
            f = (lambda v: fn(v if len(v) > 1 else v[0]).numpy()
                 [:, job["task_idx"]])
            delta = f(xs) - f(refs)
            total = sum(c.reshape(len(c), -1).sum(axis=1)
                        for c in _expected_outputs(fx, conv["name"], job))
            # float32 sums of all contributions vs a float32 difference
            # of two forward passes (each of order 1): 1e-4 absolute
            np.testing.assert_allclose(total, delta, rtol=1e-3, atol=1e-4,
                                       err_msg="%s/%s" % (conv["name"],
                                                          job["name"]))
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("fixture_name",
                         _selfcheck_fixtures("hypothetical_contribs"))
def test_fixture_selfcheck_hypothetical(fixture_name):
    """At the observed base, hypothetical contribs == contribs summed."""
    fx = get_fixture(fixture_name)
    checked = 0
    for conv in fx.spec["conversions"]:
        jobs = conv["jobs"]
        for hyp in [j for j in jobs if j["kind"] == "hypothetical_contribs"]:
            for job in jobs:
                if (job["kind"] == "contribs"
                        and job["task_idx"] == hyp["task_idx"]
                        and job["references"] == hyp["references"]
                        and job["find_scores_layer"] == 0
                        and job["target_layer"] == hyp["target_layer"]):
                    x = fx.arrays[job["inputs"][0]]
                    contribs = _expected_outputs(fx, conv["name"], job)[0]
                    hyp_v = _expected_outputs(fx, conv["name"], hyp)[0]
                    # two float32 outputs of the original, equal up to
                    # float32 rounding of the same products
                    np.testing.assert_allclose(
                        (hyp_v * x).sum(-1), contribs.sum(-1),
                        rtol=1e-4, atol=1e-5)
                    checked += 1
    if not checked:
        pytest.skip("no hypothetical_contribs job with a matching contribs "
                    "job")


def test_fixture_files_are_complete():
    """Every spec has its inputs and expected files, with every output."""
    specs = _spec_files()
    assert specs, "no fixtures in " + DATA
    for path in specs:
        spec = _load_spec(path)
        assert os.path.exists(os.path.join(DATA, spec["inputs_npz"]))
        exp = os.path.join(DATA, "expected_%s.npz" % spec["name"])
        with np.load(exp) as z:
            meta = json.loads(str(z["__meta__"]))["conversions"]
            for conv in spec["conversions"]:
                for job in conv["jobs"]:
                    jm = meta[conv["name"]]["jobs"][job["name"]]
                    assert bool(job.get("expect_error")) == ("error" in jm)
                    for key in jm.get("outputs", []):
                        assert key in z.files


def test_runner_resolves_references_like_the_original():
    """build_call_args: keys -> arrays, numbers -> floats, None kept."""
    arrays = {"x": np.ones((2, 3), "float32"), "r": np.zeros((3,))}
    data, refs = runner.build_call_args(
        {"inputs": ["x"], "references": ["r"]}, arrays)
    assert data[0] is arrays["x"] and refs[0] is arrays["r"]
    data, refs = runner.build_call_args(
        {"inputs": {"a_0": "x"}, "references": {"a_0": 0.5}}, arrays)
    assert data == {"a_0": arrays["x"]} and refs == {"a_0": 0.5}
    assert runner.build_call_args({"inputs": ["x"]}, arrays)[1] is None


# --------------------------------------------------------------------------
# optional live comparison with the original on a fresh random model
# --------------------------------------------------------------------------
@pytest.mark.original
@pytest.mark.skipif(os.environ.get("DEEPLIFT_TEST_ORIGINAL") != "1",
                    reason="set DEEPLIFT_TEST_ORIGINAL=1 to run the original "
                           "(fetches deeplift==0.6.13.0 unless "
                           "DEEPLIFT_ORIGINAL_DIR is set)")
def test_live_against_original(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    _our_modules()
    L = tf_keras.layers
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.RandomState(seed)
    model = tf_keras.Sequential([
        L.InputLayer(input_shape=(30, 4)),
        L.Conv1D(5, 4, activation="relu"),
        L.AveragePooling1D(3),
        L.Flatten(),
        L.Dense(6, activation="relu"),
        L.Dense(3, activation="sigmoid")])
    model.set_weights([rng.normal(0, 0.7, w.shape).astype("float32")
                       for w in model.get_weights()])
    model.save(str(tmp_path / "m.h5"), save_format="h5")
    x = np.eye(4, dtype="float32")[rng.randint(0, 4, (6, 30))]
    np.savez(tmp_path / "inputs.npz", x=x,
             ref=rng.uniform(0, 0.5, x.shape).astype("float32"))
    convs = []
    for mode in ("Rescale", "RevealCancel", "DeepLIFT_GenomicsDefault",
                 "Gradient", "GuidedBackprop"):
        convs.append({"name": mode, "h5_file": "m.h5", "json_file": None,
                      "kwargs": {"nonlinear_mxts_mode": mode,
                                 "verbose": False},
                      "jobs": [
                          {"name": "c_ref", "kind": "contribs",
                           "find_scores_layer": 0, "target_layer": -2,
                           "task_idx": 1, "inputs": ["x"],
                           "references": ["ref"], "batch_size": 4},
                          {"name": "m_zero", "kind": "multipliers",
                           "find_scores_layer": 0, "target_layer": -2,
                           "task_idx": 2, "inputs": ["x"],
                           "references": None, "batch_size": 5}]})
    spec = {"name": "live", "inputs_npz": "inputs.npz", "conversions": convs}
    with open(tmp_path / "spec.json", "w") as f:
        json.dump(spec, f)
    proc = subprocess.run([sys.executable, RUNNER_PATH,
                           str(tmp_path / "spec.json"),
                           str(tmp_path / "out.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with np.load(tmp_path / "inputs.npz") as z:
        arrays = {k: z[k] for k in z.files}
    with np.load(tmp_path / "out.npz") as z:
        expected = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(str(z["__meta__"]))["conversions"]
    problems = []
    for conv in convs:
        problems += compare_conversion(conv, meta[conv["name"]], arrays,
                                       expected, str(tmp_path))
    assert not problems, ("seed %d\n" % seed) + "\n".join(problems)
