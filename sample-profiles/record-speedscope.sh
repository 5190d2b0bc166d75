#!/usr/bin/env bash
# Makes the speedscope samples with the real tools, from the Python workload src/py/work.py.
# Needs python3, py-spy and pyinstrument (pip install py-spy pyinstrument).
#
#   py-work.speedscope.json               py-spy `record -f speedscope`: one "sampled" profile per
#                                         Python thread, unit seconds (weights 1/rate)
#   py-work.pyinstrument.speedscope.json  pyinstrument `-r speedscope`: one "evented" profile
#                                         (open/close events, unit seconds)
#   py-work.pyinstrument.json             pyinstrument's own JSON tree of the same session: the
#                                         reference for the evented file's total time
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. sampled: py-spy at 200 Hz (small file: about 1.3 s of samples)
py-spy record -r 200 -f speedscope -o py-work.speedscope.json -- python3 src/py/work.py 100 >/dev/null

# 2. evented: pyinstrument records a session once, then renders it twice (speedscope + its JSON
#    tree), so both files describe the same run.
pyinstrument -r pyisession -o "$tmp/work.pyisession" src/py/work.py 40 >/dev/null
pyinstrument --load "$tmp/work.pyisession" -r speedscope -o py-work.pyinstrument.speedscope.json
pyinstrument --load "$tmp/work.pyisession" -r json -o py-work.pyinstrument.json

ls -l py-work.speedscope.json py-work.pyinstrument.speedscope.json py-work.pyinstrument.json
