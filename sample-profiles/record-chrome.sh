#!/bin/sh
# Makes the Chrome/V8 samples with node's own profiler and tracing (needs node; checked with
# node 20.20 / V8 11.3 on Debian 12). The reference figures the tests check are computed from
# the files themselves (sample counts per node, span durations), so no separate output is saved.
#
#   node-work.cpuprofile   node --cpu-prof of src/js/work.js (500 µs sampling interval)
#   node-trace.json        node --trace-events-enabled of the same program: V8's GC spans (B/E
#                          and X, nested), node's synchronous fs calls, and the sampled CPU
#                          profiles as Profile/ProfileChunk events (--cpu-prof makes V8 run its
#                          tracing profiler too: two profiles of the main thread)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ROUNDS=${ROUNDS:-30}

node --cpu-prof --cpu-prof-dir="$tmp/prof" --cpu-prof-name=work.cpuprofile --cpu-prof-interval 500 \
  src/js/work.js "$ROUNDS" >/dev/null
cp "$tmp/prof/work.cpuprofile" node-work.cpuprofile

# The trace's own CPU profile (category disabled-by-default-v8.cpu_profiler) is only written
# while a profiler runs, hence --cpu-prof here too (its .cpuprofile goes to the temp dir).
node --cpu-prof --cpu-prof-dir="$tmp/prof2" --cpu-prof-interval 1000 \
  --trace-events-enabled \
  --trace-event-categories v8,node.fs.sync,disabled-by-default-v8.cpu_profiler \
  --trace-event-file-pattern "$tmp/trace.json" \
  src/js/work.js "$ROUNDS" >/dev/null
cp "$tmp/trace.json" node-trace.json

chmod 644 node-work.cpuprofile node-trace.json  # node writes its profiles 0600
ls -l node-work.cpuprofile node-trace.json
