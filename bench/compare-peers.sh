#!/usr/bin/env bash
# stacklens against the other tools that read the same files, on real captures of several sizes.
#
#   bench/compare-peers.sh                   # all sizes, REPS=3
#   SIZES="10 100" REPS=5 bench/compare-peers.sh
#
# Captures (made once, kept in bench/data/, not committed):
#   fp-10mb / fp-100mb / fp-1000mb.perf.data   perf record -g (frame pointers, user and kernel) of
#                                              zstd's multi-threaded compressor, built with frame
#                                              pointers from the zstd-sys crate's sources
#                                              (bench/src/zstdmt.c): 2 threads at level 9
#   dwarf-100mb.perf.data                      the same under --call-graph dwarf
#   fp-100mb.perf-script.txt                   `perf script` of fp-100mb.perf.data
#   heap-large.pb.gz                           a heap profile written by Go's runtime
#                                              (bench/src/pprofgen: 8^7 distinct stacks)
# The size is perf record's --max-size; the workload runs until perf stops it.
#
# Every tool runs REPS times, the tools taking turns (stacklens, peer, peer, ..., stacklens, ...)
# so that noise hits all alike; a file whose round of all tools is short gets more rounds, as
# many as fit in ROUND_BUDGET seconds (default 60), at most MAX_REPS (default 15). The table
# shows medians of wall time and peak RSS (/usr/bin/time; RSS counts the pages of a
# memory-mapped input), MB/s of input, and how many times stacklens' time each peer takes.
# "floor" is reading the file from the page cache.
# A peer that is not installed gets a row saying so (install hints below), never silence.
#
# Peers: perf report --stdio --no-children; perf script | inferno-collapse-perf
# (cargo install inferno); samply import --save-only --unstable-presymbolicate (cargo install
# samply). Note: samply 0.13.1's import ignores --unstable-presymbolicate (only `samply record`
# honours it: src/main.rs's convert_perf_data_file_to_profile never calls presymbolicate), so
# its profile names kernel frames (from kallsyms) but leaves user frames as addresses for the
# browser to symbolize later; its time does not include naming them. hotspot's perfparser
# (apt-get install hotspot) unwinds, symbolizes and writes the stream hotspot's window reads;
# go tool pprof -top (apt-get install golang-go).
#
# stacklens keeps the names it resolved for each binary in ~/.cache/stacklens/symbols, so a
# later load meeting the same files (the same binary, libc, the running kernel) reads them back
# instead of opening their DWARF: the "stacklens" row is such a load (one untimed run first
# fills the cache), "stacklens-cold" resolves everything from the binaries
# (--no-symbol-cache), as a first load of new binaries does.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
MAX_REPS=${MAX_REPS:-15}
ROUND_BUDGET=${ROUND_BUDGET:-60}
SIZES=${SIZES:-"10 100 1000"}
DATA=bench/data
mkdir -p "$DATA"
for t in perf gcc python3; do
  command -v $t >/dev/null || { echo "$t is needed"; exit 1; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)"; exit 1; }

cargo build --quiet --release -p stacklens --bin stacklens
STACKLENS=$PWD/target/release/stacklens
PERFPARSER=/usr/lib/x86_64-linux-gnu/libexec/hotspot-perfparser
export PATH="$PATH:$HOME/.cargo/bin"

# --- the workload ------------------------------------------------------------------------------
zstd_lib=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zstd-sys-*/zstd/lib 2>/dev/null | tail -n 1)
if [ ! -x "$DATA/zstdmt" ]; then
  [ -n "$zstd_lib" ] || cargo fetch --quiet
  zstd_lib=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zstd-sys-*/zstd/lib | tail -n 1)
  echo "building $DATA/zstdmt from $zstd_lib ..."
  gcc -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -pthread -DZSTD_MULTITHREAD \
    -DZSTD_DISABLE_ASM -I"$zstd_lib" -I"$zstd_lib/common" -o "$DATA/zstdmt" bench/src/zstdmt.c \
    "$zstd_lib"/common/*.c "$zstd_lib"/compress/*.c
fi
if [ ! -f "$DATA/zstd-input.bin" ]; then
  # 48 MB of this system's files: documentation, Perl modules, shared libraries.
  find /usr/share/doc /usr/share/perl /usr/lib/x86_64-linux-gnu -type f 2>/dev/null | sort |
    xargs cat 2>/dev/null | head -c 48000000 >"$DATA/zstd-input.bin" || true
fi

capture() { # capture OUT MAX-SIZE PERF-RECORD-ARGS...
  local out=$1 max=$2; shift 2
  [ -f "$out" ] && return
  echo "recording $out ($max) ..."
  # The workload loops far longer than needed; perf stops it at --max-size.
  perf record -q "$@" --max-size="$max" -o "$out" -- "$DATA/zstdmt" "$DATA/zstd-input.bin" 9 2 100000 \
    >/dev/null 2>&1 || true
  [ -s "$out" ] || { echo "perf record failed for $out"; exit 1; }
}

files=()
for s in $SIZES; do
  capture "$DATA/fp-${s}mb.perf.data" "${s}M" -g -F 25000
  files+=("$DATA/fp-${s}mb.perf.data")
done
capture "$DATA/dwarf-100mb.perf.data" 100M --call-graph dwarf,8192 -F 2000
files+=("$DATA/dwarf-100mb.perf.data")
if [ -f "$DATA/fp-100mb.perf.data" ]; then
  [ -f "$DATA/fp-100mb.perf-script.txt" ] ||
    perf script -i "$DATA/fp-100mb.perf.data" >"$DATA/fp-100mb.perf-script.txt" 2>/dev/null
  files+=("$DATA/fp-100mb.perf-script.txt")
fi
if command -v go >/dev/null; then
  if [ ! -f "$DATA/heap-large.pb.gz" ]; then
    echo "writing $DATA/heap-large.pb.gz with Go's runtime ..."
    tmp=$(mktemp -d)
    cp bench/src/pprofgen/main.go "$tmp/"
    (cd "$tmp" && go mod init pprofgen >/dev/null 2>&1 && go build -o pprofgen . && ./pprofgen 7 "$OLDPWD/$DATA/heap-large.pb.gz" >/dev/null)
    rm -rf "$tmp"
  fi
  files+=("$DATA/heap-large.pb.gz")
fi
# Reopening a capture saved as .stkl (the largest fp capture).
big=""
for s in $SIZES; do big="$DATA/fp-${s}mb.perf.data"; done
if [ -n "$big" ]; then
  # Written again by a stacklens newer than the file (the format gains optional sections).
  [ "${big%.perf.data}.stkl" -nt "$STACKLENS" ] ||
    "$STACKLENS" convert "$big" -o "${big%.perf.data}.stkl" >/dev/null
  files+=("${big%.perf.data}.stkl")
fi

# --- the tools -----------------------------------------------------------------------------------
results=$(mktemp)
timing=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$results" "$timing" "$scratch"' EXIT
missing=()
have() { # have TOOL-LABEL COMMAND: true if COMMAND exists, else remembers the label once
  command -v "$2" >/dev/null 2>&1 && return 0
  [[ " ${missing[*]} " == *" $1 "* ]] || missing+=("$1")
  return 1
}
timeit() { # timeit TOOL FILE CMD...  -> appends "tool file seconds maxrss_kb status"
  local tool=$1 file=$2 status=0 t0 t1; shift 2
  # Wall time from bash's microsecond clock (/usr/bin/time's %e has 10 ms steps); peak RSS
  # from /usr/bin/time.
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$timing" -f "%M" "$@" >/dev/null 2>"$scratch/stderr" || status=$?
  t1=$EPOCHREALTIME
  echo "$tool $file $(python3 -c "print(f'{$t1 - $t0:.4f}')") $(tail -n 1 "$timing") $status" >>"$results"
  if [ "$status" != 0 ]; then
    echo "  $tool on $file exited with $status: $(tail -n 2 "$scratch/stderr" | tr '\n' ' ')" >&2
  fi
}

run_tools() { # run_tools FILE
  local f=$1
  timeit floor "$f" cat "$f"
  timeit stacklens "$f" "$STACKLENS" report "$f"
  case "$f" in
  *.perf.data)
    timeit stacklens-cold "$f" "$STACKLENS" report --no-symbol-cache "$f"
    timeit "perf-report" "$f" perf report -i "$f" --stdio --no-children
    have inferno inferno-collapse-perf &&
      timeit "perf-script+inferno" "$f" sh -c "perf script -i '$f' 2>/dev/null | inferno-collapse-perf"
    have samply samply &&
      timeit "samply-import" "$f" samply import --save-only --unstable-presymbolicate \
        -o "$scratch/samply.json.gz" "$f"
    [ -x "$PERFPARSER" ] || have perfparser hotspot-perfparser
    [ -x "$PERFPARSER" ] &&
      timeit "hotspot-perfparser" "$f" "$PERFPARSER" --input "$f" --output "$scratch/perfparser.out"
    ;;
  *.perf-script.txt)
    have inferno inferno-collapse-perf &&
      timeit "inferno-collapse-perf" "$f" inferno-collapse-perf "$f"
    ;;
  *.pb.gz)
    have go go && timeit "go-tool-pprof-top" "$f" go tool pprof -top "$f"
    ;;
  esac
  return 0
}

for f in "${files[@]}"; do
  # Into the page cache as a fresh read leaves a file (in large folios, where the file system
  # reads ahead in them), the same for every tool and every run of this script. How the cache
  # holds a file decides what mapping it costs: the 1 GB capture took 105 ms to map and 50 ms
  # to unmap cached in 4 KiB pages, 5-14 ms and 1 ms cached in 2 MiB folios.
  python3 -c 'import os, sys; os.posix_fadvise(os.open(sys.argv[1], os.O_RDONLY), 0, 0, os.POSIX_FADV_DONTNEED)' "$f"
  cat "$f" >/dev/null
  "$STACKLENS" report "$f" >/dev/null 2>&1 || true # and stacklens' kept symbols
  # The first round tells how long one takes; files whose round is short get more rounds
  # (up to MAX_REPS, within about ROUND_BUDGET seconds): a median of 3 runs of 50 ms is mostly
  # the host's noise.
  t0=$EPOCHREALTIME
  run_tools "$f"
  reps=$(python3 -c "r = $EPOCHREALTIME - $t0; print(max($REPS, min($MAX_REPS, int($ROUND_BUDGET / max(r, 1e-3)))))")
  echo "timing $f ($reps runs per tool) ..."
  for _ in $(seq 2 "$reps"); do run_tools "$f"; done
done

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM, REPS=$REPS, MAX_REPS=$MAX_REPS, ROUND_BUDGET=$ROUND_BUDGET"
python3 - "$results" <<'PY'
import os, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for tool, f, secs, rss, status in rows:
    by.setdefault(f, {}).setdefault(tool, []).append((float(secs), int(rss), int(status)))
print(f"| file | MB | tool | runs | wall (median) | MB/s | peak RSS | stacklens is ... faster |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for f, tools in by.items():
    mb = os.path.getsize(f) / 1e6
    ours = statistics.median(s for s, _, _ in tools["stacklens"])
    peers = [statistics.median(s for s, _, _ in runs) for tool, runs in tools.items()
             if tool not in ("floor", "stacklens", "stacklens-cold")]
    for tool, runs in tools.items():
        wall = statistics.median(s for s, _, _ in runs)
        rss = statistics.median(r for _, r, _ in runs) / 1024
        failed = sum(1 for *_, st in runs if st != 0)
        note = f" ({failed} of {len(runs)} runs failed)" if failed else ""
        ratio = "" if tool in ("floor", "stacklens") else f"{wall / max(ours, 1e-3):.1f}×"
        if tool == "floor":
            ratio = f"(stacklens: {ours / max(wall, 1e-3):.1f}× the floor)"
        if tool == "stacklens-cold" and peers:
            ratio = f"(cold: {min(peers) / max(wall, 1e-3):.1f}× faster than the fastest peer)"
        print(f"| {os.path.basename(f)} | {mb:.0f} | {tool}{note} | {len(runs)} | {wall:.3f} s | {mb / max(wall, 1e-3):.0f} | {rss:.0f} MB | {ratio} |")
PY
for m in "${missing[@]}"; do
  case $m in
  inferno) echo "not installed: inferno (cargo install inferno)" ;;
  samply) echo "not installed: samply (cargo install samply)" ;;
  perfparser) echo "not installed: hotspot's perfparser (apt-get install hotspot)" ;;
  go) echo "not installed: go tool pprof (apt-get install golang-go)" ;;
  esac
done
