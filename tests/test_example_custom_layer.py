"""The worked custom-conversion example runs and is exact."""
import importlib.util
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(os.path.dirname(HERE), "examples", "custom_layer",
                    "convert_custom_layer.py")


def test_custom_layer_example(capsys):
    spec = importlib.util.spec_from_file_location("custom_example", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ours, keras_out, scores, delta = module.main()
    np.testing.assert_allclose(ours, keras_out, atol=1e-5)
    np.testing.assert_allclose(scores.sum(axis=1), delta, atol=1e-4)
    assert "ScaledDense" in capsys.readouterr().out
