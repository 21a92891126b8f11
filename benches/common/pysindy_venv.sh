# Sourced by the PySINDy comparison scripts: makes sure $VENV (default .venv-bench) has
# pysindy==$PYSINDY_VERSION (default 2.1.0), creating the venv with ${PYTHON:-python3}.
VENV="${VENV:-.venv-bench}"
PYSINDY_VERSION="${PYSINDY_VERSION:-2.1.0}"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import pysindy, sys; sys.exit(pysindy.__version__ != '$PYSINDY_VERSION')" 2>/dev/null; then
    echo "==> installing pysindy==$PYSINDY_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "pysindy==$PYSINDY_VERSION" numpy scipy
fi
