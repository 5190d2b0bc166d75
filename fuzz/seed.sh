#!/bin/sh
# Fills fuzz/corpus/<target>/ with the seed inputs of each fuzz target: the small real captures
# of sample-profiles/ (unpacked where the parser reads unpacked bytes; files of 200 KB or
# more are left out, they slow every run down), the committed binaries for symbolize_elf,
# and the minimized crashers of tests/fuzz-regressions/. Safe to run again: it only adds.
set -eu
cd "$(dirname "$0")"
S=../sample-profiles
R=../tests/fuzz-regressions
MAX=204800

# copy TARGET FILE...: each file under MAX bytes into corpus/TARGET.
copy() {
    t=$1
    shift
    mkdir -p "corpus/$t"
    for f in "$@"; do
        [ -f "$f" ] || continue
        if [ "$(wc -c <"$f")" -lt "$MAX" ]; then
            cp "$f" "corpus/$t/$(basename "$f")"
        fi
    done
}

# gunzip_to TARGET FILE.gz: the unpacked file into corpus/TARGET.
gunzip_to() {
    mkdir -p "corpus/$1"
    out="corpus/$1/$(basename "$2" .gz)"
    gzip -dc "$2" >"$out"
    if [ "$(wc -c <"$out")" -ge "$MAX" ]; then
        rm "$out"
    fi
}

# head_records TARGET FILE N: the first N records (blank-line separated) of a text capture too
# big to copy whole, into corpus/TARGET.
head_records() {
    mkdir -p "corpus/$1"
    out="corpus/$1/$(basename "$2" .gz).head"
    gzip -dcf "$2" | awk -v n="$3" '/^$/ { if (++r == n) exit } { print }' >"$out"
}

copy perf_data "$S"/*.perf.data
copy perf_script "$S"/*.perf-script.txt
gunzip_to perf_script "$S/demo.perf-script.txt.gz"
# Call chains, C++ names, three threads: the start of the two big ones.
head_records perf_script "$S/hotpp.perf-script.txt" 60
head_records perf_script "$S/demo.perf-script.txt.gz" 60
gunzip_to pprof "$S/go-cpu.pb.gz"
gunzip_to pprof "$S/go-heap.pb.gz"
copy folded "$S"/*.folded
copy chrome "$S"/*.cpuprofile "$S"/node-trace.json
copy speedscope "$S"/*.speedscope.json
copy puffin "$S"/*.puffin
copy stkl "$S"/stkl/*.stkl
copy symbolize_elf "$S"/bin/*

for d in "$R"/*/; do
    [ -d "$d" ] || continue
    copy "$(basename "$d")" "$d"*
done

for d in corpus/*/; do
    echo "$d: $(ls "$d" | wc -l) files"
done
