#!/usr/bin/env bash
# Build the documentation into docs/_build/html with warnings as errors.
#
#   bash scripts/build_docs.sh        # pip-installs the "docs" extra into the
#                                     # active environment, then builds
#   DOCS_NO_INSTALL=1 bash scripts/build_docs.sh   # skip the install
#
# Fails on any Sphinx warning (-W --keep-going lists them all first): a broken
# cross-reference (nitpicky, -n), a docstring that is not valid
# reStructuredText, a public name documented without a docstring, a tutorial
# cell that raises (the tutorials run at every build).  -E: a fresh
# environment every time, so that a warning is never hidden by a cached page.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

if [ -z "${DOCS_NO_INSTALL:-}" ]; then
    "$PYTHON" -m pip install -q -e ".[docs]"
fi

# The tutorials' kernel is this environment's Python ("python3" kernelspec of
# sys.prefix, found before any user-wide one) importing this checkout.
JUPYTER_PATH="$("$PYTHON" -c 'import sys; print(sys.prefix)')/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export JUPYTER_PATH
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}" DEEPLIFT_NO_PROGRESS=1
unset MPLBACKEND            # the kernel's inline backend draws the figures

rm -rf docs/_build/html docs/_build/doctrees
start=$(date +%s)
"$PYTHON" -m sphinx -b html -E -W --keep-going -n \
    -d docs/_build/doctrees docs docs/_build/html
echo "docs built in $(( $(date +%s) - start )) s: docs/_build/html/index.html"
