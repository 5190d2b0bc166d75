#!/usr/bin/env python3
"""Builds the malformed-file corpus in tests/corpus/files/ from the real captures in
sample-profiles/ (tests/tests/corpus.rs replays every file through `stacklens_core::load`).

Deterministic: fixed seed, no timestamps, and gzip/zstd wrappers written by hand (stored
deflate blocks, raw zstd blocks) so that the bytes do not depend on the zlib or zstd version
installed. Run it from anywhere: `python3 tests/corpus/make.py`; it deletes and rewrites
files/ and nothing else.

Each file is named `<seed>.<damage>` where <seed> says which capture it came from and <damage>
what was done to it. Damage goes to structural positions (headers, length, size and count
fields, ids), found by walking each format here, so that every file is really malformed: a
random byte flip in a sample's payload mostly yields another valid profile. Damage that still
loads cleanly (no error, no warning) is left out; EXCLUDED at the bottom says which and why.
"""

import json
import os
import random
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "..", "sample-profiles")
OUT = os.path.join(HERE, "files")
MAX_FILE = 256 * 1024

rng = random.Random(20241125)
files = {}


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


def emit(name, data, max_size=MAX_FILE):
    assert name not in files, name
    assert len(data) <= max_size, (name, len(data))
    files[name] = bytes(data)


def put(data, off, fmt, value):
    """A copy of `data` with struct `fmt` written at `off`."""
    b = bytearray(data)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def flip(data, off, mask=0x80):
    b = bytearray(data)
    b[off] ^= mask
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# Hand-made compression wrappers (stable bytes across zlib/zstd versions).


def deflate_stored(data):
    out = bytearray()
    chunks = [data[i : i + 65535] for i in range(0, len(data), 65535)] or [b""]
    for i, c in enumerate(chunks):
        out.append(1 if i == len(chunks) - 1 else 0)
        out += struct.pack("<HH", len(c), len(c) ^ 0xFFFF)
        out += c
    return bytes(out)


def gzip_wrap(data):
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    tail = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return head + deflate_stored(data) + tail


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_BLOCK = 128 * 1024


def zstd_header():
    # Frame header descriptor 0: no content size, not single-segment (so a window descriptor
    # follows), no checksum, no dictionary. Window descriptor 0x38: 2^(10+7) = 128 KiB.
    return ZSTD_MAGIC + b"\x00\x38"


def zstd_block(kind, size, last, payload):
    h = (1 if last else 0) | (kind << 1) | (size << 3)
    return struct.pack("<I", h)[:3] + payload


def zstd_wrap(data):
    out = bytearray(zstd_header())
    chunks = [data[i : i + ZSTD_BLOCK] for i in range(0, len(data), ZSTD_BLOCK)] or [b""]
    for i, c in enumerate(chunks):
        out += zstd_block(0, len(c), i == len(chunks) - 1, c)
    return bytes(out)


GIB = 1 << 30


def zstd_bomb():
    """1 GiB of zeros: 8192 RLE blocks of 128 KiB, 4 bytes each (32 KiB in all)."""
    n = GIB // ZSTD_BLOCK
    out = bytearray(zstd_header())
    for i in range(n):
        out += zstd_block(1, ZSTD_BLOCK, i == n - 1, b"\x00")
    return bytes(out)


class Bits:
    """deflate's LSB-first bit writer."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, n):
        self.acc |= value << self.n
        self.n += n
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def code(self, code, n):
        """A Huffman code, whose bits go most significant first."""
        self.put(int(format(code, f"0{n}b")[::-1], 2), n)

    def finish(self):
        if self.n:
            self.out.append(self.acc & 0xFF)
        return bytes(self.out)


def gzip_bomb():
    """A real gzip file of 1 GiB (+255 bytes) of zeros, at deflate's best ratio (1032:1): one
    dynamic-Huffman block where a match of 258 bytes at distance 1 costs two bits. About 1 MiB:
    no deflate stream of 1 GiB can be smaller, so this one file is over the 256 KB per-file
    budget (git stores it, all zero bytes, in a few KB)."""
    matches = 4161791  # 1 + 258 * matches = 1 GiB + 255
    size = 1 + 258 * matches
    w = Bits()
    w.put(1, 1)  # BFINAL
    w.put(2, 2)  # dynamic Huffman
    w.put(286 - 257, 5)  # HLIT: literal/length codes 0..285
    w.put(0, 5)  # HDIST: one distance code
    order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
    cl_len = {18: 1, 1: 2, 2: 2}  # code-length codes: 18 -> 0, 1 -> 10, 2 -> 11
    cl_code = {18: (0, 1), 1: (2, 2), 2: (3, 2)}
    w.put(18 - 4, 4)  # HCLEN: the first 18 entries of `order` (up to symbol 1)
    for sym in order[:18]:
        w.put(cl_len.get(sym, 0), 3)

    def zeros(n):
        w.code(*cl_code[18])
        w.put(n - 11, 7)

    # literal 0: 2 bits, 1..255: none, 256 (end): 2 bits, 257..284: none, 285 (258): 1 bit
    w.code(*cl_code[2])
    zeros(138)
    zeros(117)
    w.code(*cl_code[2])
    zeros(28)
    w.code(*cl_code[1])
    w.code(*cl_code[1])  # the one distance code (distance 1): 1 bit
    # canonical codes: 285 -> 0, literal 0 -> 10, 256 -> 11; distance 0 -> 0
    w.code(2, 2)
    for _ in range(matches):
        w.put(0, 2)
    w.code(3, 2)
    crc = 0
    chunk = bytes(1 << 20)
    left = size
    while left:
        n = min(left, len(chunk))
        crc = zlib.crc32(chunk[:n], crc)
        left -= n
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return head + w.finish() + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# perf.data


def perf_header(d):
    (size, attr_size, a_off, a_size, d_off, d_size) = struct.unpack_from("<QQQQQQ", d, 8)
    return dict(size=size, attr_size=attr_size, a_off=a_off, a_size=a_size, d_off=d_off, d_size=d_size)


def perf_records(d, start, end):
    """(offset, type, size) of each record between start and end."""
    out = []
    pos = start
    while pos + 8 <= end:
        typ, misc, size = struct.unpack_from("<IHH", d, pos)
        if size < 8:
            break
        out.append((pos, typ, size))
        pos += size
    return out


def perf_with_data(d, data):
    """`d` (file mode) with its data section replaced by `data`: the data size and the feature
    sections after it (absolute offsets in a table right after the data) move with it."""
    h = perf_header(d)
    end = h["d_off"] + h["d_size"]
    delta = len(data) - h["d_size"]
    b = bytearray(d[: h["d_off"]] + data + d[end:])
    struct.pack_into("<Q", b, 48, len(data))
    nfeat = bin(int.from_bytes(d[72:104], "little")).count("1")
    for i in range(nfeat):
        at = end + delta + 16 * i
        struct.pack_into("<Q", b, at, struct.unpack_from("<Q", b, at)[0] + delta)
    return bytes(b)


def perf_shrink(d, keep):
    """A valid, shorter capture: the records of the first `keep` bytes of the data section
    (perf stopped early), so that each damaged copy stays small."""
    h = perf_header(d)
    recs = perf_records(d, h["d_off"], h["d_off"] + h["d_size"])
    end = next(p for p, _, _ in recs if p >= h["d_off"] + keep)
    return perf_with_data(d, d[h["d_off"] : end])


def callchain_offset(sample_type, rec):
    """Offset of a sample's callchain `nr` inside the record (after its 8-byte header)."""
    pos = rec + 8
    for bit, size in [(16, 8), (0, 8), (1, 8), (2, 8), (3, 8), (6, 8), (9, 8), (7, 8), (8, 8)]:
        if sample_type & (1 << bit):
            pos += size
    assert sample_type & (1 << 4) == 0, "READ not handled"
    assert sample_type & (1 << 5), "no callchain"
    return pos


def pick(seq, n):
    """n elements of seq spread over it, chosen by the seeded rng."""
    seq = list(seq)
    if len(seq) <= n:
        return seq
    return sorted(rng.sample(seq, n), key=seq.index)


def perf_file_mode():
    d = perf_shrink(sample("diff-base-4.perf.data"), 6 * 1024)
    h = perf_header(d)
    seed = "perf-file"
    # header fields
    emit(f"{seed}.wrong-magic", b"PERFILE3" + d[8:])
    emit(f"{seed}.big-endian-magic", b"2ELIFREP" + d[8:])
    emit(f"{seed}.header-size-50", put(d, 8, "<Q", 50))
    emit(f"{seed}.header-size-max", put(d, 8, "<Q", 2**64 - 1))
    emit(f"{seed}.attr-size-0", put(d, 16, "<Q", 0))
    emit(f"{seed}.attr-size-max", put(d, 16, "<Q", 2**64 - 1))
    emit(f"{seed}.attr-size-3gb", put(d, 16, "<Q", 3 << 30))
    emit(f"{seed}.attrs-offset-max", put(d, 24, "<Q", 2**64 - 1))
    emit(f"{seed}.attrs-offset-past-end", put(d, 24, "<Q", len(d) + 8))
    emit(f"{seed}.attrs-size-max", put(d, 32, "<Q", 2**64 - 8))
    emit(f"{seed}.attrs-size-0", put(d, 32, "<Q", 0))
    emit(f"{seed}.data-offset-max", put(d, 40, "<Q", 2**64 - 1))
    emit(f"{seed}.data-offset-past-end", put(d, 40, "<Q", len(d) + 4096))
    emit(f"{seed}.data-offset-odd", put(d, 40, "<Q", h["d_off"] + 3))
    emit(f"{seed}.data-size-max", put(d, 48, "<Q", 2**64 - 1))
    emit(f"{seed}.data-size-past-end", put(d, 48, "<Q", h["d_size"] + 4096))
    emit(f"{seed}.feature-flags-all", d[:72] + b"\xff" * 32 + d[104:])
    # the attribute
    a = h["a_off"]
    emit(f"{seed}.attr-type-max", put(d, a, "<I", 2**32 - 1))
    emit(f"{seed}.attr-inner-size-0", put(d, a + 4, "<I", 0))
    emit(f"{seed}.attr-inner-size-max", put(d, a + 4, "<I", 2**32 - 1))
    emit(f"{seed}.attr-sample-type-all", put(d, a + 24, "<Q", 2**64 - 1))
    st = struct.unpack_from("<Q", d, a + 24)[0]
    emit(f"{seed}.attr-sample-type-no-callchain", put(d, a + 24, "<Q", st & ~(1 << 5)))
    emit(f"{seed}.attr-sample-type-read", put(d, a + 24, "<Q", st | (1 << 4)))
    ids = a + h["attr_size"] - 16
    emit(f"{seed}.attr-ids-offset-max", put(d, ids, "<Q", 2**64 - 1))
    emit(f"{seed}.attr-ids-size-max", put(d, ids + 8, "<Q", 2**64 - 8))
    # records
    recs = perf_records(d, h["d_off"], h["d_off"] + h["d_size"])
    samples = [r for r in recs if r[1] == 9]
    side = [r for r in recs if r[1] != 9]
    for i, (pos, typ, size) in enumerate(pick(side, 3) + pick(samples, 3)):
        tag = f"rec{i}-type{typ}"
        emit(f"{seed}.{tag}-size-0", put(d, pos + 6, "<H", 0))
        emit(f"{seed}.{tag}-size-4", put(d, pos + 6, "<H", 4))
        emit(f"{seed}.{tag}-size-max", put(d, pos + 6, "<H", 0xFFFF))
        emit(f"{seed}.{tag}-size-minus-8", put(d, pos + 6, "<H", size - 8))
    for i, (pos, typ, size) in enumerate(pick(samples, 4)):
        cc = callchain_offset(st, pos)
        emit(f"{seed}.sample{i}-callchain-nr-max", put(d, cc, "<Q", 2**64 - 1))
        emit(f"{seed}.sample{i}-callchain-nr-past-record", put(d, cc, "<Q", 1 << 20))
    comm = next(r for r in recs if r[1] == 3)
    b = bytearray(d)
    b[comm[0] + 16 : comm[0] + comm[2]] = b"A" * (comm[2] - 16)
    emit(f"{seed}.comm-no-nul", b)
    mmap = next(r for r in recs if r[1] == 10)
    b = bytearray(d)
    b[mmap[0] + 72 : mmap[0] + mmap[2]] = b"B" * (mmap[2] - 72)
    emit(f"{seed}.mmap2-no-nul", b)
    # feature sections: their table follows the data section
    flags = int.from_bytes(d[72:104], "little")
    table = h["d_off"] + h["d_size"]
    feats = [bit for bit in range(256) if flags >> bit & 1]
    for i, fid in enumerate(feats):
        e = table + 16 * i
        off, size = struct.unpack_from("<QQ", d, e)
        emit(f"{seed}.feature{fid}-offset-max", put(d, e, "<Q", 2**64 - 1))
        if size >= 4:
            # most features start with a u32 count or string length
            emit(f"{seed}.feature{fid}-first-u32-max", put(d, off, "<I", 2**32 - 1))
    # truncations of a bigger capture: in the header, the attributes, a record, the features
    big = sample("hot.perf.data")
    hb = perf_header(big)
    brecs = perf_records(big, hb["d_off"], hb["d_off"] + hb["d_size"])
    cuts = [8, 50, 103, hb["a_off"] + 20, hb["d_off"] + 4]
    cuts += [brecs[next(i for i, r in enumerate(brecs) if r[0] >= k)][0] + 13 for k in [4096, 16384, 32768]]
    # in the feature sections: perf_shrink first, so that the cut file stays small
    small = perf_shrink(big, 8192)
    hs = perf_header(small)
    cuts_small = [hs["d_off"] + hs["d_size"] + 8, len(small) - 3]
    for c in cuts:
        emit(f"hot.perf.data.trunc-{c}", big[:c])
    for c in cuts_small:
        emit(f"hot-8k.perf.data.trunc-{c}", small[:c])


def perf_pipe_mode():
    d = sample("hot-pipe.perf.data")
    recs = perf_records(d, 16, len(d))
    # A pipe file has no data size: cut at a record boundary it is a complete, shorter
    # capture (perf killed there). That keeps each damaged copy near 16 KB.
    end = next(p for p, _, _ in recs if p >= 16 * 1024)
    base = d[:end]
    recs = [r for r in recs if r[0] < end]
    seed = "perf-pipe"
    emit(f"{seed}.header-size-50", put(base, 8, "<Q", 50))
    emit(f"{seed}.header-size-max", put(base, 8, "<Q", 2**64 - 1))
    emit(f"{seed}.wrong-magic", b"PERFILE3" + base[8:])
    kinds = {}
    for r in recs:
        kinds.setdefault(r[1], r)
    for typ, (pos, _, size) in sorted(kinds.items()):
        tag = f"first-type{typ}"
        emit(f"{seed}.{tag}-size-0", put(base, pos + 6, "<H", 0))
        emit(f"{seed}.{tag}-size-max", put(base, pos + 6, "<H", 0xFFFF))
        emit(f"{seed}.{tag}-size-minus-8", put(base, pos + 6, "<H", size - 8))
    attr = kinds[64][0]
    emit(f"{seed}.header-attr-inner-size-max", put(base, attr + 8 + 4, "<I", 2**32 - 1))
    emit(f"{seed}.header-attr-inner-size-0", put(base, attr + 8 + 4, "<I", 0))
    emit(f"{seed}.header-attr-sample-type-all", put(base, attr + 8 + 24, "<Q", 2**64 - 1))
    st = struct.unpack_from("<Q", base, attr + 8 + 24)[0]
    samples = [r for r in recs if r[1] == 9]
    for i, (pos, _, _) in enumerate(pick(samples, 2)):
        cc = callchain_offset(st, pos)
        emit(f"{seed}.sample{i}-callchain-nr-max", put(base, cc, "<Q", 2**64 - 1))
    # cuts inside the header, a header record, a sample
    for c in [12, attr + 20, samples[0][0] + 20, samples[len(samples) // 2][0] + 9]:
        emit(f"{seed}.trunc-{c}", base[:c])


def perf_zstd():
    d = sample("hot-zstd.perf.data")
    h = perf_header(d)
    seed = "perf-zstd"
    recs = perf_records(d, h["d_off"], h["d_off"] + h["d_size"])
    comp = [r for r in recs if r[1] == 81]
    for i, (pos, _, size) in enumerate(pick(comp, 3)):
        emit(f"{seed}.compressed{i}-size-0", put(d, pos + 6, "<H", 0))
        emit(f"{seed}.compressed{i}-size-minus-64", put(d, pos + 6, "<H", size - 64))
        emit(f"{seed}.compressed{i}-size-max", put(d, pos + 6, "<H", 0xFFFF))
        mid = pos + 8 + (size - 8) // 2
        emit(f"{seed}.compressed{i}-payload-flip", flip(flip(d, mid, 0xFF), mid + 1, 0xFF))
        emit(f"{seed}.trunc-{mid}", d[:mid])
    # a compressed record whose payload is a 1 GiB zstd bomb (it fits a record: 32 KiB)
    bomb = zstd_bomb()
    pos, _, size = comp[0]
    rec = struct.pack("<IHH", 81, 0, 8 + len(bomb)) + bomb
    data = d[h["d_off"] : h["d_off"] + h["d_size"]]
    at = pos - h["d_off"]
    emit(f"{seed}.compressed-bomb-1gib", perf_with_data(d, data[:at] + rec + data[at + size :]))


# ---------------------------------------------------------------------------------------------
# protobuf (pprof)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, pos):
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, pos


def pb_decode(buf):
    """A message as a list of [field, wire type, value] (value: int or bytes)."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = read_varint(buf, pos)
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            v = buf[pos : pos + n]
            pos += n
        elif wt == 1:
            v = buf[pos : pos + 8]
            pos += 8
        elif wt == 5:
            v = buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(wt)
        out.append([f, wt, v])
    return out


def pb_encode(msg):
    out = bytearray()
    for f, wt, v in msg:
        out += varint(f << 3 | wt)
        if wt == 0:
            out += varint(v)
        elif wt == 2:
            out += varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def packed(buf):
    vals, pos = [], 0
    while pos < len(buf):
        v, pos = read_varint(buf, pos)
        vals.append(v)
    return vals


def pack(vals):
    return b"".join(varint(v) for v in vals)


def edit(msg, field, index, fn):
    """Applies fn to the index-th submessage `field` of msg (decoded, then re-encoded)."""
    seen = 0
    for e in msg:
        if e[0] == field:
            if seen == index:
                sub = pb_decode(e[2])
                fn(sub)
                e[2] = pb_encode(sub)
                return
            seen += 1
    raise KeyError(field)


def get_all(sub, field):
    """The values of a repeated integer field, packed or not."""
    out = []
    for e in sub:
        if e[0] == field:
            out += packed(e[2]) if e[1] == 2 else [e[2]]
    return out


def set_all(sub, field, vals):
    sub[:] = [e for e in sub if e[0] != field] + [[field, 2, pack(vals)]]


def set_field(sub, field, value):
    for e in sub:
        if e[0] == field:
            e[2] = value
            return
    raise KeyError(field)


def pprof():
    for name, seed in [("go-cpu.pb.gz", "go-cpu.pb"), ("go-heap.pb.gz", "go-heap.pb")]:
        gz = sample(name)
        raw = zlib.decompress(gz, 16 + 15)
        msg = pb_decode(raw)
        fields = [e[0] for e in msg]
        n_loc = fields.count(4)
        n_fn = fields.count(5)
        n_str = fields.count(6)

        def out(damage, m):
            emit(f"{seed}.gz.{damage}", gzip_wrap(pb_encode(m) if isinstance(m, list) else m))

        def clone():
            return [list(e) for e in msg]

        m = clone()
        edit(m, 2, 3, lambda s: set_all(s, 1, [999999] + get_all(s, 1)[1:]))
        out("sample-unknown-location", m)
        m = clone()
        edit(m, 2, 3, lambda s: set_all(s, 1, [0]))
        out("sample-location-0", m)
        m = clone()
        edit(m, 2, 1, lambda s: set_all(s, 2, []))
        out("sample-no-values", m)
        m = clone()
        edit(m, 2, 1, lambda s: set_all(s, 2, get_all(s, 2) * 3))
        out("sample-too-many-values", m)
        m = clone()
        for k in range(2):
            edit(m, 2, k, lambda s: set_all(s, 2, [2**63 - 1] * len(get_all(s, 2))))
        out("sample-values-max", m)
        m = clone()
        edit(m, 4, n_loc // 2, lambda s: set_field(s, 1, 0))
        out("location-id-0", m)
        m = clone()
        first_id = dict((e[0], e[2]) for e in pb_decode([e for e in msg if e[0] == 4][0][2]))[1]
        edit(m, 4, n_loc - 1, lambda s: set_field(s, 1, first_id))
        out("location-duplicate-id", m)

        def bad_line(s):
            for e in s:
                if e[0] == 4:
                    line = pb_decode(e[2])
                    set_field(line, 1, 777777)
                    e[2] = pb_encode(line)
                    return
            raise KeyError

        m = clone()
        edit(m, 4, 2, bad_line)
        out("line-unknown-function", m)
        m = clone()
        edit(m, 4, 1, lambda s: set_field(s, 2, 4444))
        out("location-unknown-mapping", m)
        m = clone()
        edit(m, 5, n_fn // 2, lambda s: set_field(s, 2, 10**9))
        out("function-name-index-past-table", m)
        m = clone()
        edit(m, 5, 0, lambda s: set_field(s, 1, 0))
        out("function-id-0", m)
        m = clone()
        edit(m, 1, 0, lambda s: set_field(s, 1, n_str + 5))
        out("sample-type-name-index-past-table", m)
        m = clone()
        m.append([14, 0, n_str + 99])
        out("default-sample-type-index-past-table", m)
        m = clone()
        edit(m, 3, 0, lambda s: set_field(s, 1, 0))
        out("mapping-id-0", m)
        # a string of 3 GB in a file of a few KB, spliced before the last string
        enc = pb_encode(msg)
        last_str = pb_encode([e for e in msg if e[0] == 6][-1:])
        at = enc.rindex(last_str)
        out("huge-string-len", enc[:at] + varint(6 << 3 | 2) + varint(3_000_000_000) + b"abc" + enc[at:])
        out("huge-string-len-u64", enc[:at] + varint(6 << 3 | 2) + varint(2**64 - 1) + enc[at:])
        out("varint-11-bytes", enc[:at] + varint(9 << 3) + b"\xff" * 10 + b"\x01" + enc[at:])
        out("wire-type-7", enc[:at] + bytes([6 << 3 | 7]) + enc[at:])
        out("field-0", enc[:at] + bytes([0 << 3 | 0, 1]) + enc[at:])
        # a sample whose packed location ids claim more bytes than the file has
        first_sample = pb_encode([e for e in msg if e[0] == 2][:1])
        at2 = enc.index(first_sample)
        out("packed-len-past-end", enc[:at2] + varint(2 << 3 | 2) + varint(6) + varint(1 << 3 | 2) + varint(1 << 30) + enc[at2 + len(first_sample) :][:0] + enc[at2:])
        # the raw protobuf cut inside a location and inside the string table
        loc_at = enc.index(pb_encode([e for e in msg if e[0] == 4][n_loc // 2 : n_loc // 2 + 1]))
        str_at = enc.index(pb_encode([e for e in msg if e[0] == 6][n_str // 2 : n_str // 2 + 1]))
        for c in [loc_at + 3, str_at + 2]:
            out(f"proto-trunc-{c}", enc[:c])
            emit(f"{seed}.raw.trunc-{c}", enc[:c])
        # the gzip stream itself: cut in its header, in the deflate data, in the trailer
        for c in [5, 12, len(gz) // 3, len(gz) // 2, len(gz) - 6]:
            emit(f"{seed}.gz.gzip-trunc-{c}", gz[:c])
        emit(f"{seed}.gz.gzip-crc-flip", flip(gz, len(gz) - 8, 0x01))
        emit(f"{seed}.gz.gzip-isize-flip", flip(gz, len(gz) - 4, 0x01))
        emit(f"{seed}.gz.gzip-deflate-flip", flip(gz, len(gz) // 2, 0xFF))
        emit(f"{seed}.gz.gzip-method-7", put(gz, 2, "<B", 7))
        emit(f"{seed}.gz.gzip-reserved-flags", put(gz, 3, "<B", 0xE0))
        emit(f"{seed}.gz.gzip-fextra-len-max", gz[:3] + b"\x04" + gz[4:10] + b"\xff\xff" + gz[10:])
        emit(f"{seed}.gz.gzip-trailing-garbage", gz + b"garbage!")
        emit(f"{seed}.gz.gzip-in-gzip", gzip_wrap(gz))
        emit(f"{seed}.gz.zstd-in-gzip", gzip_wrap(zstd_wrap(raw)))


# ---------------------------------------------------------------------------------------------
# text formats


def lines_of(data):
    return data.split(b"\n")


def replace_line(data, i, new):
    ls = lines_of(data)
    ls[i] = new
    return b"\n".join(ls)


def folded():
    for name, seed in [("py-work.folded", "py-work.folded"), ("demo.inferno.folded", "demo.folded")]:
        d = sample(name)
        ls = lines_of(d)
        i = len([x for x in ls if x]) // 2
        line = ls[i]
        stack, count = line.rsplit(b" ", 1)
        emit(f"{seed}.count-not-a-number", replace_line(d, i, stack + b" 12x4"))
        emit(f"{seed}.count-overflow", replace_line(d, i, stack + b" 99999999999999999999999"))
        emit(f"{seed}.count-negative", replace_line(d, i, stack + b" -5"))
        emit(f"{seed}.count-missing", replace_line(d, i, stack))
        emit(f"{seed}.nul-in-frame", replace_line(d, i, stack.replace(b";", b";\x00", 1) + b" " + count))
        emit(f"{seed}.invalid-utf8", replace_line(d, i, stack.replace(b";", b";\xff\xfe", 1) + b" " + count))
        emit(f"{seed}.nul-line", replace_line(d, i, b"\x00" * 16))
        at = d.index(line) + len(stack) // 2
        emit(f"{seed}.trunc-{at}", d[:at])
        emit(f"{seed}.gz.trunc-{len(d) // 2}", gzip_wrap(d)[: 10 + 5 + len(d) // 2])
        emit(f"{seed}.zst.trunc-{len(d) // 2}", zstd_wrap(d)[: len(d) // 2])
        z = bytearray(zstd_wrap(d))
        z[6] |= 0x06  # the first block's type: 3, reserved
        emit(f"{seed}.zst.reserved-block-type", z)
        emit(f"{seed}.zst.block-size-past-end", zstd_wrap(d)[:6] + zstd_block(0, 100000, True, d))
        emit(f"{seed}.gzip-in-zstd", zstd_wrap(gzip_wrap(d)))


def cut_at_blank_line(d, at):
    return d[: d.index(b"\n\n", at) + 2]


def perf_script():
    for name, seed, base_len in [
        ("hotpp.perf-script.txt", "hotpp.perf-script", 12000),
        ("hot-2events.perf-script.txt", "hot-2events.perf-script", 12000),
    ]:
        d = sample(name)
        # Both are far over the size budget; a cut at a sample boundary is a valid, shorter
        # `perf script` output (hot-2events has no blank lines: cut at a line end).
        d = cut_at_blank_line(d, base_len) if b"\n\n" in d else d[: d.index(b"\n", base_len) + 1]
        ls = lines_of(d)
        heads = [i for i, l in enumerate(ls) if l and not l.startswith(b"\t")]
        frames = [i for i, l in enumerate(ls) if l.startswith(b"\t")]
        h = heads[len(heads) // 2]
        head = ls[h]
        time_at = head.index(b":")
        # the time "5288.751838:" becomes garbage
        tstart = head.rindex(b" ", 0, time_at) + 1
        emit(f"{seed}.time-garbage", replace_line(d, h, head[:tstart] + b"52x8.7q1838" + head[time_at:]))
        emit(f"{seed}.time-overflow", replace_line(d, h, head[:tstart] + b"9" * 30 + b".0" + head[time_at:]))
        emit(f"{seed}.pid-overflow", replace_line(d, h, head.replace(b" 22", b" 99999999999999999999", 1)))
        emit(f"{seed}.header-nul", replace_line(d, h, head[:5] + b"\x00" + head[5:]))
        emit(f"{seed}.header-invalid-utf8", replace_line(d, h, head[:3] + b"\xc3\x28" + head[3:]))
        emit(f"{seed}.header-cut-after-comm", replace_line(d, h, head[: tstart - 8]))
        emit(f"{seed}.nul-line", replace_line(d, h, b"\x00" * 40))
        if frames:
            f = frames[len(frames) // 2]
            fl = ls[f]
            emit(f"{seed}.frame-addr-not-hex", replace_line(d, f, fl.replace(fl.split()[0], b"zz12qq", 1)))
            emit(f"{seed}.frame-addr-overflow", replace_line(d, f, fl.replace(fl.split()[0], b"1" * 40, 1)))
            emit(f"{seed}.frame-no-closing-paren", replace_line(d, f, fl.rstrip(b")")))
            emit(f"{seed}.frame-nul", replace_line(d, f, fl[:-3] + b"\x00" + fl[-3:]))
            emit(f"{seed}.frame-invalid-utf8", replace_line(d, f, fl.replace(b"+0x", b"\xff+0x", 1)))
            at = d.index(fl + b"\n") + len(fl) // 2
            emit(f"{seed}.trunc-{at}", d[:at])
        at = d.index(head) + len(head) // 2
        emit(f"{seed}.trunc-{at}", d[:at])
    gz = sample("demo.perf-script.txt.gz")
    for c in [3, 10, 11, len(gz) // 4, len(gz) // 2, len(gz) - 5]:
        emit(f"demo.perf-script.gz.trunc-{c}", gz[:c])
    emit("demo.perf-script.gz.crc-flip", flip(gz, len(gz) - 8, 0x10))


# ---------------------------------------------------------------------------------------------
# JSON formats


def dumps(v):
    return json.dumps(v, separators=(",", ":")).encode()


def deep(n):
    return b"[" * n + b"]" * n


def json_damage(seed, d):
    """Damage that needs no knowledge of the schema: cuts, nesting, bytes JSON forbids."""
    for frac in [0.001, 0.3, 0.77]:
        c = max(1, int(len(d) * frac))
        emit(f"{seed}.trunc-{c}", d[:c])
    emit(f"{seed}.trunc-last-byte", d[:-1] if not d.endswith(b"\n") else d.rstrip()[:-1])
    # a value nested 100 000 deep spliced in for the first number
    i = d.index(b":") + 1
    j = i
    while d[j : j + 1] in b"-0123456789.":
        j += 1
    if j > i:
        emit(f"{seed}.deep-nesting", d[:i] + deep(100_000) + d[j:])
        emit(f"{seed}.deep-objects", d[:i] + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + d[j:])
    # invalid UTF-8 and a raw NUL inside the first long string
    q = d.index(b'"', d.index(b'"name"') + 7 if b'"name"' in d else 0) + 1
    emit(f"{seed}.invalid-utf8", d[:q] + b"\xff\xfe" + d[q:])
    emit(f"{seed}.nul-in-string", d[:q] + b"\x00" + d[q:])
    emit(f"{seed}.nul-bytes", d[:q] + b"\x00" * 8 + d[q + 8 :])
    emit(f"{seed}.trailing-garbage", d.rstrip() + b"}]garbage")


def cpuprofile():
    seed = "node-work.cpuprofile"
    d = sample("node-work.cpuprofile")
    p = json.loads(d)
    json_damage(seed, d)
    nodes = p["nodes"]
    by_id = {n["id"]: n for n in nodes}
    leaf = next(n for n in reversed(nodes) if not n.get("children"))
    parent = next(n for n in nodes if leaf["id"] in n.get("children", []))

    def out(damage, fn):
        q = json.loads(d)
        fn(q, {n["id"]: n for n in q["nodes"]})
        emit(f"{seed}.{damage}", dumps(q))

    out("children-cycle-to-root", lambda q, b: b[leaf["id"]].__setitem__("children", [q["nodes"][0]["id"]]))
    out("child-is-itself", lambda q, b: b[leaf["id"]].__setitem__("children", [leaf["id"]]))
    out("child-unknown-id", lambda q, b: b[parent["id"]]["children"].append(987654))
    out("two-parents", lambda q, b: b[leaf["id"]].__setitem__("children", [q["nodes"][1]["id"]]))

    def parent_form(q, b):
        # the parent-pointer form of the format (older V8): no children, a `parent` per node,
        # with two nodes each other's parent
        for n in q["nodes"]:
            n.pop("children", None)
        for n in nodes:
            for c in n.get("children", []):
                b[c]["parent"] = n["id"]
        b[leaf["id"]]["parent"] = parent["id"]
        b[parent["id"]]["parent"] = leaf["id"]

    out("parent-cycle", parent_form)
    out("duplicate-node-id", lambda q, b: q["nodes"][-1].__setitem__("id", q["nodes"][2]["id"]))
    out("node-id-negative", lambda q, b: q["nodes"][-1].__setitem__("id", -3))
    out("node-id-string", lambda q, b: q["nodes"][-1].__setitem__("id", "7"))
    out("node-id-huge", lambda q, b: q["nodes"][-1].__setitem__("id", 2**70))
    out("node-no-callframe", lambda q, b: q["nodes"][4].pop("callFrame"))
    out("callframe-not-object", lambda q, b: q["nodes"][4].__setitem__("callFrame", 17))
    out("sample-unknown-node", lambda q, b: q["samples"].__setitem__(len(q["samples"]) // 2, 555555))
    out("sample-not-number", lambda q, b: q["samples"].__setitem__(3, "x"))
    out("time-deltas-short", lambda q, b: q.__setitem__("timeDeltas", q["timeDeltas"][: len(q["timeDeltas"]) // 2]))
    out("time-delta-huge", lambda q, b: q["timeDeltas"].__setitem__(5, 2**63))
    out("nodes-not-array", lambda q, b: q.__setitem__("nodes", {"id": 1}))
    out("samples-missing", lambda q, b: q.pop("samples"))
    out("start-after-end", lambda q, b: q.__setitem__("startTime", q["endTime"] + 10**9))
    out("no-nodes", lambda q, b: q.__setitem__("nodes", []))


def trace():
    seed = "node-trace.json"
    t = json.loads(sample("node-trace.json"))
    # The profile chunks are 90 % of the file: keep the first 4 (later chunks only add nodes
    # and samples), and every other event.
    chunks = [i for i, e in enumerate(t["traceEvents"]) if e.get("name") == "ProfileChunk"]
    t["traceEvents"] = [e for i, e in enumerate(t["traceEvents"]) if i not in chunks[4:]]
    d = dumps(t)
    json_damage(seed, d)
    t = json.loads(d)
    evs = t["traceEvents"]
    chunks = [i for i, e in enumerate(evs) if e.get("name") == "ProfileChunk"]
    begins = [i for i, e in enumerate(evs) if e.get("ph") == "B"]

    def out(damage, fn):
        q = json.loads(d)
        fn(q["traceEvents"])
        emit(f"{seed}.{damage}", dumps(q))

    def chunk_nodes(q):
        for i in chunks:
            cp = q[i]["args"]["data"].get("cpuProfile", {})
            if cp.get("nodes"):
                return cp["nodes"]
        raise KeyError

    def chunk_cycle(q):
        ns = chunk_nodes(q)
        a, b = ns[-1], ns[-2]
        a["parent"], b["parent"] = b["id"], a["id"]

    def chunk_self_parent(q):
        ns = chunk_nodes(q)
        ns[-1]["parent"] = ns[-1]["id"]

    def chunk_unknown_parent(q):
        chunk_nodes(q)[-1]["parent"] = 424242

    def chunk_unknown_sample(q):
        for i in chunks:
            s = q[i]["args"]["data"].get("cpuProfile", {}).get("samples")
            if s:
                s[len(s) // 2] = 313131
                return

    def chunk_deltas_short(q):
        for i in chunks:
            data = q[i]["args"]["data"]
            if data.get("timeDeltas"):
                data["timeDeltas"] = data["timeDeltas"][:1]
                return

    out("chunk-parent-cycle", chunk_cycle)
    out("chunk-self-parent", chunk_self_parent)
    out("chunk-unknown-parent", chunk_unknown_parent)
    out("chunk-unknown-sample", chunk_unknown_sample)
    out("chunk-deltas-short", chunk_deltas_short)
    out("chunk-duplicate-id", lambda q: chunk_nodes(q)[-1].__setitem__("id", chunk_nodes(q)[0]["id"]))
    out("event-ph-unknown", lambda q: q[len(q) // 2].__setitem__("ph", "?"))
    out("event-ts-string", lambda q: q[len(q) // 2].__setitem__("ts", "soon"))
    out("event-ts-huge", lambda q: q[len(q) // 2].__setitem__("ts", 1e300))
    out("event-not-object", lambda q: q.__setitem__(len(q) // 2, 12))
    def huge_durations(q):
        xs = [e for e in q if e.get("ph") == "X"]
        for e in xs[:3]:
            e["dur"] = 9.2e15  # µs: each fits i64 nanoseconds, their sum does not

    out("event-dur-huge", huge_durations)
    out("event-dur-negative", lambda q: next(e for e in q if e.get("ph") == "X").__setitem__("dur", -50))
    if begins:
        out("begin-without-end", lambda q: q.__delitem__(next(i for i, e in enumerate(q) if e.get("ph") == "E")))
        out("end-without-begin", lambda q: q.__delitem__(begins[0]))
    out("trace-events-not-array", lambda q: q.__setitem__(0, None))
    out("pid-string", lambda q: q[0].__setitem__("pid", "p"))


def speedscope():
    for name, seed in [
        ("py-work.speedscope.json", "py-work.speedscope"),
        ("py-work.pyinstrument.speedscope.json", "pyinstrument.speedscope"),
    ]:
        d = sample(name)
        json_damage(seed, d)
        s = json.loads(d)
        nframes = len(s["shared"]["frames"])

        def out(damage, fn):
            q = json.loads(d)
            fn(q, q["profiles"][0])
            emit(f"{seed}.{damage}", dumps(q))

        out("no-frames", lambda q, p: q["shared"].__setitem__("frames", []))
        out("frame-not-object", lambda q, p: q["shared"]["frames"].__setitem__(0, "main"))
        out("frame-no-name", lambda q, p: q["shared"]["frames"][0].pop("name"))
        out("profile-type-unknown", lambda q, p: p.__setitem__("type", "wavelet"))
        out("unit-unknown", lambda q, p: p.__setitem__("unit", "furlongs"))
        out("end-before-start", lambda q, p: p.__setitem__("endValue", p["startValue"] - 1000))
        out("profiles-not-array", lambda q, p: q.__setitem__("profiles", {"a": 1}))
        if s["profiles"][0]["type"] == "sampled":
            mid = len(s["profiles"][0]["samples"]) // 2
            out("frame-index-past-end", lambda q, p: p["samples"][mid].append(nframes))
            out("frame-index-huge", lambda q, p: p["samples"][mid].append(2**64 + 5))
            out("frame-index-negative", lambda q, p: p["samples"][mid].append(-1))
            out("frame-index-float", lambda q, p: p["samples"][mid].append(1.5))
            out("weights-short", lambda q, p: p.__setitem__("weights", p["weights"][: mid]))
            out("weight-negative", lambda q, p: p["weights"].__setitem__(mid, -7))
            # each fits i64 nanoseconds, their sum does not
            out("weights-huge", lambda q, p: p["weights"].__setitem__(slice(0, 3), [9.2e9] * 3))
            out("weight-string", lambda q, p: p["weights"].__setitem__(mid, "7"))
            out("sample-not-array", lambda q, p: p["samples"].__setitem__(mid, 7))
        else:
            evs = s["profiles"][0]["events"]
            mid = len(evs) // 2
            out("frame-index-past-end", lambda q, p: p["events"][mid].__setitem__("frame", nframes + 3))
            out("frame-index-negative", lambda q, p: p["events"][mid].__setitem__("frame", -2))
            closes = [i for i, e in enumerate(evs) if e["type"] == "C"]
            c = closes[len(closes) // 2]
            out("close-wrong-frame", lambda q, p: p["events"][c].__setitem__("frame", (evs[c]["frame"] + 1) % nframes))
            out("close-without-open", lambda q, p: p["events"].insert(0, {"type": "C", "at": 0.0, "frame": 0}))
            out("open-never-closed", lambda q, p: p["events"].__delitem__(closes[-1]))
            out("time-goes-back", lambda q, p: p["events"][mid].__setitem__("at", -5.0))
            out("event-type-unknown", lambda q, p: p["events"][mid].__setitem__("type", "X"))


# ---------------------------------------------------------------------------------------------
# puffin


def puffin():
    seed = "app-frames.puffin"
    d = sample("app-frames.puffin")
    assert d[:4] == b"PUF0"
    frames = []
    pos = 4
    while pos + 4 <= len(d) and d[pos : pos + 4] == b"PFD4":
        meta_len = struct.unpack_from("<I", d, pos + 4)[0]
        s = pos + 8 + meta_len
        streams_len = struct.unpack_from("<I", d, s)[0]
        comp = d[s + 4]
        details = s + 5 + streams_len
        det_len = struct.unpack_from("<I", d, details)[0]
        frames.append(dict(at=pos, meta=pos + 4, streams=s, comp=s + 4, details=details))
        pos = details + 4 + det_len
    assert len(frames) >= 2, frames
    emit(f"{seed}.wrong-magic", b"PUF9" + d[4:])
    for i, f in enumerate([frames[0], frames[len(frames) // 2]]):
        t = f"frame{i}"
        emit(f"{seed}.{t}-old-header", d[: f["at"]] + b"PFD2" + d[f["at"] + 4 :])
        emit(f"{seed}.{t}-bad-header", d[: f["at"]] + b"XFD4" + d[f["at"] + 4 :])
        emit(f"{seed}.{t}-meta-len-max", put(d, f["meta"], "<I", 2**32 - 1))
        emit(f"{seed}.{t}-meta-len-0", put(d, f["meta"], "<I", 0))
        emit(f"{seed}.{t}-meta-len-3gb", put(d, f["meta"], "<I", 3 << 30))
        emit(f"{seed}.{t}-streams-len-max", put(d, f["streams"], "<I", 2**32 - 1))
        emit(f"{seed}.{t}-streams-len-1", put(d, f["streams"], "<I", 1))
        emit(f"{seed}.{t}-compression-9", put(d, f["comp"], "<B", 9))
        if d[f["comp"]] == 1:
            # lz4: a u32 unpacked size, then the block
            emit(f"{seed}.{t}-lz4-size-max", put(d, f["comp"] + 1, "<I", 2**32 - 1))
            emit(f"{seed}.{t}-lz4-size-small", put(d, f["comp"] + 1, "<I", 3))
            emit(f"{seed}.{t}-lz4-block-flip", flip(d, f["comp"] + 5 + 2, 0xFF))
            emit(f"{seed}.{t}-lz4-token-max", put(d, f["comp"] + 5, "<B", 0xFF))
        emit(f"{seed}.{t}-details-len-max", put(d, f["details"], "<I", 2**32 - 1))
        emit(f"{seed}.{t}-details-len-0", put(d, f["details"], "<I", 0))
        emit(f"{seed}.{t}-details-flip", flip(d, f["details"] + 5, 0xFF))
        emit(f"{seed}.{t}-meta-flip", flip(d, f["meta"] + 4, 0xFF))
        for c in [f["meta"] + 2, f["streams"] + 2, f["comp"] + 3, f["details"] + 2]:
            emit(f"{seed}.trunc-{c}", d[:c])
    emit(f"{seed}.trunc-2", d[:2])
    emit(f"{seed}.zero-terminator-first", d[:4] + b"\0\0\0\0" + d[4:])


# ---------------------------------------------------------------------------------------------
# stkl


def stkl():
    # seeds/go-cpu.stkl (15 KB, the labelled Go CPU profile) rather than sample-profiles'
    # 47 KB v1-demo.stkl, to keep the copies small. Made with the core API:
    # `stkl::write(&load("sample-profiles/go-cpu.pb.gz", no system paths), ..)`.
    seed = "go-cpu.stkl"
    with open(os.path.join(HERE, "seeds", "go-cpu.stkl"), "rb") as f:
        d = f.read()
    n = struct.unpack_from("<I", d, 12)[0]
    secs = {}
    for i in range(n):
        e = 32 + 24 * i
        sid, esz = struct.unpack_from("<IH", d, e)
        off, ln = struct.unpack_from("<QQ", d, e + 8)
        secs[sid] = dict(entry=e, esz=esz, off=off, len=ln)
    emit(f"{seed}.wrong-magic", b"STKL\n\n\x1a\n" + d[8:])
    emit(f"{seed}.version-2", put(d, 8, "<I", 2))
    emit(f"{seed}.version-0", put(d, 8, "<I", 0))
    emit(f"{seed}.sections-1025", put(d, 12, "<I", 1025))
    emit(f"{seed}.sections-max", put(d, 12, "<I", 2**32 - 1))
    emit(f"{seed}.sections-0", put(d, 12, "<I", 0))
    emit(f"{seed}.file-len-wrong", put(d, 16, "<Q", len(d) + 8))
    emit(f"{seed}.file-len-max", put(d, 16, "<Q", 2**64 - 1))
    for sid in [1, 10, 11, 50, 70]:
        s = secs[sid]
        emit(f"{seed}.sec{sid}-offset-max", put(d, s["entry"] + 8, "<Q", 2**64 - 8))
        emit(f"{seed}.sec{sid}-offset-unaligned", put(d, s["entry"] + 8, "<Q", s["off"] + 4))
        emit(f"{seed}.sec{sid}-len-max", put(d, s["entry"] + 16, "<Q", 2**64 - 8))
        emit(f"{seed}.sec{sid}-len-past-end", put(d, s["entry"] + 16, "<Q", s["len"] + len(d)))
        emit(f"{seed}.sec{sid}-elem-size-3", put(d, s["entry"] + 4, "<H", 3))
    emit(f"{seed}.sec50-missing", put(d, secs[50]["entry"], "<I", 9999))
    emit(f"{seed}.duplicate-section", put(d, secs[51]["entry"], "<I", 50))
    par = secs[50]
    k = par["len"] // 4 // 2
    emit(f"{seed}.stack-parent-forward", put(d, par["off"] + 4 * k, "<I", k + 5))
    emit(f"{seed}.stack-parent-itself", put(d, par["off"] + 4 * k, "<I", k))
    emit(f"{seed}.stack-frame-past-end", put(d, secs[51]["off"] + 4 * k, "<I", 0x7FFFFFFF))
    emit(f"{seed}.frame-func-past-end", put(d, secs[40]["off"] + 8, "<I", 0xFFFFFFFE))
    emit(f"{seed}.sample-stack-past-end", put(d, secs[70]["off"] + 4 * 10, "<I", 0xFFFFFF00))
    so = secs[11]
    m = so["len"] // 8 // 2
    emit(f"{seed}.string-offsets-backwards", put(d, so["off"] + 8 * m, "<Q", 1))
    emit(f"{seed}.string-offset-past-data", put(d, so["off"] + 8 * m, "<Q", 2**40))
    sd = secs[10]
    data = d[sd["off"] : sd["off"] + sd["len"]]
    nonascii = next((i for i, c in enumerate(data) if c >= 0x80), None)
    emit(f"{seed}.string-invalid-utf8", flip(d, sd["off"] + sd["len"] // 2, 0x80 | 0x40))
    if nonascii is not None:
        emit(f"{seed}.string-split-utf8", put(d, so["off"] + 8, "<Q", nonascii + 1))
    emit(f"{seed}.meta-json-broken", flip(d, secs[1]["off"], 0x55))
    times = secs[71]
    emit(f"{seed}.sample-times-unsorted", put(d, times["off"] + 8 * 20, "<Q", 2**62))
    emit(f"{seed}.thread-range-reversed", put(d, secs[64]["off"], "<Q", 2**40))
    for c in [7, 20, 31, 32 + 24 * 3 + 5, secs[50]["off"] + 3, len(d) // 2, len(d) - 1]:
        emit(f"{seed}.trunc-{c}", d[:c])
    emit(f"{seed}.gz.trunc-{len(d) // 3}", gzip_wrap(d[: len(d) // 3]))


# ---------------------------------------------------------------------------------------------

# Damage that loads cleanly (no error, no warning) and so is no malformed file; checked by
# tests/tests/corpus.rs, which fails on any file that loads without a warning. Filled in by
# running the test; each entry says why the file is still a valid profile.
EXCLUDED = {
    # pprof: perf's own reader (profile.postDecode) leaves a location's mapping unset when its
    # id names no mapping, and a mapping id 0 is only an id: the frames keep their functions.
    "go-cpu.pb.gz.location-unknown-mapping": "mapping is optional",
    "go-heap.pb.gz.location-unknown-mapping": "mapping is optional",
    "go-cpu.pb.gz.mapping-id-0": "mapping ids are arbitrary",
    "go-heap.pb.gz.mapping-id-0": "mapping ids are arbitrary",
    # pprof: a sample with fewer values than sample types reads the missing ones as 0, extra
    # values are ignored (documented in the pprof reader).
    "go-cpu.pb.gz.sample-no-values": "missing values are 0",
    "go-heap.pb.gz.sample-no-values": "missing values are 0",
    "go-cpu.pb.gz.sample-too-many-values": "extra values are ignored",
    "go-heap.pb.gz.sample-too-many-values": "extra values are ignored",
    # perf script: the time anchors a header line, and perf prints headers without it
    # (`-F` without `time`): a line whose time does not parse is such a header.
    "hotpp.perf-script.time-garbage": "a header without a time field is valid",
    "hot-2events.perf-script.time-garbage": "a header without a time field is valid",
    # perf script: the dso is the last parenthesized token; a frame without `)` has no dso,
    # as perf prints frames with `-F ip,sym` only.
    "hotpp.perf-script.frame-no-closing-paren": "a frame without a dso is valid",
    # cpuprofile: `callFrame` is read leniently (a missing or non-object one is an anonymous
    # frame); `startTime`/`endTime` only bound the samples' times, which come from
    # `timeDeltas`; the reader stops at the end of the top-level object (what follows is
    # not looked at).
    "node-work.cpuprofile.callframe-not-object": "callFrame is optional",
    "node-work.cpuprofile.node-no-callframe": "callFrame is optional",
    "node-work.cpuprofile.start-after-end": "the times come from timeDeltas",
    "node-work.cpuprofile.trailing-garbage": "bytes after the top-level value are not read",
    # speedscope: the frame's name, like speedscope's own reader, defaults; the profile's
    # range is taken from the samples when endValue < startValue; negative weights are kept
    # (speedscope draws them; a diff of two profiles has them).
    "py-work.speedscope.end-before-start": "the range comes from the samples",
    "pyinstrument.speedscope.end-before-start": "the range comes from the events",
    "py-work.speedscope.frame-no-name": "the name defaults",
    "pyinstrument.speedscope.frame-no-name": "the name defaults",
    "py-work.speedscope.weight-negative": "negative weights are valid",
}


def main():
    perf_file_mode()
    perf_pipe_mode()
    perf_zstd()
    pprof()
    folded()
    perf_script()
    cpuprofile()
    trace()
    speedscope()
    puffin()
    stkl()
    emit("zeros-1gib.gz.bomb", gzip_bomb(), max_size=2 << 20)
    emit("zeros-1gib.zst.bomb", zstd_bomb())
    for name in EXCLUDED:
        files.pop(name)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    total = sum(len(v) for v in files.values())
    print(f"{len(files)} files, {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
