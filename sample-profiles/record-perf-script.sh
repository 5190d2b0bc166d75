#!/usr/bin/env bash
# Writes `perf script` text of the committed perf captures (made by record.sh), the input of
# stacklens' perf script reader. The reference for each is the capture's own
# `<capture>.perf.data.perf-report.txt` (saved by record.sh on the recording machine).
#
#   sample-profiles/record-perf-script.sh
#
#   hotpp.perf-script.txt           default fields (callchains, sym+offset, dso)
#   hot-2events.perf-script.txt     -F comm,pid,tid,time,period,event,ip,sym,dso -G: two events,
#                                   pid/tid, no callchain (one `ip sym (dso)` on the header line)
#   demo.perf-script.txt.gz         default fields, gzipped: three named threads, libc frames
#
# Needs perf (Debian: linux-perf). The captures name their binaries by the absolute paths they
# had when recorded; a private --symfs tree maps those paths to sample-profiles/bin (the program)
# and to this machine's system libraries (with their debug files, e.g. libc6-dbg), so the script
# works wherever the repository is checked out. System libraries only symbolize as recorded
# when their build-ids match (perf checks them): the committed texts were made on the recording
# machine, and the tests compare them with the perf report saved there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

symfs() { # symfs CAPTURE -> prints a fresh symfs directory for that capture
  local dir="$tmp/symfs-$1" path d
  mkdir -p "$dir/usr/lib"
  # Debug files by build-id (e.g. libc6-dbg). Linking each directory works; perf does not find
  # them through a link to /usr/lib/debug itself.
  if [ -d /usr/lib/debug/.build-id ]; then
    mkdir -p "$dir/usr/lib/debug/.build-id"
    for d in /usr/lib/debug/.build-id/*/; do
      ln -sfn "$d" "$dir/usr/lib/debug/.build-id/$(basename "$d")"
    done
  fi
  # Every mapped file (MMAP records), not only the build-id list: perf lists build-ids of
  # sampled modules only, and callers (libc's __libc_start_call_main) need symbols too.
  while read -r path; do
    case $path in
      /*) ;;
      *) continue ;; # [vdso], [kernel.kallsyms]: not files
    esac
    mkdir -p "$dir$(dirname "$path")"
    if [ -e "bin/$(basename "$path")" ] && [[ $path == */bin/* ]]; then
      ln -sfn "$here/bin/$(basename "$path")" "$dir$path"
    elif [ -e "$path" ]; then
      ln -sfn "$path" "$dir$path"
    fi
  done < <(perf script -i "$1" --show-mmap-events 2>/dev/null |
    awk '/PERF_RECORD_MMAP/ { print $NF }' | sort -u)
  echo "$dir"
}

script() { # script CAPTURE OUT [perf script options...]
  local capture=$1 out=$2
  shift 2
  perf script -i "$capture" --symfs "$(symfs "$capture")" "$@" 2>/dev/null >"$out"
}

script hotpp.perf.data hotpp.perf-script.txt
script hot-2events.perf.data hot-2events.perf-script.txt \
  -F comm,pid,tid,time,period,event,ip,sym,dso -G
script demo.perf.data "$tmp/demo.txt"
gzip -9 -n -c "$tmp/demo.txt" >demo.perf-script.txt.gz
# Folded stacks as inferno writes them (cargo install inferno; checked with 0.12.8).
inferno-collapse-perf "$tmp/demo.txt" >demo.inferno.folded

ls -l ./*.perf-script.txt*
