#!/usr/bin/env python3
"""Writes the stops gdb-dump.py saved as a perf.data file, the way `perf record --call-graph
dwarf` on an aarch64 machine stores samples, and gdb's backtraces as the truth next to it.

    write-perf-data.py STOPS.jsonl BINARY RECORDED-PATH PID OUT.perf.data OUT.truth.txt

The registers and stack bytes of each sample are the real ones of the stopped process; only
the container is written here:

* file-mode header with HEADER_ARCH "aarch64", HEADER_BUILD_ID (the binary's) and
  HEADER_EVENT_DESC (one event, cpu-clock:u);
* one perf_event_attr: sample_type IP|TID|TIME|CALLCHAIN|PERIOD|REGS_USER|STACK_USER,
  sample_regs_user = x0..x30, sp, pc (perf's mask on arm64, 0x1ffffffff), stack size 8192,
  exclude_callchain_user (the kernel's callchain is empty in user space, as perf asks for);
* records: COMM (exec), MMAP2 of the binary's executable segment at RECORDED-PATH, one
  SAMPLE per stop (abi PERF_SAMPLE_REGS_ABI_64; the stack copy is 8192 bytes, of which
  dyn_size are valid: up to the end of the stack mapping), FINISHED_ROUND.
"""
import json
import struct
import sys

SAMPLE_IP = 1 << 0
SAMPLE_TID = 1 << 1
SAMPLE_TIME = 1 << 2
SAMPLE_CALLCHAIN = 1 << 5
SAMPLE_PERIOD = 1 << 8
SAMPLE_REGS_USER = 1 << 12
SAMPLE_STACK_USER = 1 << 13

REC_COMM = 3
REC_SAMPLE = 9
REC_MMAP2 = 10
REC_FINISHED_ROUND = 68
MISC_USER = 2
MISC_COMM_EXEC = 1 << 13
MISC_BUILD_ID_SIZE = 1 << 15

FEAT_BUILD_ID = 2
FEAT_ARCH = 6
FEAT_EVENT_DESC = 12

REGS_MASK = (1 << 33) - 1  # PERF_REG_ARM64_X0 .. PERF_REG_ARM64_PC
REGS_ABI_64 = 2
STACK_BYTES = 8192
PERIOD = 1_000_000  # 1 ms of cpu-clock per sample
ATTR_SIZE = 128  # PERF_ATTR_SIZE_VER7, as perf 6.x writes


def perf_string(s):
    """u32 length, then the bytes NUL-padded to a multiple of 64 (perf's NAME_ALIGN)."""
    b = s.encode() + b"\0"
    b += b"\0" * (-len(b) % 64)
    return struct.pack("<I", len(b)) + b


def record(kind, misc, body):
    assert len(body) % 8 == 0
    return struct.pack("<IHH", kind, misc, 8 + len(body)) + body


def elf_info(path):
    """(vaddr, file offset, file size) of the executable PT_LOAD and the GNU build-id."""
    d = open(path, "rb").read()
    assert d[:4] == b"\x7fELF" and d[4] == 2 and d[5] == 1, "a little-endian ELF64"
    assert struct.unpack_from("<H", d, 18)[0] == 183, "an aarch64 ELF (EM_AARCH64)"
    phoff, = struct.unpack_from("<Q", d, 32)
    phentsize, phnum = struct.unpack_from("<HH", d, 54)
    text, build_id = None, None
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", d, phoff + i * phentsize)
        if p_type == 1 and p_flags & 1 and text is None:  # PT_LOAD, PF_X
            text = (p_vaddr, p_offset, p_filesz)
        if p_type == 4:  # PT_NOTE
            pos, end = p_offset, p_offset + p_filesz
            while pos + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", d, pos)
                name_at = pos + 12
                desc_at = name_at + (namesz + 3) // 4 * 4
                if ntype == 3 and d[name_at:name_at + namesz] == b"GNU\0":  # NT_GNU_BUILD_ID
                    build_id = d[desc_at:desc_at + descsz]
                pos = desc_at + (descsz + 3) // 4 * 4
    assert text and build_id
    return text, build_id


def function_aliases(path):
    """Address -> names of the function symbols (FUNC, IFUNC) of the ELF's symbol table."""
    d = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", d, 40)
    shentsize, shnum = struct.unpack_from("<HH", d, 58)
    sections = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
    out = {}
    for _, sh_type, _, _, off, size, link, _, _, entsize in sections:
        if sh_type != 2:  # SHT_SYMTAB
            continue
        stroff = sections[link][4]
        for at in range(off, off + size, entsize):
            st_name, st_info, _, _, st_value, _ = struct.unpack_from("<IBBHQQ", d, at)
            if st_info & 0xF in (2, 10) and st_value:
                name = d[stroff + st_name:d.index(b"\0", stroff + st_name)].decode()
                out.setdefault(st_value, set()).add(name)
    return out


def main():
    stops_path, binary, recorded, pid, out_path, truth_path = sys.argv[1:]
    pid = int(pid)
    stops = [json.loads(line) for line in open(stops_path)]
    (vaddr, offset, filesz), build_id = elf_info(binary)
    page = 4096
    start = vaddr & ~(page - 1)
    end = (vaddr + filesz + page - 1) & ~(page - 1)
    pgoff = offset & ~(page - 1)
    comm = recorded.rsplit("/", 1)[-1][:15]

    data = b""
    name = comm.encode() + b"\0"
    name += b"\0" * (-len(name) % 8)
    data += record(REC_COMM, MISC_COMM_EXEC, struct.pack("<ii", pid, pid) + name)
    fname = recorded.encode() + b"\0"
    fname += b"\0" * (-len(fname) % 8)
    data += record(REC_MMAP2, MISC_USER,
                   struct.pack("<iiQQQIIQQII", pid, pid, start, end - start, pgoff,
                               0, 0, 0, 0, 5, 2)  # maj, min, ino, ino_gen; PROT_READ|EXEC, MAP_PRIVATE
                   + fname)
    time0 = 1_000_000_000
    for i, s in enumerate(stops):
        regs = s["regs"]
        assert len(regs) == 33
        stack = bytes.fromhex(s["stack"])
        body = struct.pack("<QiiQQQ", regs[32], pid, pid, time0 + i * PERIOD, PERIOD, 0)
        body += struct.pack("<Q", REGS_ABI_64) + struct.pack("<33Q", *regs)
        body += struct.pack("<Q", STACK_BYTES) + stack + b"\0" * (STACK_BYTES - len(stack))
        body += struct.pack("<Q", len(stack))
        data += record(REC_SAMPLE, MISC_USER, body)
    data += record(REC_FINISHED_ROUND, 0, b"")

    flags = (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 22) | (1 << 23) | (1 << 24)
    # exclude_kernel, exclude_hv, mmap, comm, exclude_callchain_user, mmap2, comm_exec
    # type (software), size, config (cpu-clock), sample_period, sample_type, read_format,
    # flags, wakeup_events, bp_type, config1, config2, branch_sample_type, sample_regs_user,
    # sample_stack_user; the rest zero.
    attr = struct.pack("<IIQQQQQIIQQQQI", 1, ATTR_SIZE, 0, PERIOD,
                       SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_CALLCHAIN | SAMPLE_PERIOD
                       | SAMPLE_REGS_USER | SAMPLE_STACK_USER,
                       0, flags, 0, 0, 0, 0, 0, REGS_MASK, STACK_BYTES)
    assert len(attr) == 92
    attr += b"\0" * (ATTR_SIZE - len(attr))

    bid = build_id[:20] + b"\0" * (24 - len(build_id[:20]))
    bid = bid[:20] + bytes([len(build_id)]) + bid[21:]
    bfname = recorded.encode() + b"\0"
    bfname += b"\0" * (-len(bfname) % 64)
    # build_id_event: header, pid (-1: the host), 20 id bytes + their length + padding, name.
    body = struct.pack("<i", -1) + bid + bfname
    body += b"\0" * (-(8 + len(body)) % 8)
    build_id_feat = struct.pack("<IHH", 0, MISC_USER | MISC_BUILD_ID_SIZE, 8 + len(body)) + body
    features = {
        FEAT_BUILD_ID: build_id_feat,
        FEAT_ARCH: perf_string("aarch64"),
        FEAT_EVENT_DESC: struct.pack("<II", 1, ATTR_SIZE) + attr + struct.pack("<I", 0)
        + perf_string("cpu-clock:u"),
    }

    header_size = 104
    attrs_at = header_size
    attr_entry = attr + struct.pack("<QQ", 0, 0)  # the attr and its (empty) ids section
    data_at = attrs_at + len(attr_entry)
    bitmap = 0
    for f in features:
        bitmap |= 1 << f
    table_at = data_at + len(data)
    sections_at = table_at + 16 * len(features)
    table, sections = b"", b""
    for f in sorted(features):
        table += struct.pack("<QQ", sections_at + len(sections), len(features[f]))
        sections += features[f]
    header = b"PERFILE2" + struct.pack("<QQQQQQQQ4Q", header_size, len(attr_entry),
                                       attrs_at, len(attr_entry), data_at, len(data), 0, 0,
                                       bitmap, 0, 0, 0)
    assert len(header) == header_size
    with open(out_path, "wb") as f:
        f.write(header + attr_entry + data + table + sections)

    with open(truth_path, "w") as f:
        f.write("# gdb's backtraces at the stops of aarch64-dwarf.perf.data, one block per sample in\n"
                "# file order (made by record-aarch64.sh: the program under qemu-aarch64, gdb-multiarch\n"
                "# with `set backtrace past-main on`). The header line of each block gives the stop\n"
                "# and the sampled registers.\n")
        for i, s in enumerate(stops):
            r = s["regs"]
            f.write("== sample %d: %s: pc 0x%x sp 0x%x lr 0x%x, %d stack bytes\n"
                    % (i + 1, s["stop"], r[32], r[31], r[30], len(s["stack"]) // 2))
            f.write(s["bt"])
        # gdb names a function by one of its symbols, stacklens perhaps by another at the same
        # address (glibc's fflush is also _IO_fflush): the others of each function above.
        by_name = {}
        for names in function_aliases(binary).values():
            for n in names:
                by_name[n] = names
        shown = sorted({fr["function"] for s in stops for fr in s["frames"] if fr["function"]})
        f.write("== aliases: other symbols at the address of a function above (the binary's symbol table)\n")
        for n in shown:
            others = sorted(by_name.get(n, {n}) - {n})
            if others:
                f.write("%s: %s\n" % (n, " ".join(others)))


main()
