#!/bin/sh
# Makes the aarch64 DWARF-unwinding sample without an aarch64 machine. Needs
# gcc-aarch64-linux-gnu, qemu-user and gdb-multiarch (Debian 12 packages of those names) and
# python3; no perf, no root.
#
#   bin/unwind-aarch64                  src/aarch64/unwind.c cross-compiled: static (qemu-user
#                                       needs no sysroot), -O1 -fomit-frame-pointer -g
#   aarch64-dwarf.perf.data             the program run under `qemu-aarch64 -g`, stopped by gdb
#                                       at the points gdb-dump.py lists; at each stop the real
#                                       registers x0..x30, sp, pc and the real top of the stack
#                                       (8 KiB, or up to the end of the stack mapping) become a
#                                       SAMPLE_REGS_USER + SAMPLE_STACK_USER sample, in a
#                                       perf.data that write-perf-data.py writes the way
#                                       `perf record --call-graph dwarf` does on arm64
#                                       (HEADER_ARCH "aarch64", MMAP2 of the binary, COMM)
#   aarch64-dwarf.perf.data.truth.txt   gdb's `bt` at the same stops (past main), one block per
#                                       sample in file order, and the symbol aliases of the
#                                       functions in them: the reference for the unwinder
#
# The binary runs from a temporary directory, deleted afterwards: the recorded path exists
# nowhere, so stacklens finds the binary only in a --symbols directory (bin/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

aarch64-linux-gnu-gcc -O1 -fomit-frame-pointer -g -static -fdebug-prefix-map="$here"=. \
  -o bin/unwind-aarch64 src/aarch64/unwind.c
cp bin/unwind-aarch64 "$tmp/unwind-aarch64"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
qemu-aarch64 -g "$port" "$tmp/unwind-aarch64" >/dev/null &
pid=$!
STKL_PORT=$port STKL_SOURCE=src/aarch64/unwind.c STKL_OUT="$tmp/stops.jsonl" \
  gdb-multiarch -batch -nx -x src/aarch64/gdb-dump.py bin/unwind-aarch64 >"$tmp/gdb.log" 2>&1 ||
  { cat "$tmp/gdb.log" >&2; exit 1; }
wait "$pid"

# The process id of the samples is the one the program really ran as (qemu's).
python3 src/aarch64/write-perf-data.py "$tmp/stops.jsonl" bin/unwind-aarch64 \
  "$tmp/unwind-aarch64" "$pid" aarch64-dwarf.perf.data aarch64-dwarf.perf.data.truth.txt
ls -l bin/unwind-aarch64 aarch64-dwarf.perf.data aarch64-dwarf.perf.data.truth.txt
