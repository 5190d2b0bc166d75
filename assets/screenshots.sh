#!/usr/bin/env bash
# Remakes the README's pictures: the window at 1280x800 under Xvfb, one per view.
#
#   assets/screenshots.sh        (needs Xvfb, xdotool, imagemagick's `import`, perf)
#
# The heat map and timeline pictures use a 6-second recording of the demo program made here
# (not committed: it is regenerated, like every capture, by a script).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p stacklens
bin=$PWD/target/release/stacklens
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
Xvfb :98 -screen 0 1280x800x24 -nolisten tcp &
sleep 1
export DISPLAY=:98 XDG_RUNTIME_DIR=$tmp HOME=$tmp/home
mkdir -p "$HOME"

long=$tmp/demo-6s.perf.data
perf record -q -e cpu-clock:u -F 999 -g -o "$long" -- sample-profiles/bin/demo 180 >/dev/null

shot() { # shot PNG PROFILE [ARGS...]: the window itself, once loaded
  local png=$1; shift
  "$bin" "$@" --screenshot "assets/$png" 2>/dev/null
}
shot view-flame.png sample-profiles/demo.perf.data
shot view-inverted.png sample-profiles/demo.perf.data --view inverted
shot view-call-tree.png sample-profiles/demo.perf.data --view tree
shot view-caller-callee.png sample-profiles/demo.perf.data --view sandwich
shot view-sunburst.png sample-profiles/demo.perf.data --view sunburst
shot view-spans.png sample-profiles/app-frames.puffin
shot view-source.png sample-profiles/demo.perf.data --view source

# Interactive ones: drag on the timeline / heat map, then take the screen.
live() { # live PNG ACTIONS PROFILE [ARGS...]
  local png=$1 actions=$2; shift 2
  "$bin" "$@" & local pid=$!
  sleep 4
  eval "$actions"
  sleep 1.5
  import -window root "assets/$png"
  kill $pid; wait $pid 2>/dev/null || true
}
drag() { # drag X0 Y0 X1 Y1
  xdotool mousemove "$1" "$2" mousedown 1
  for i in 1 2 3 4 5 6; do xdotool mousemove $(( $1 + ($3 - $1) * i / 6 )) $(( $2 + ($4 - $2) * i / 6 )); sleep 0.05; done
  xdotool mouseup 1
}
live view-timeline.png "drag 700 140 950 140" "$long"
live view-heat-map.png "drag 360 355 470 420" "$long" --view heat-map
live view-disassembly.png "xdotool mousemove 405 354 click 1; sleep 1; xdotool mousemove 1000 200" \
  sample-profiles/demo.perf.data --view source
# A comparison: render_page does twice the work after (sample-profiles/record-diff.sh).
base=sample-profiles/diff-base-1.perf.data slow=sample-profiles/diff-slow.perf.data
live compare-differential.png "xdotool mousemove 900 583" diff "$base" "$slow"
live compare-side-by-side.png "xdotool mousemove 140 87 click 1; sleep 0.5; xdotool mousemove 939 583" \
  diff "$base" "$slow"
# A live session: bin/hot launched and recorded, 4 s in.
live view-live.png "xdotool mousemove 1270 20" record --gui -o "$tmp/live.stkl" -- sample-profiles/bin/hot 400
ls -la assets/*.png
