"""Randomised differential test against the original deeplift 0.6.13.

``tests/data/original/differential/`` holds a CI-sized sample made by
``python scripts/differential_sweep.py --seeds 0:5 --examples 10
--fixture``: five random Keras-2 models (one of each family of
``tests/reference/random_models.py``: dense, conv1d, conv2d, functional
branches with Concatenate, and issue 12's Dense/BatchNorm/ReLU/tanh
model), their inputs and references, and the original's outputs for the
five modes (run under ``tensorflow.compat.v1`` in its own process).  Each
conversion is compared here: the divergence (max |ours - original| / max
|original| per returned array) must stay below 1e-4.

The larger run's summary is ``scripts/differential_results.md``.
``test_live_random_case`` (``DEEPLIFT_TEST_ORIGINAL=1``) runs the original
on a fresh random model (fetches deeplift==0.6.13.0 unless
``DEEPLIFT_ORIGINAL_DIR`` is set).
"""
import importlib.util
import json
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "data", "original", "differential")
SPEC = os.path.join(FIXTURE, "spec_differential.json")
EXPECTED = os.path.join(FIXTURE, "expected_differential.npz")
LIMIT = 1e-4


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


differential = _load("_deeplift_differential",
                     os.path.join(HERE, "reference", "differential.py"))

with open(SPEC) as _f:
    _SPEC = json.load(_f)


def _problems(records):
    out = []
    for r in records:
        if r["problem"]:
            out.append("%s %s: %s" % (r["conversion"], r["job"],
                                      r["problem"]))
        elif differential.relative(r) > LIMIT:
            out.append("%s: divergence %.3g (max |diff| %.3g, scale %.3g)"
                       % (r["key"], differential.relative(r), r["err"],
                          r["scale"]))
    return out


@pytest.mark.parametrize("conversion",
                         [c["name"] for c in _SPEC["conversions"]])
def test_random_model_matches_original(conversion):
    records = differential.compare(SPEC, EXPECTED, conversions=[conversion])
    assert len(records) == 3          # contribs x 2 references, multipliers
    assert all(r["scale"] > 0 for r in records)
    problems = _problems(records)
    assert not problems, "\n".join(problems)


def test_sample_covers_every_family_and_mode():
    families = {case["family"] for case in _SPEC["cases"]}
    assert families == set(differential.random_models.FAMILIES)
    modes = {c["kwargs"]["nonlinear_mxts_mode"] for c in _SPEC["conversions"]}
    assert modes == set(differential.random_models.MODES)


def test_fixture_is_what_the_generator_makes(tmp_path):
    """The committed models and inputs are the generator's (seeded)
    output, so the sample can be regenerated and extended."""
    pytest.importorskip("tf_keras")
    import h5py
    for info in _SPEC["cases"][:2]:
        files, arrays, new_info = differential.random_models.random_case(
            info["seed"], str(tmp_path), family=info["family"], n=10)
        assert new_info == info
        with np.load(os.path.join(FIXTURE, _SPEC["inputs_npz"])) as z:
            for key, value in arrays.items():
                np.testing.assert_array_equal(z[key], value)
        with h5py.File(os.path.join(FIXTURE, files["h5_file"]), "r") as a, \
                h5py.File(str(tmp_path / files["h5_file"]), "r") as b:
            weights_a, weights_b = [], []
            a["model_weights"].visititems(
                lambda n, o: weights_a.append((n, o[()]))
                if isinstance(o, h5py.Dataset) else None)
            b["model_weights"].visititems(
                lambda n, o: weights_b.append((n, o[()]))
                if isinstance(o, h5py.Dataset) else None)
            assert [n for n, _ in weights_a] == [n for n, _ in weights_b]
            for (_, wa), (_, wb) in zip(weights_a, weights_b):
                np.testing.assert_array_equal(wa, wb)


@pytest.mark.original
@pytest.mark.skipif(os.environ.get("DEEPLIFT_TEST_ORIGINAL") != "1",
                    reason="set DEEPLIFT_TEST_ORIGINAL=1 to run the original "
                           "(fetches deeplift==0.6.13.0 unless "
                           "DEEPLIFT_ORIGINAL_DIR is set)")
def test_live_random_case(tmp_path):
    """A fresh random model.  Where a sigmoid/tanh unit's input difference
    is exactly zero, Rescale multipliers (not contributions) of inputs
    equal to their reference differ from 0.6.13 on purpose (f'(r) vs
    0.6.13's f'(f(r)), scripts/differential_results.md): such a seed is
    reported, not a regression."""
    pytest.importorskip("tf_keras")
    seed = int.from_bytes(os.urandom(3), "little")
    spec = differential.write_cases([seed], str(tmp_path))
    expected = str(tmp_path / "expected.npz")
    differential.run_original(spec, expected)
    problems = _problems(differential.compare(spec, expected))
    assert not problems, ("seed %d\n" % seed) + "\n".join(problems)
