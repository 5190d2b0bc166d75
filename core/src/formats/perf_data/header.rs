//! The perf.data file header, event attributes and feature sections.
//!
//! File mode (`perf record -o FILE`), all little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 8  | magic `PERFILE2` |
//! | 8   | 8  | header size: 104 (file mode) or 16 (pipe mode, nothing else follows) |
//! | 16  | 8  | `attr_size`: bytes per entry of the attrs section |
//! | 24  | 16 | attrs section: offset u64, size u64 |
//! | 40  | 16 | data section: offset u64, size u64 (0 when `perf record` was killed) |
//! | 56  | 16 | event_types section (unused since 2009) |
//! | 72  | 32 | feature bitmap: 256 bits, bit N set when feature N is present |
//!
//! An attrs entry is a `perf_event_attr` (`attr_size - 16` bytes) followed by a section
//! {offset, size} of the u64 sample ids of that event. Feature sections follow the data
//! section: one {offset u64, size u64} per set bit of the bitmap, in bit order.
//!
//! `perf_event_attr` (the fields read here; later kernels append fields, `size` says how many):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 4 | type (0 hardware, 1 software, 2 tracepoint, 3 hw cache, 4 raw, 5 breakpoint) |
//! | 4  | 4 | size of the attr |
//! | 8  | 8 | config (event number within the type) |
//! | 16 | 8 | sample_period, or sample_freq when the `freq` flag is set |
//! | 24 | 8 | sample_type: bit set of the fields each SAMPLE record carries |
//! | 32 | 8 | read_format |
//! | 40 | 8 | flags (bit 5 exclude_kernel, 4 exclude_user, 10 freq, 18 sample_id_all, ...) |
//! | 72 | 8 | branch_sample_type (attr v2+) |
//! | 80 | 8 | sample_regs_user (attr v3+): which user registers a sample carries |
//! | 88 | 4 | sample_stack_user (attr v3+): bytes of user stack copied per sample |

use super::super::bytes::{Cursor, c_str, hex, u16_at, u32_at, u64_at};
use crate::{Error, Result};

pub const FORMAT: &str = "perf.data";
pub const MAGIC: &[u8; 8] = b"PERFILE2";
pub const MAGIC_BIG_ENDIAN: &[u8; 8] = b"2ELIFREP";
pub const FILE_HEADER_SIZE: u64 = 104;
pub const PIPE_HEADER_SIZE: u64 = 16;

// sample_type bits (the fields a SAMPLE record carries, in this order up to STACK_USER; the
// fields after it are not read)
pub const SAMPLE_IP: u64 = 1 << 0;
pub const SAMPLE_TID: u64 = 1 << 1;
pub const SAMPLE_TIME: u64 = 1 << 2;
pub const SAMPLE_ADDR: u64 = 1 << 3;
pub const SAMPLE_READ: u64 = 1 << 4;
pub const SAMPLE_CALLCHAIN: u64 = 1 << 5;
pub const SAMPLE_ID: u64 = 1 << 6;
pub const SAMPLE_CPU: u64 = 1 << 7;
pub const SAMPLE_PERIOD: u64 = 1 << 8;
pub const SAMPLE_STREAM_ID: u64 = 1 << 9;
pub const SAMPLE_RAW: u64 = 1 << 10;
pub const SAMPLE_BRANCH_STACK: u64 = 1 << 11;
pub const SAMPLE_REGS_USER: u64 = 1 << 12;
pub const SAMPLE_STACK_USER: u64 = 1 << 13;
pub const SAMPLE_IDENTIFIER: u64 = 1 << 16;

// read_format bits
pub const FORMAT_TOTAL_TIME_ENABLED: u64 = 1 << 0;
pub const FORMAT_TOTAL_TIME_RUNNING: u64 = 1 << 1;
pub const FORMAT_ID: u64 = 1 << 2;
pub const FORMAT_GROUP: u64 = 1 << 3;
pub const FORMAT_LOST: u64 = 1 << 4;

// attr flag bits
const FLAG_EXCLUDE_USER: u64 = 1 << 4;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_SAMPLE_ID_ALL: u64 = 1 << 18;

pub const TYPE_HARDWARE: u32 = 0;
pub const TYPE_SOFTWARE: u32 = 1;
pub const TYPE_TRACEPOINT: u32 = 2;
pub const SW_CPU_CLOCK: u64 = 0;
pub const SW_TASK_CLOCK: u64 = 1;
pub const SW_DUMMY: u64 = 9;

/// A file section: {offset, size}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub offset: u64,
    pub size: u64,
}

/// The parsed file header.
#[derive(Clone, Debug)]
pub struct FileHeader {
    pub pipe: bool,
    pub attr_size: u64,
    pub attrs: Section,
    pub data: Section,
    pub features: [u64; 4],
}

impl FileHeader {
    /// Parses the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let magic = data.get(..8).ok_or_else(|| {
            Error::at(
                FORMAT,
                0,
                format!(
                    "expected the 8-byte magic PERFILE2, the file has {} bytes",
                    data.len()
                ),
            )
        })?;
        if magic == MAGIC_BIG_ENDIAN {
            return Err(Error::at(
                FORMAT,
                0,
                "the little-endian magic PERFILE2, found 2ELIFREP: perf.data recorded on a \
                 big-endian machine; stacklens reads little-endian perf.data only",
            ));
        }
        if magic != MAGIC {
            return Err(Error::at(FORMAT, 0, "expected the magic PERFILE2"));
        }
        let size = u64_at(data, 8)
            .ok_or_else(|| Error::at(FORMAT, 8, "expected the header size (8 bytes)"))?;
        if size == PIPE_HEADER_SIZE {
            return Ok(Self {
                pipe: true,
                attr_size: 0,
                attrs: Section::default(),
                data: Section::default(),
                features: [0; 4],
            });
        }
        if size < FILE_HEADER_SIZE {
            return Err(Error::at(
                FORMAT,
                8,
                format!("expected header size 16 (pipe) or 104 (file), found {size}"),
            ));
        }
        let mut c = Cursor::new(FORMAT, data, 0);
        c.pos = 16;
        let attr_size = c.u64("attr_size")?;
        let attrs = Section {
            offset: c.u64("attrs offset")?,
            size: c.u64("attrs size")?,
        };
        let data_sec = Section {
            offset: c.u64("data offset")?,
            size: c.u64("data size")?,
        };
        let _event_types = Section {
            offset: c.u64("event_types offset")?,
            size: c.u64("event_types size")?,
        };
        let mut features = [0u64; 4];
        for f in &mut features {
            *f = c.u64("feature bitmap")?;
        }
        Ok(Self {
            pipe: false,
            attr_size,
            attrs,
            data: data_sec,
            features,
        })
    }

    /// Feature ids whose bit is set, in bit order.
    pub fn feature_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..256u32).filter(|&b| self.features[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }
}

/// One event of the file (`perf_event_attr` plus its name and sample ids).
#[derive(Clone, Debug, Default)]
pub struct Attr {
    pub type_: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    pub branch_sample_type: u64,
    /// Bit set of the user registers each sample carries (`--call-graph dwarf`).
    pub sample_regs_user: u64,
    pub name: Option<String>,
    pub ids: Vec<u64>,
    /// Where its samples' fields are, when that is the same for every sample.
    pub layout: Option<SampleLayout>,
}

/// The offsets of a sample's fields when its sample type puts every field the parser reads at
/// a fixed offset: nothing of variable size before the callchain (`SAMPLE_READ`), nothing the
/// parser reads after it (raw data, branch stack, user registers and stack). Offset 0 (the
/// record header) means the sample has no such field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleLayout {
    pub ip: u16,
    pub tid: u16,
    pub time: u16,
    pub period: u16,
    /// The callchain's entry count; its entries follow.
    pub callchain: u16,
    /// The fixed fields' end: a shorter record is damaged.
    pub min_len: u16,
}

impl SampleLayout {
    /// The layout of samples of `sample_type`, if their fields are at fixed offsets.
    pub fn of(sample_type: u64) -> Option<Self> {
        let st = sample_type;
        let variable =
            SAMPLE_READ | SAMPLE_RAW | SAMPLE_BRANCH_STACK | SAMPLE_REGS_USER | SAMPLE_STACK_USER;
        if st & variable != 0 {
            return None;
        }
        let mut l = SampleLayout::default();
        let mut pos = 8u16;
        // The kernel's order, as in the general decoder.
        for (bit, slot) in [
            (SAMPLE_IDENTIFIER, None),
            (SAMPLE_IP, Some(&mut l.ip)),
            (SAMPLE_TID, Some(&mut l.tid)),
            (SAMPLE_TIME, Some(&mut l.time)),
            (SAMPLE_ADDR, None),
            (SAMPLE_ID, None),
            (SAMPLE_STREAM_ID, None),
            (SAMPLE_CPU, None),
            (SAMPLE_PERIOD, Some(&mut l.period)),
            (SAMPLE_CALLCHAIN, Some(&mut l.callchain)),
        ] {
            if st & bit != 0 {
                if let Some(slot) = slot {
                    *slot = pos;
                }
                pos += 8;
            }
        }
        l.min_len = pos;
        Some(l)
    }
}

impl Attr {
    /// Parses a `perf_event_attr` from `data` (as many fields as `data` holds).
    pub fn parse(data: &[u8], offset: u64) -> Result<Self> {
        if data.len() < 64 {
            return Err(Error::at(
                FORMAT,
                offset,
                format!(
                    "expected a perf_event_attr of at least 64 bytes, found {}",
                    data.len()
                ),
            ));
        }
        let declared = u32_at(data, 4).unwrap_or(0) as usize;
        let d = if declared >= 64 && declared < data.len() {
            &data[..declared]
        } else {
            data
        };
        let g = |pos: usize| u64_at(d, pos).unwrap_or(0);
        Ok(Self {
            type_: u32_at(d, 0).unwrap_or(0),
            config: g(8),
            sample_period: g(16),
            sample_type: g(24),
            read_format: g(32),
            flags: g(40),
            branch_sample_type: g(72),
            sample_regs_user: g(80),
            name: None,
            ids: Vec::new(),
            layout: SampleLayout::of(g(24)),
        })
    }

    pub fn sample_id_all(&self) -> bool {
        self.flags & FLAG_SAMPLE_ID_ALL != 0
    }

    pub fn is_dummy(&self) -> bool {
        self.type_ == TYPE_SOFTWARE && self.config == SW_DUMMY
    }

    /// True for events whose period is in nanoseconds (cpu-clock, task-clock).
    pub fn is_clock(&self) -> bool {
        self.type_ == TYPE_SOFTWARE && (self.config == SW_CPU_CLOCK || self.config == SW_TASK_CLOCK)
    }

    /// Offset of a sample record's pid and tid, if its samples carry them (they come before
    /// every field of variable size).
    pub fn sample_tid_offset(&self) -> Option<usize> {
        let t = self.sample_type;
        (t & SAMPLE_TID != 0).then(|| {
            8 + [SAMPLE_IDENTIFIER, SAMPLE_IP]
                .iter()
                .filter(|&&b| t & b != 0)
                .count()
                * 8
        })
    }

    /// Size in bytes of the `sample_id` trailer that non-sample records carry.
    pub fn sample_id_size(&self) -> usize {
        if !self.sample_id_all() {
            return 0;
        }
        let t = self.sample_type;
        [
            SAMPLE_TID,
            SAMPLE_TIME,
            SAMPLE_ID,
            SAMPLE_STREAM_ID,
            SAMPLE_CPU,
            SAMPLE_IDENTIFIER,
        ]
        .iter()
        .filter(|&&b| t & b != 0)
        .count()
            * 8
    }

    /// Offset of the time inside the `sample_id` trailer.
    pub fn sample_id_time_offset(&self) -> Option<usize> {
        if !self.sample_id_all() || self.sample_type & SAMPLE_TIME == 0 {
            return None;
        }
        Some(if self.sample_type & SAMPLE_TID != 0 {
            8
        } else {
            0
        })
    }

    /// Number of u64 words of a read_format value in a sample.
    pub fn read_words(&self, data: &[u8], pos: usize) -> Option<usize> {
        let f = self.read_format;
        let opt = |bit| usize::from(f & bit != 0);
        let head = 1 + opt(FORMAT_TOTAL_TIME_ENABLED) + opt(FORMAT_TOTAL_TIME_RUNNING);
        if f & FORMAT_GROUP != 0 {
            // nr is read from the (untrusted) record: every step is checked.
            let nr = usize::try_from(u64_at(data, pos)?).ok()?;
            let per = 1 + opt(FORMAT_ID) + opt(FORMAT_LOST);
            head.checked_add(nr.checked_mul(per)?)
        } else {
            Some(head + opt(FORMAT_ID) + opt(FORMAT_LOST))
        }
    }

    /// The event name perf would show: from EVENT_DESC when present, else from type and config
    /// plus perf's `:u`/`:k` modifiers.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let base = match (self.type_, self.config) {
            (TYPE_HARDWARE, c) => match c {
                0 => "cycles".to_string(),
                1 => "instructions".into(),
                2 => "cache-references".into(),
                3 => "cache-misses".into(),
                4 => "branches".into(),
                5 => "branch-misses".into(),
                6 => "bus-cycles".into(),
                7 => "stalled-cycles-frontend".into(),
                8 => "stalled-cycles-backend".into(),
                9 => "ref-cycles".into(),
                c => format!("hardware-{c}"),
            },
            (TYPE_SOFTWARE, c) => match c {
                0 => "cpu-clock".to_string(),
                1 => "task-clock".into(),
                2 => "page-faults".into(),
                3 => "context-switches".into(),
                4 => "cpu-migrations".into(),
                5 => "minor-faults".into(),
                6 => "major-faults".into(),
                7 => "alignment-faults".into(),
                8 => "emulation-faults".into(),
                9 => "dummy".into(),
                10 => "bpf-output".into(),
                11 => "cgroup-switches".into(),
                c => format!("software-{c}"),
            },
            (TYPE_TRACEPOINT, c) => format!("tracepoint-{c}"),
            (t, c) => format!("event-{t}-{c:#x}"),
        };
        let (u, k, h) = (
            self.flags & FLAG_EXCLUDE_USER != 0,
            self.flags & FLAG_EXCLUDE_KERNEL != 0,
            self.flags & FLAG_EXCLUDE_HV != 0,
        );
        match (u, k, h) {
            (false, true, true) => format!("{base}:u"),
            (true, false, true) => format!("{base}:k"),
            _ => base,
        }
    }
}

/// Feature section ids (perf's `HEADER_*`).
pub mod feature {
    pub const BUILD_ID: u32 = 2;
    pub const HOSTNAME: u32 = 3;
    pub const OSRELEASE: u32 = 4;
    pub const VERSION: u32 = 5;
    pub const ARCH: u32 = 6;
    pub const NRCPUS: u32 = 7;
    pub const CPUDESC: u32 = 8;
    pub const CMDLINE: u32 = 11;
    pub const EVENT_DESC: u32 = 12;
    pub const SAMPLE_TIME: u32 = 21;
    pub const COMPRESSED: u32 = 27;
    /// Highest feature id perf 6.x defines; higher ids are counted as unknown.
    pub const LAST_KNOWN: u32 = 31;
}

/// What the feature sections say.
#[derive(Clone, Debug, Default)]
pub struct Features {
    pub hostname: Option<String>,
    pub os_release: Option<String>,
    pub version: Option<String>,
    pub arch: Option<String>,
    pub nr_cpus: Option<u32>,
    pub cpu_desc: Option<String>,
    pub cmdline: Option<String>,
    /// (name, ids) per event, in attr order.
    pub event_desc: Vec<(String, Vec<u64>)>,
    /// (path, build-id hex) per binary perf saw samples in.
    pub build_ids: Vec<(String, String)>,
    pub sample_time: Option<(u64, u64)>,
    pub compressed: Option<u32>,
    /// Feature sections stacklens does not know.
    pub unknown: u32,
}

/// A perf header string: u32 length, then that many bytes (NUL padded).
fn perf_string(c: &mut Cursor<'_>) -> Result<String> {
    let len = c.u32("string length")? as usize;
    let bytes = c.bytes(len, "string bytes")?;
    Ok(c_str(bytes).into_owned())
}

impl Features {
    /// Parses feature `id` from its section bytes (`base` is their file offset).
    pub fn parse_one(&mut self, id: u32, data: &[u8], base: u64) -> Result<()> {
        let mut c = Cursor::new(FORMAT, data, base);
        match id {
            feature::HOSTNAME => self.hostname = Some(perf_string(&mut c)?),
            feature::OSRELEASE => self.os_release = Some(perf_string(&mut c)?),
            feature::VERSION => self.version = Some(perf_string(&mut c)?),
            feature::ARCH => self.arch = Some(perf_string(&mut c)?),
            feature::CPUDESC => self.cpu_desc = Some(perf_string(&mut c)?),
            feature::NRCPUS => {
                let _available = c.u32("nr_cpus_available")?;
                self.nr_cpus = Some(c.u32("nr_cpus_online")?);
            }
            feature::CMDLINE => {
                let nr = c.u32("cmdline argument count")?;
                let mut args = Vec::new();
                for _ in 0..nr {
                    args.push(perf_string(&mut c)?);
                }
                self.cmdline = Some(args.join(" "));
            }
            feature::EVENT_DESC => {
                let nr = c.u32("event count")?;
                let attr_size = c.u32("attr size")? as usize;
                for _ in 0..nr {
                    c.bytes(attr_size, "perf_event_attr")?;
                    let nr_ids = c.u32("id count")? as usize;
                    let name = perf_string(&mut c)?;
                    let ids = c.bytes(nr_ids.saturating_mul(8), "event ids")?;
                    let ids = ids.chunks_exact(8).filter_map(|w| u64_at(w, 0)).collect();
                    self.event_desc.push((name, ids));
                }
            }
            feature::BUILD_ID => {
                while c.remaining() >= 8 {
                    let at = c.pos;
                    let size = u16_at(data, at + 6).unwrap_or(0) as usize;
                    if size < 36 || at + size > data.len() {
                        return Err(Error::at(
                            FORMAT,
                            c.offset(),
                            format!(
                                "expected a build-id record of at least 36 bytes, found size {size}"
                            ),
                        ));
                    }
                    if let Some(e) = parse_build_id_event(&data[at..at + size]) {
                        self.build_ids.push(e);
                    }
                    c.pos += size;
                }
            }
            feature::SAMPLE_TIME => {
                self.sample_time = Some((c.u64("first sample time")?, c.u64("last sample time")?));
            }
            feature::COMPRESSED => {
                let _version = c.u32("compression version")?;
                self.compressed = Some(c.u32("compression type")?);
            }
            id if id > feature::LAST_KNOWN || id == 0 => self.unknown += 1,
            _ => {}
        }
        Ok(())
    }
}

/// A `build_id_event` (feature section entry or pipe-mode record): (file name, build-id hex).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0  | 8  | record header (type, misc, size) |
/// | 8  | 4  | pid |
/// | 12 | 20 | build-id bytes |
/// | 32 | 1  | build-id length when misc bit 15 is set (else 20) |
/// | 36 | .. | file name, NUL padded to `size` |
pub fn parse_build_id_event(rec: &[u8]) -> Option<(String, String)> {
    let misc = u16_at(rec, 4)?;
    let id = rec.get(12..32)?;
    let len = if misc & (1 << 15) != 0 {
        (*rec.get(32)? as usize).min(20)
    } else {
        20
    };
    let mut id = &id[..len];
    if misc & (1 << 15) == 0 {
        // Old files pad short build-ids with zeros.
        while let [rest @ .., 0] = id {
            id = rest;
        }
    }
    let name = c_str(rec.get(36..)?).into_owned();
    if name.is_empty() || id.is_empty() {
        return None;
    }
    Some((name, hex(id)))
}
