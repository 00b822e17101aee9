"""What tests/test_cli.py and tests/test_genomics.py share: the paths of
the real genomics model and data among the shared fixtures
(``../shared/fixtures`` next to the repository)."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
REAL_JSON = (FIXTURES / "keras2_real" /
             "keras2_conv1d_record_5_model_PQzyq_modelJson.json")
REAL_WEIGHTS = (FIXTURES / "keras2_real" /
                "keras2_conv1d_record_5_model_PQzyq_modelWeights.h5")
SIMDATA = FIXTURES / "genomics_sim" / "sequences.simdata.gz"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason="../shared fixtures are absent")
