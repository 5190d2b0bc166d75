#!/usr/bin/env bash
# Records the before/after captures of the comparison tests with the real `perf`.
#
#   sample-profiles/record-diff.sh
#
# bin/diffprog (src/diffprog.c) is a four-stage request handler. diff-base-1..4 are four runs
# of the same program (no change: a comparison of any two must find no regression);
# diff-slow is the same binary with render_page doing twice the work (the regression).
# Each run: 600 rounds, ~0.7 s of CPU, ~700 samples at 999 Hz.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin
gcc -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -o bin/diffprog src/diffprog.c
for i in 1 2 3 4; do
  perf record -q -e cpu-clock:u -F 999 -g -o diff-base-$i.perf.data -- ./bin/diffprog 600 >/dev/null
done
perf record -q -e cpu-clock:u -F 999 -g -o diff-slow.perf.data -- ./bin/diffprog 600 slow >/dev/null
# The reference: self samples per function of each capture.
for f in diff-base-*.perf.data diff-slow.perf.data; do
  perf report -i "$f" --no-children --sort sym --stdio -n --percent-limit 0 -g none \
    2>/dev/null >"$f.perf-report.txt"
done
