#!/usr/bin/env bash
# Executes notebooks/analysis.ipynb headless against one kvlab results directory.
#
#   notebooks/run.sh RESULTS_DIR [OUTPUT.ipynb]
#
# Creates the virtual environment $KVLAB_VENV (default $HOME/.cache/kvlab/venv) when missing,
# installs notebooks/requirements.txt into it (again only when it or constraints.txt changed), and
# writes the executed notebook, outputs included, to OUTPUT (default RESULTS_DIR/analysis.ipynb).
# Prints the output's path. Needs python3 >= 3.11 with the venv module (Debian: apt-get install
# python3-venv) and access to PyPI for the first install.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 RESULTS_DIR [OUTPUT.ipynb]" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -f "$1/summary.csv" ]; then
    echo "error: $1 is not a kvlab results directory (no summary.csv)" >&2
    exit 1
fi
results=$(cd "$1" && pwd)
out=${2:-$results/analysis.ipynb}
case $out in /*) ;; *) out=$PWD/$out ;; esac
venv=${KVLAB_VENV:-$HOME/.cache/kvlab/venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv" || {
        echo "error: cannot create a virtual environment (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
# Reinstall only when requirements.txt or constraints.txt changed since the last install.
stamp=$venv/.kvlab-requirements
wanted=$(cat "$here/requirements.txt" "$here/constraints.txt")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "installing notebooks/requirements.txt into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    printf '%s' "$wanted" > "$stamp"
fi

KVLAB_RESULTS=$results "$venv/bin/python" -m jupyter nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=600 "$here/analysis.ipynb" --output "$out" >&2
echo "$out"
