#!/bin/sh
# Makes the pprof samples with Go's own runtime/pprof, and the reference figures `go tool pprof`
# prints for them. Needs Go (Debian: apt-get install golang-go; checked with Go 1.19).
#
#   go-cpu.pb.gz    CPU profile of src/go/main.go (1.5 s at 100 Hz), samples labelled stage=parse|hash
#   go-heap.pb.gz   heap profile of the same run (MemProfileRate 4096): alloc/inuse objects and space
#   *.top.txt       `go tool pprof -top` of each sample type, and of the CPU profile with -tagfocus
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export GOCACHE="${GOCACHE:-/tmp/stacklens-gocache}" GO111MODULE=off GOFLAGS=-trimpath
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/go-work" src/go/main.go
"$tmp/go-work" go-cpu.pb.gz go-heap.pb.gz >/dev/null

top() { # FILE OUT [pprof options...]
    f=$1 out=$2
    shift 2
    go tool pprof -top -nodecount=100000 -nodefraction=0 -edgefraction=0 "$@" "$f" >"$out" 2>&1
}
top go-cpu.pb.gz go-cpu.pb.gz.samples.top.txt -sample_index=samples
top go-cpu.pb.gz go-cpu.pb.gz.cpu.top.txt -sample_index=cpu -unit=ns
top go-cpu.pb.gz go-cpu.pb.gz.cpu.stage=hash.top.txt -sample_index=cpu -unit=ns -tagfocus=stage=hash
for t in alloc_objects inuse_objects; do
    top go-heap.pb.gz "go-heap.pb.gz.$t.top.txt" -sample_index=$t
done
for t in alloc_space inuse_space; do
    top go-heap.pb.gz "go-heap.pb.gz.$t.top.txt" -sample_index=$t -unit=b
done
# Without -sample_index: the default sample type (pprof: the last one unless the file names one).
top go-heap.pb.gz go-heap.pb.gz.default.top.txt -unit=b
