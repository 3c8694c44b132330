#!/usr/bin/env bash
# Makes sure kvlab's Python environment exists and holds notebooks/requirements.txt, then
# prints its python's path. Used by notebooks/run.sh (the analysis notebook) and by the
# report's browser check (plots/browser-check.py).
#
# The virtual environment is $KVLAB_VENV (default $HOME/.cache/kvlab/venv), created from
# ${PYTHON:-python3} when missing; requirements.txt is installed again only when it or
# constraints.txt changed. Needs python3 >= 3.11 with the venv module (Debian: apt-get install
# python3-venv) and access to PyPI for the first install.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${KVLAB_VENV:-$HOME/.cache/kvlab/venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv" || {
        echo "error: cannot create a virtual environment (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
stamp=$venv/.kvlab-requirements
wanted=$(cat "$here/requirements.txt" "$here/constraints.txt")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "installing notebooks/requirements.txt into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin/python"
