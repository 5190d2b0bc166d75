#!/usr/bin/env bash
# Builds the sample program and records the committed sample captures with the real `perf`.
#
#   sample-profiles/record.sh            rebuild bin/hot and re-record every capture
#
# Needs gcc, perf (Debian: linux-perf), py-spy (pip install py-spy), and permission to record (root, or
# kernel.perf_event_paranoid <= 1 for user-space-only events as used here).
# Each capture gets a `<capture>.perf-report.txt` next to it: `perf report` on the same file at
# recording time (the reference the tests compare stacklens against, since a clean machine has
# neither the build-id cache nor the absolute binary path perf would look for).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin

# -O2 with debug info, frame pointers everywhere (gcc drops them in leaf functions unless told not to).
gcc -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -pthread -o bin/hot src/hot.c
# The C++ sample: namespaces, a template member, two file-local functions of the same name.
g++ -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -o bin/hotpp \
  src/cpp/main.cpp src/cpp/a.cpp src/cpp/b.cpp
# The same program without frame pointers, for DWARF unwinding (frame-pointer walks fail on it).
gcc -O2 -g -fomit-frame-pointer -pthread -o bin/hot-nofp src/hot.c
# The off-CPU program: half its time asleep (see src/offcpu.c).
gcc -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -pthread -o bin/offcpu src/offcpu.c
# The demo profile's program (a toy build pipeline, three threads).
gcc -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -pthread -o bin/demo src/demo.c

# Slices of work: ~1 s of CPU on the main thread, ~0.5 s on the worker.
SLICES=${SLICES:-35}

rec() { # rec NAME PERF-RECORD-ARGS...   (records bin/hot)
  local name=$1; shift
  perf record -q "$@" -o "$name" -- ./bin/hot "$SLICES" >/dev/null
  report "$name"
}

report() { # the reference: self shares per symbol, with sample counts, every row
  perf report -i "$1" --no-children --sort sym --stdio -n --percent-limit 0 -g none \
    2>/dev/null >"$1.perf-report.txt"
}

# 1. frame-pointer callchains, user space only (portable: no kernel symbols needed)
rec hot.perf.data -e cpu-clock:u -F 999 -g
# 2. two events in one file: two sample types
rec hot-2events.perf.data -e cpu-clock:u -e page-faults:u -F 999 -g
# 3. zstd-compressed records (perf record -z)
rec hot-zstd.perf.data -e cpu-clock:u -F 999 -g -z
# 4. DWARF callchains of the program built without frame pointers: user registers + 4 KiB stack
#    copies per sample, low rate to stay small. perf unwinds them at report time; the call paths
#    it finds (root first, with sample counts) are the reference for stacklens' unwinder.
perf record -q -e cpu-clock:u -F 200 --call-graph dwarf,4096 -o hot-dwarf.perf.data \
  -- ./bin/hot-nofp "$SLICES" >/dev/null
report hot-dwarf.perf.data
perf report -i hot-dwarf.perf.data --no-children --no-inline --sort sym --stdio \
  -g folded,0,caller,count 2>/dev/null | grep -E '^[0-9]+ ' >hot-dwarf.perf.data.paths.txt
# Off-CPU: the stack at every switch-out (the sched_switch tracepoint, every one: -c 1, so the
# clock event gets its frequency as a term) and the switch records that say when each thread ran
# again. The program prints what it measured of itself: the reference for the off-CPU shares.
perf record -q -e 'cpu-clock/freq=999/u' -e sched:sched_switch -c 1 -g --switch-events \
  -o offcpu.perf.data -- ./bin/offcpu 60 2>offcpu.perf.data.truth.txt >/dev/null
report offcpu.perf.data
# Its kernel frames' symbols (the used lines of the recording kernel's kallsyms) and perf's
# names for them, so other machines can check kernel symbolization.
python3 ./kernel-archive.py offcpu.perf.data
# 5. pipe mode (perf record -o -): the streaming header with in-band attribute and feature
#    records. The program's own stdout must not go into the pipe, hence the `sh -c`.
perf record -q -e cpu-clock:u -F 999 -g -o - -- sh -c "./bin/hot $SLICES >/dev/null" >hot-pipe.perf.data
report hot-pipe.perf.data
# 6. the C++ program (about 0.9 s on one thread)
perf record -q -e cpu-clock:u -F 999 -g -o hotpp.perf.data -- ./bin/hotpp 80 >/dev/null
report hotpp.perf.data
# 7. the demo profile the window opens for a new user (about 1.5 s over three threads)
perf record -q -e cpu-clock:u -F 999 -g -o demo.perf.data -- ./bin/demo 30 >/dev/null
report demo.perf.data
# The per-line reference for the source view: self samples per (function, source line).
perf report -i demo.perf.data --no-children --sort sym,srcline --stdio -n --percent-limit 0 \
  -g none 2>/dev/null >demo.perf.data.srcline.txt
# A capture that loses samples (a one-page ring buffer at 50 kHz): the timeline marks when.
perf record -q -e cpu-clock:u -c 20000 -m 1 -g -o lost.perf.data -- ./bin/demo 2 >/dev/null 2>&1
perf report -i lost.perf.data --stats 2>/dev/null >lost.perf.data.stats.txt
# The per-instruction reference for the disassembly: samples per leaf `symbol+offset`.
perf script -i demo.perf.data -F ip,sym,symoff --hide-call-graph 2>/dev/null |
  awk '{print $2}' | sort | uniq -c | awk '{print $2, $1}' >demo.perf.data.symoff.txt

# 8. folded stacks from another real profiler: py-spy (pip install py-spy) on a Python workload
py-spy record -r 500 -f raw -o py-work.folded -- python3 src/py/work.py 100 >/dev/null

rm -f ./*.perf.data.old
ls -l ./*.perf.data bin/hot bin/hotpp bin/demo
