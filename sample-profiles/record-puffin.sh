#!/bin/sh
# Makes the puffin sample with puffin's own writer, and the reference figures puffin's own
# reader gives for it. Needs cargo (the program depends on puffin 0.20 from crates.io).
#
#   app-frames.puffin               6 frames of src/puffin-capture (a toy game loop: main thread +
#                                   two workers, nested profile_function!/profile_scope! scopes,
#                                   some with data), saved by GlobalFrameView → FrameView::write
#   app-frames.puffin.expected.txt  the same file read back by puffin (FrameView::read, Reader):
#                                   per-thread sums of top-level scope durations, per-scope self times
#
# Durations are wall time (the work busy-waits on the clock), so they change on every run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/puffin-capture-target}"
cargo build --quiet --release --manifest-path src/puffin-capture/Cargo.toml
"$CARGO_TARGET_DIR/release/puffin-capture" app-frames.puffin app-frames.puffin.expected.txt 6
ls -l app-frames.puffin app-frames.puffin.expected.txt
