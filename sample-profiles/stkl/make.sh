#!/bin/sh
# Writes the .stkl test file of the current format version, and the report it must keep giving.
# Run once per released format version (VERSION in core/src/formats/stkl/mod.rs); files of older
# versions stay as they are: the tests open every one of them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
v=${1:?usage: make.sh VERSION (the format version stacklens writes)}
cargo run -q --release -- convert sample-profiles/demo.perf.data --symbols sample-profiles/bin \
    -o "sample-profiles/stkl/v$v-demo.stkl"
cargo run -q --release -- report "sample-profiles/stkl/v$v-demo.stkl" --format json \
    >"sample-profiles/stkl/v$v-demo.stkl.report.json"
