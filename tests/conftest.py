import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")
if "DEEPLIFT_CACHE_DIR" not in os.environ:
    # the converted-model cache of this session (never the user's)
    import atexit
    import shutil
    import tempfile
    os.environ["DEEPLIFT_CACHE_DIR"] = tempfile.mkdtemp(
        prefix="deeplift-test-cache.")
    atexit.register(shutil.rmtree, os.environ["DEEPLIFT_CACHE_DIR"], True)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
