#!/usr/bin/env bash
# Executes notebooks/analysis.ipynb headless against one kvlab results directory.
#
#   notebooks/run.sh RESULTS_DIR [OUTPUT.ipynb]
#
# Runs it in kvlab's Python environment (notebooks/venv.sh makes it when missing) and writes the
# executed notebook, outputs included, to OUTPUT (default RESULTS_DIR/analysis.ipynb). Prints the
# output's path.
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
python=$("$here/venv.sh")

KVLAB_RESULTS=$results "$python" -m jupyter nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=600 "$here/analysis.ipynb" --output "$out" >&2
echo "$out"
