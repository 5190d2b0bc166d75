# gdb (gdb-multiarch) script of record-aarch64.sh: attaches to the program stopped by
# `qemu-aarch64 -g PORT`, stops at the points below and at every stop dumps what a
# `perf record --call-graph dwarf` sample holds (the user registers and the top of the user
# stack) plus gdb's own backtrace, the truth. One JSON object per stop, one per line.
#
# Environment: STKL_PORT (gdb port of qemu), STKL_SOURCE (unwind.c, for the STOP lines),
# STKL_OUT (the JSON-lines output), STKL_STACK_BYTES (the stack copy size, 8192 as perf).
import json
import os
import re
import time

import gdb

PORT = os.environ["STKL_PORT"]
SOURCE = os.environ["STKL_SOURCE"]
OUT = os.environ["STKL_OUT"]
STACK_BYTES = int(os.environ.get("STKL_STACK_BYTES", "8192"))
PAGE = 4096

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set print frame-arguments none")
# The truth goes past main, down to _start, as far as the CFI goes.
gdb.execute("set backtrace past-main on")
# qemu may not listen yet: try for a few seconds.
for attempt in range(50):
    try:
        gdb.execute("target remote :" + PORT, to_string=True)
        break
    except gdb.error:
        if attempt == 49:
            raise
        time.sleep(0.1)


def ret_address(func):
    """The address of the `ret` instruction of `func`."""
    text = gdb.execute("disassemble " + func, to_string=True)
    for line in text.splitlines():
        m = re.match(r"\s*(?:=>)?\s*(0x[0-9a-f]+) <\+\d+>:\s+ret\b", line)
        if m:
            return m.group(1)
    raise gdb.GdbError("no ret in " + func)


def stop_line(tag):
    with open(SOURCE) as f:
        for i, line in enumerate(f, 1):
            if "STOP " + tag in line:
                return i
    raise gdb.GdbError("no STOP " + tag + " line")


# (what, gdb breakpoint location)
STOPS = [
    # A leaf without a frame: the return address is only in LR (twice: from inner and from
    # the bottom of the recursion).
    ("leaf_lr", "leaf_lr"),
    # A leaf with a frame (sp moved by the local array), LR still live.
    ("leaf_frame body", "unwind.c:%d" % stop_line("leaf_frame")),
    # A non-leaf function at its first instruction (nothing saved yet) ...
    ("inner entry", "*inner"),
    # ... after `stp x19, x20, [sp, #-32]!` but before x30 is stored ...
    ("inner prologue", "*((char *)inner + 4)"),
    # ... and at its `ret`, x30 reloaded and sp restored.
    ("inner ret", "*" + ret_address("inner")),
    # Deep in libc: printf/fflush down to the write system call.
    ("libc write", "write"),
]
numbers = {}
for what, loc in STOPS:
    bp = gdb.Breakpoint(loc)
    numbers[bp.number] = what


def read_stack(sp):
    """The readable bytes from sp up, at most STACK_BYTES: what the kernel copies (it stops at
    the end of the stack mapping, as perf's dyn_size says)."""
    inf = gdb.selected_inferior()
    end = sp
    while end < sp + STACK_BYTES:
        nxt = min((end // PAGE + 1) * PAGE, sp + STACK_BYTES)
        try:
            inf.read_memory(end, nxt - end)
        except gdb.MemoryError:
            break
        end = nxt
    return bytes(inf.read_memory(sp, end - sp)) if end > sp else b""


def frames():
    out = []
    f = gdb.newest_frame()
    while f is not None:
        out.append({"pc": int(f.pc()), "function": f.name()})
        f = f.older()
    return out


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


with open(OUT, "w") as out:
    while True:
        try:
            gdb.execute("continue", to_string=True)
        except gdb.error:
            break  # the program exited
        if not gdb.selected_inferior().threads():
            break
        pc = reg("pc")
        bps = [
            numbers[b.number]
            for b in gdb.breakpoints()
            if b.number in numbers
            and any(int(loc.address or 0) == pc for loc in b.locations)
        ]
        sp = reg("sp")
        rec = {
            "stop": bps[0] if bps else "?",
            "regs": [reg("x%d" % i) for i in range(31)] + [sp, pc],
            "stack": read_stack(sp).hex(),
            "bt": gdb.execute("bt", to_string=True),
            "frames": frames(),
        }
        out.write(json.dumps(rec) + "\n")
if gdb.selected_inferior().threads():
    gdb.execute("kill", to_string=True)
