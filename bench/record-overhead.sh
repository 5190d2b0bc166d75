#!/usr/bin/env bash
# Overhead of sampling: the run time of the sample program (sample-profiles/bin/hot, two busy
# threads) alone, under `stacklens record` and under `perf record`, both at the same frequency
# with callchains. Runs alternate (alone, stacklens, perf, alone, ...) so that machine noise
# hits all three alike. The time is the program's own (GNU time around it, inside what is
# recorded), so a recorder's work after the program ends (writing, perf's build-id pass) is not
# counted; the table shows the median of each and its overhead against the program alone.
#
#   bench/record-overhead.sh          # REPS=7 UNITS=200 HZ=999 by default
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-7}
UNITS=${UNITS:-200}
HZ=${HZ:-999}
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)"; exit 1; }
cargo build --quiet --release -p stacklens --bin stacklens
bin=$PWD/target/release/stacklens
hot=$PWD/sample-profiles/bin/hot
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)"; exit 1; }
timed=(/usr/bin/time -f %e -o "$tmp/t" "$hot" "$UNITS")
run() { # run KIND: prints the program's wall time in one run
  case $1 in
    alone) "${timed[@]}" >/dev/null ;;
    stacklens) "$bin" record -F "$HZ" -o "$tmp/s.data" -- "${timed[@]}" >/dev/null 2>&1 ;;
    perf) perf record -q -e cpu-clock -F "$HZ" -g -o "$tmp/p.data" -- "${timed[@]}" >/dev/null 2>&1 ;;
  esac
  cat "$tmp/t"
}
declare -A times
for ((i = 0; i < REPS; i++)); do
  for kind in alone stacklens perf; do
    times[$kind]+="$(run $kind) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
base=$(echo "${times[alone]}" | median)
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(uname -r)"
echo "program: bin/hot $UNITS (two busy threads), $REPS runs each, alternating; $HZ Hz with callchains"
printf '%-22s %10s %10s\n' "run" "median s" "overhead"
for kind in alone stacklens perf; do
  m=$(echo "${times[$kind]}" | median)
  printf '%-22s %10.3f %9.2f%%\n' "$kind" "$m" "$(echo "($m - $base) * 100 / $base" | bc -l)"
done
echo "samples: stacklens $("$bin" report "$tmp/s.data" | sed -n 's/^# samples: \([0-9,]*\).*/\1/p'), perf $(perf report -i "$tmp/p.data" --stdio 2>/dev/null | sed -n 's/^# Samples: \([0-9KM.]*\).*/\1/p' | head -1)"
