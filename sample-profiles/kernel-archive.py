#!/usr/bin/env python3
"""Keeps the kernel symbols a capture needs, as `perf archive` would, but only the lines used.

    kernel-archive.py CAPTURE.perf.data

writes, next to the capture:

  CAPTURE.kallsyms            the lines of the recording kernel's kallsyms (perf's build-id cache
                              copy, ~/.debug/[kernel.kallsyms]/ID/kallsyms) that name the
                              capture's kernel addresses: for each address the symbol containing
                              it and the symbol after it (where it ends), aliases included, and
                              `_text` (the KASLR reference). A lookup in this subset gives what a
                              lookup in the whole file gives, for these addresses. Tests put it in
                              a build-id cache layout to symbolize the kernel frames as on a
                              machine running another kernel.
  CAPTURE.kernel-stacks.txt   `COUNT frame;frame;...` per distinct kernel call chain (root first),
                              named by `perf script` on the recording machine: the reference.

Needs perf and the capture's kernel in perf's build-id cache (perf record puts it there).
"""
import bisect
import collections
import os
import subprocess
import sys

capture = sys.argv[1]
bids = subprocess.run(["perf", "buildid-list", "-i", capture], capture_output=True, text=True,
                      check=True).stdout.split("\n")
kernel_bid = next(l.split()[0] for l in bids if l.endswith("[kernel.kallsyms]"))
cached = os.path.expanduser(f"~/.debug/[kernel.kallsyms]/{kernel_bid}/kallsyms")
lines = open(cached).read().splitlines()

# Text symbols by address (the kinds stacklens and perf read), and every line per address.
text_kinds = {"T", "t", "W", "w"}
by_addr = collections.defaultdict(list)
text_line = None
for line in lines:
    parts = line.split()
    if len(parts) < 3:
        continue
    addr = int(parts[0], 16)
    if parts[2] == "_text":
        text_line = line
    if parts[1] in text_kinds and addr != 0:
        by_addr[addr].append(line)
starts = sorted(by_addr)

script = subprocess.run(["perf", "script", "-i", capture, "-F", "ip,sym,dso"],
                        capture_output=True, text=True, check=True).stdout
keep = set()
chains = collections.Counter()
for block in script.split("\n\n"):
    names = []
    for row in block.strip().splitlines():
        row = row.strip()
        if not row.endswith("([kernel.kallsyms])"):
            continue
        addr_hex, name = row.split()[:2]
        names.append(name)
        i = bisect.bisect_right(starts, int(addr_hex, 16)) - 1
        if i >= 0:
            keep.add(starts[i])
            if i + 1 < len(starts):
                keep.add(starts[i + 1])
    if names:
        chains[";".join(reversed(names))] += 1

with open(capture + ".kallsyms", "w") as out:
    if text_line:
        out.write(text_line + "\n")
    for a in sorted(keep):
        for line in by_addr[a]:
            out.write(line + "\n")
with open(capture + ".kernel-stacks.txt", "w") as out:
    for chain, n in sorted(chains.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"{n} {chain}\n")
