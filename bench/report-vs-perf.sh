#!/usr/bin/env bash
# Times `stacklens report` against `perf report` on the same ~100 MB perf.data files and prints
# the ratio, with the page-cache floor (`cat FILE > /dev/null`) for reference.
#
#   bench/report-vs-perf.sh            # REPS=5 by default; files are made once in bench/data/
#
# Files:
#   real-100mb.perf.data       `perf record -g -F 40000` of sample-profiles/bin/hot (~20 s to make)
#   generated-100mb.perf.data  sample-profiles/hot.perf.data with its samples repeated
# Runs alternate between the tools (stacklens, perf, stacklens, ...) so that machine noise hits
# both alike; the table shows medians of wall time and of peak RSS (/usr/bin/time; RSS includes
# the pages of the memory-mapped input). `perf report` is timed three ways:
#   perf-self      --no-children -g none   self only; callchains are not even read
#   perf-children  --children -g none      self and total per symbol: what `stacklens report` computes
#   perf-graph     --no-children           perf's default output with call graphs
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)"; exit 1; }

cargo build --quiet --release -p stacklens --bin stacklens
cargo build --quiet --release -p stacklens-core --example repeat_perf_data
mkdir -p bench/data
real=bench/data/real-100mb.perf.data
gen=bench/data/generated-100mb.perf.data
if [ ! -f "$real" ]; then
  echo "recording $real ..."
  perf record -q -g -F 40000 -o "$real" -- sample-profiles/bin/hot 400 >/dev/null
fi
[ -f "$gen" ] || target/release/examples/repeat_perf_data sample-profiles/hot.perf.data "$gen" 100

results=$(mktemp)
timing=$(mktemp)
trap 'rm -f "$results" "$timing"' EXIT
timeit() { # timeit TOOL FILE CMD...  -> appends "tool file seconds maxrss_kb"
  local tool=$1 file=$2; shift 2
  /usr/bin/time -o "$timing" -f "%e %M" "$@" >/dev/null 2>&1
  echo "$tool $file $(tail -n 1 "$timing")" >>"$results"
}

for f in "$real" "$gen"; do
  cat "$f" >/dev/null # warm the page cache
  for _ in $(seq "$REPS"); do
    timeit floor "$f" cat "$f"
    timeit stacklens "$f" target/release/stacklens report "$f" --no-inline
    # perf report three ways: self only without callchains (less work than stacklens does),
    # self + total like stacklens' report (--children), and the default call-graph output.
    timeit perf-self "$f" perf report -i "$f" --no-children --sort sym --stdio -g none
    timeit perf-children "$f" perf report -i "$f" --children --sort sym --stdio -g none
    timeit perf-graph "$f" perf report -i "$f" --no-children --sort sym --stdio
  done
done

python3 - "$results" <<'PY'
import os, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for tool, f, secs, rss in rows:
    by.setdefault((f, tool), []).append((float(secs), int(rss)))
tools = ["floor", "stacklens", "perf-self", "perf-children", "perf-graph"]
print(f"{'file':<28} {'MB':>5} {'tool':<14} {'wall (median)':>13} {'MB/s':>8} {'peak RSS':>9}  ratio to stacklens")
for f in dict.fromkeys(k[0] for k in by):
    mb = os.path.getsize(f) / 1e6
    med = {t: statistics.median(s for s, _ in by[(f, t)]) for t in tools}
    for tool in tools:
        wall = med[tool]
        rss = statistics.median(r for _, r in by[(f, tool)]) / 1024
        ratio = f"{wall / max(med['stacklens'], 1e-3):.2f}x the time" if tool.startswith("perf") else ""
        print(f"{os.path.basename(f):<28} {mb:5.0f} {tool:<14} {wall:11.2f} s {mb / max(wall, 1e-3):8.0f} {rss:6.0f} MB  {ratio}")
PY
