#!/bin/sh
# Records JIT code with the map that names it (needs node and perf; checked with node 20.20 on
# Debian 12, perf_event_paranoid 2 is enough for the user-space event used here).
#
#   node-jit.perf.data                  perf record -g of src/js/work.js run by node with
#                                       --perf-basic-prof: V8's generated code runs in anonymous
#                                       memory, named by the map node writes, /tmp/perf-<pid>.map
#   perf-<pid>.map                      that map, copied next to the capture (and removed from
#                                       /tmp): found in a --symbols directory by its file name
#   node-jit.perf.data.perf-report.txt  `perf report` on the capture while the map was in /tmp:
#                                       the reference for the JIT names and their sample counts
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ROUNDS=${ROUNDS:-60}
# Maps larger than this are made again with --perf-basic-prof-only-functions (JS functions only,
# no stubs and handlers): the committed samples stay small.
MAX_MAP_BYTES=1000000

record() { # record NODE-PERF-FLAG: the capture; prints the recorded process id
  # node writes a V8 log (isolate-*.log) into its working directory: the temp dir.
  (cd "$tmp" && perf record -q -g -e cpu-clock:u -F 999 -o "$here/node-jit.perf.data" \
    -- node "$1" "$here/src/js/work.js" "$ROUNDS" >/dev/null)
  perf script -i node-jit.perf.data -F pid 2>/dev/null | head -n 1 | tr -d ' '
}

pid=$(record --perf-basic-prof)
if [ "$(wc -c <"/tmp/perf-$pid.map")" -gt "$MAX_MAP_BYTES" ]; then
  rm -f "/tmp/perf-$pid.map"
  pid=$(record --perf-basic-prof-only-functions)
fi
map=/tmp/perf-$pid.map

# The reference, while perf still finds the map where the process wrote it.
perf report -i node-jit.perf.data --no-children --sort sym --stdio -n --percent-limit 0 -g none \
  2>/dev/null >node-jit.perf.data.perf-report.txt

rm -f perf-*.map ./*.perf.data.old
cp "$map" "perf-$pid.map"
rm -f "$map"
ls -l node-jit.perf.data "perf-$pid.map" node-jit.perf.data.perf-report.txt
