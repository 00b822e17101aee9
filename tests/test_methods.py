"""The method registry (deeplift.methods) and the front ends that read it."""
import subprocess
import sys

import pytest

from deeplift import methods
from tests.genomics_helpers import REPO


def test_names_aliases_and_modes():
    assert methods.names() == ("rescale", "revealcancel", "genomics_default",
                               "gradient", "guided_backprop",
                               "integrated_gradients")
    assert methods.normalize("IG") == "integrated_gradients"
    assert methods.normalize("Grad-Times-Input") == "gradient"
    assert methods.normalize("reveal cancel") == "revealcancel"
    assert methods.mode_of("genomics_default") == "DeepLIFT_GenomicsDefault"
    assert methods.get("ig").ig_steps == 20
    assert methods.get("rescale").family == methods.DEEPLIFT
    with pytest.raises(ValueError, match="unknown method 'foo'; choose from: "
                       "rescale, revealcancel"):
        methods.normalize("foo")
    with pytest.raises(ValueError, match="already registered"):
        methods.register(methods.Method("grad", "Gradient", methods.GRADIENT,
                                        "x", "x"))


def test_modes_are_nonlinear_mxts_mode_values():
    from deeplift.layers import NonlinearMxtsMode
    for m in methods.METHODS.values():
        assert m.nonlinear_mxts_mode in NonlinearMxtsMode.vals


def test_front_ends_read_the_registry():
    from deeplift import genomics
    from deeplift.cli import DEMO_METHODS, build_parser
    from deeplift.cli.common import METHOD_HELP
    assert genomics.METHODS == methods.names()
    assert all(genomics.METHOD_TO_NONLINEAR_MXTS_MODE[m.name]
               == m.nonlinear_mxts_mode for m in methods.METHODS.values())
    for m in methods.METHODS.values():
        assert "%s (%s)" % (m.name, m.help) in METHOD_HELP
    labels = {name: label for label, name, _ in DEMO_METHODS}
    assert labels["integrated_gradients"] == "integrated gradients (20 steps)"
    assert labels["rescale"] == methods.get("rescale").label
    args = build_parser().parse_args(["contribs", "m.h5", "--fasta", "x.fa",
                                      "--out", "o.npz"])
    assert args.ig_steps == methods.get("integrated_gradients").ig_steps


def test_registry_imports_no_tensorflow():
    code = ("import sys, deeplift.methods; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(REPO),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
