//! The columnar tables of a profile.
//!
//! Each table is a struct of equal-length `Vec`s (struct of arrays): a row is an index, and a
//! pass over one column touches only that column's memory. Tables are filled by the
//! [`ProfileBuilder`](super::ProfileBuilder), which deduplicates rows, and are read-only in a
//! frozen [`Profile`](super::Profile).

use super::column::Column;
use super::ids::*;
use serde::{Deserialize, Serialize};

/// What a module is; decides how its addresses are symbolized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModuleKind {
    /// An ELF executable or shared library on disk.
    Native,
    /// The kernel image (`[kernel.kallsyms]`); addresses are absolute.
    Kernel,
    /// The vDSO page the kernel maps into each process.
    Vdso,
    /// Anonymous executable memory (JIT code).
    Jit,
    /// A module whose addresses could not be attributed to any mapping.
    Unknown,
    /// Not backed by machine code (interpreted or instrumented frames).
    Virtual,
}

/// Modules: binaries, shared libraries, the kernel. From MMAP records or pprof mappings.
#[derive(Clone, Debug, Default)]
pub struct ModuleTable {
    /// Full path as recorded (e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`).
    pub path: Vec<StrId>,
    /// File name: the last path component; part of a function's identity across profiles.
    pub name: Vec<StrId>,
    /// Build-id as lowercase hex, or `StrId::NONE`.
    pub build_id: Vec<StrId>,
    /// Start address of the first mapping seen (runtime address).
    pub start: Vec<u64>,
    /// End address of the first mapping seen.
    pub end: Vec<u64>,
    /// File offset of the first mapping seen.
    pub file_offset: Vec<u64>,
    pub kind: Vec<ModuleKind>,
}

impl ModuleTable {
    pub fn len(&self) -> usize {
        self.path.len()
    }
    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
    }
}

/// What kind of code a function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FuncKind {
    Native,
    Kernel,
    Jit,
    Interpreted,
    Instrumented,
    /// An address that could not be symbolized; the name is `module+0xoffset`.
    Unresolved,
}

/// Functions. Identity within a profile is (name, module, file, address): the address tells
/// apart same-named functions that only their symbols distinguish (two `static` helpers in a
/// binary without DWARF). Across profiles (for diffs) it is (name, module file name).
#[derive(Clone, Debug, Default)]
pub struct FuncTable {
    pub name: Vec<StrId>,
    /// `ModuleId::NONE` for functions without a module (folded stacks, interpreted code).
    pub module: Vec<ModuleId>,
    /// Source file, or `StrId::NONE`.
    pub file: Vec<StrId>,
    /// First line of the function, 0 when unknown.
    pub start_line: Vec<u32>,
    /// Start of the function's symbol in its module's address space (an ELF virtual address,
    /// an absolute kernel address), 0 when unknown (inlined functions, names from text formats).
    pub address: Vec<u64>,
    pub kind: Vec<FuncKind>,
}

impl FuncTable {
    pub fn len(&self) -> usize {
        self.name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

/// Frames: one row per distinct code location.
///
/// An address frame from a native profile starts with `func == FuncId::NONE` and an address
/// relative to its module (a file offset for ELF modules, the absolute address for the kernel);
/// symbolization replaces it by one frame per inline level: `inline_depth` 0 is the outermost
/// (the real, non-inlined function), deeper levels are functions inlined into it.
#[derive(Clone, Debug, Default)]
pub struct FrameTable {
    pub func: Vec<FuncId>,
    pub module: Vec<ModuleId>,
    pub address: Vec<u64>,
    /// Source line, 0 when unknown.
    pub line: Vec<u32>,
    pub inline_depth: Vec<u16>,
}

impl FrameTable {
    pub fn len(&self) -> usize {
        self.func.len()
    }
    pub fn is_empty(&self) -> bool {
        self.func.is_empty()
    }
}

/// The stacks of the whole profile as one prefix tree.
///
/// Row `s` is the stack `parent[s]` with `frame[s]` called on top of it; a root has parent
/// `StackId::NONE`. Rows are only ever added after their parent, so `parent[s] < s` always: a
/// single reverse pass over the rows folds every child into its parent, without recursion and
/// without building child lists.
#[derive(Clone, Debug, Default)]
pub struct StackTable {
    pub parent: Column<StackId>,
    pub frame: Column<FrameId>,
}

impl StackTable {
    pub fn len(&self) -> usize {
        self.parent.len()
    }
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

/// Threads, with the rows of their samples and spans.
#[derive(Clone, Debug, Default)]
pub struct ThreadTable {
    /// Process id; -1 when unknown.
    pub pid: Vec<i32>,
    /// Thread id; -1 when unknown.
    pub tid: Vec<i32>,
    pub name: Vec<StrId>,
    pub process_name: Vec<StrId>,
    /// This thread's samples are rows `sample_start..sample_end` of the sample table.
    pub sample_start: Vec<usize>,
    pub sample_end: Vec<usize>,
    /// This thread's spans are rows `span_start..span_end` of the span table.
    pub span_start: Vec<usize>,
    pub span_end: Vec<usize>,
}

impl ThreadTable {
    pub fn len(&self) -> usize {
        self.pid.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pid.is_empty()
    }
    /// Rows of thread `t`'s samples.
    pub fn samples(&self, t: ThreadId) -> std::ops::Range<usize> {
        self.sample_start[t.index()]..self.sample_end[t.index()]
    }
}

/// The unit of a sample type's weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Time; weights are nanoseconds.
    Nanoseconds,
    /// Bytes (heap profiles).
    Bytes,
    /// Occurrences of a hardware or software event (cycles, page faults, ...).
    Events,
    /// Plain sample counts.
    Count,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "nanoseconds",
            Unit::Bytes => "bytes",
            Unit::Events => "events",
            Unit::Count => "count",
        }
    }
}

/// One kind of measurement carried by every sample (an event of perf, a pprof sample type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleType {
    pub name: String,
    pub unit: Unit,
}

/// Samples, grouped by thread and sorted by time inside a thread.
///
/// "These threads, this time range" is therefore a set of slices found with two binary searches
/// per thread.
#[derive(Clone, Default)]
pub struct SampleTable {
    pub stack: Column<StackId>,
    /// Nanoseconds on the profile's clock (perf: time since boot); 0 when the format has none.
    pub time_ns: Column<u64>,
    pub weights: SampleWeights,
    /// Each sample's label set (a row of [`LabelTable`]'s sets; set 0 is empty). Empty when
    /// the profile has no labels, so unlabelled profiles pay nothing.
    pub label_set: Column<u32>,
    /// What a reader added up over every sample while it read them anyway (see
    /// [`WholeWeights`]); `None` from the parsers.
    pub whole: Option<std::sync::Arc<WholeWeights>>,
}

/// Weight and sample count per stack, and samples with a stack per thread, of one selection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackWeights {
    pub weight: Vec<i64>,
    pub count: Vec<u64>,
    /// Per thread (indexed by [`ThreadId`]): samples counted in `count`.
    pub per_thread: Vec<u64>,
}

impl StackWeights {
    /// Adds `other`'s sums (of other rows of the same profile) to these.
    pub fn absorb(&mut self, other: &StackWeights) {
        for (x, y) in self.weight.iter_mut().zip(&other.weight) {
            *x = x.saturating_add(*y);
        }
        for (x, y) in self.count.iter_mut().zip(&other.count) {
            *x += y;
        }
        for (x, y) in self.per_thread.iter_mut().zip(&other.per_thread) {
            *x += y;
        }
    }
}

/// [`StackWeights`] of every sample of the profile, for some sample types: a `.stkl` file's
/// validation reads each sample anyway, and adding them up in the same pass spares the first
/// view of a big capture a pass of its own over millions of rows.
///
/// Kept with what it was computed from — the versions of the sample columns read, the number
/// of stacks and the threads' row ranges — and used by [`Profile::whole_weights`] only while
/// those are unchanged, so a profile derived by changing its columns never sees stale sums.
///
/// [`Profile::whole_weights`]: super::Profile::whole_weights
#[derive(Debug)]
pub struct WholeWeights {
    /// [`SampleTable::versions`] when computed.
    pub versions: Vec<u64>,
    pub stacks: usize,
    /// The threads' `(sample_start, sample_end)` when computed.
    pub thread_rows: Vec<(usize, usize)>,
    /// Indexed by sample type; `None` for a type not added up.
    pub types: Vec<Option<StackWeights>>,
}

/// The rows only: [`SampleTable::whole`] is a cache of what they add up to, not content.
impl std::fmt::Debug for SampleTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleTable")
            .field("stack", &self.stack)
            .field("time_ns", &self.time_ns)
            .field("weights", &self.weights)
            .field("label_set", &self.label_set)
            .finish_non_exhaustive()
    }
}

impl SampleTable {
    pub fn len(&self) -> usize {
        self.stack.len()
    }

    /// The [versions](Column::version) of the stack and weight columns, in that order.
    pub fn versions(&self) -> Vec<u64> {
        let mut v = vec![self.stack.version()];
        match &self.weights {
            SampleWeights::PerType(cols) => v.extend(cols.iter().map(Column::version)),
            SampleWeights::Tagged {
                sample_type,
                weight,
            } => v.extend([sample_type.version(), weight.version()]),
        }
        v
    }
    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }
}

/// The weights of the samples, in one of two layouts.
///
/// A pprof sample carries a value of every sample type (`PerType`: one column per type). A
/// perf sample belongs to exactly one event (`Tagged`: the event and one weight per sample);
/// one column per type there would cost samples × events × 8 bytes, and a `perf record` of
/// hundreds of tracepoints is normal.
#[derive(Clone, Debug)]
pub enum SampleWeights {
    /// `columns[sample_type][row]`.
    PerType(Vec<Column<i64>>),
    /// Row `r` belongs to sample type `sample_type[r]` with weight `weight[r]`.
    Tagged {
        sample_type: Column<u16>,
        weight: Column<i64>,
    },
}

impl Default for SampleWeights {
    fn default() -> Self {
        SampleWeights::Tagged {
            sample_type: Column::new(),
            weight: Column::new(),
        }
    }
}

impl SampleWeights {
    /// The weight of row `row` in sample type `ty`, `None` if the row is not a sample of that
    /// type (a tagged row of another type, or a zero value).
    #[inline]
    pub fn get(&self, ty: usize, row: usize) -> Option<i64> {
        match self {
            SampleWeights::PerType(cols) => cols.get(ty)?.get(row).copied().filter(|&w| w != 0),
            SampleWeights::Tagged {
                sample_type,
                weight,
            } => (usize::from(*sample_type.get(row)?) == ty).then(|| weight[row]),
        }
    }

    /// Calls `f(row, weight)` for every row of `rows` that is a sample of type `ty`, with a
    /// tight loop per layout.
    #[inline]
    pub fn for_each(&self, ty: usize, rows: std::ops::Range<usize>, mut f: impl FnMut(usize, i64)) {
        match self {
            SampleWeights::PerType(cols) => {
                let Some(col) = cols.get(ty) else { return };
                let Some(col) = col.get(rows.clone()) else {
                    return;
                };
                for (i, &w) in col.iter().enumerate() {
                    if w != 0 {
                        f(rows.start + i, w);
                    }
                }
            }
            SampleWeights::Tagged {
                sample_type,
                weight,
            } => {
                let (Some(kinds), Some(ws)) =
                    (sample_type.get(rows.clone()), weight.get(rows.clone()))
                else {
                    return;
                };
                for (i, (&k, &w)) in kinds.iter().zip(ws).enumerate() {
                    if usize::from(k) == ty {
                        f(rows.start + i, w);
                    }
                }
            }
        }
    }

    /// Number of samples of type `ty` among `rows`.
    pub fn count(&self, ty: usize, rows: std::ops::Range<usize>) -> usize {
        let mut n = 0;
        self.for_each(ty, rows, |_, _| n += 1);
        n
    }
}

/// Labels: key/value tags on samples (pprof's `Sample.label`: goroutine labels, thread ids,
/// allocation sizes, request ids), and the distinct sets of them that samples carry.
///
/// A label is a row (key, string value or number with unit). A set is a sorted run of label rows
/// `set_labels[set_start[s]..set_start[s + 1]]`; set 0 is the empty set. Samples point at a set,
/// so a million samples with the same three labels store three labels once.
#[derive(Clone, Debug)]
pub struct LabelTable {
    pub key: Vec<StrId>,
    /// The string value, `StrId::NONE` for a numeric label.
    pub str_value: Vec<StrId>,
    /// The numeric value (0 for a string label).
    pub num_value: Vec<i64>,
    /// The numeric value's unit, or `StrId::NONE`.
    pub num_unit: Vec<StrId>,
    /// `set_start.len()` is the number of sets + 1.
    pub set_start: Vec<u32>,
    pub set_labels: Vec<u32>,
}

impl Default for LabelTable {
    fn default() -> Self {
        Self {
            key: Vec::new(),
            str_value: Vec::new(),
            num_value: Vec::new(),
            num_unit: Vec::new(),
            set_start: vec![0, 0],
            set_labels: Vec::new(),
        }
    }
}

impl LabelTable {
    /// Number of distinct labels.
    pub fn len(&self) -> usize {
        self.key.len()
    }
    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }
    /// Number of label sets (including the empty set 0).
    pub fn set_count(&self) -> usize {
        self.set_start.len().saturating_sub(1)
    }
    /// The labels of set `s` (empty for an unknown set).
    pub fn set(&self, s: u32) -> &[u32] {
        let s = s as usize;
        match (self.set_start.get(s), self.set_start.get(s + 1)) {
            (Some(&a), Some(&b)) => self.set_labels.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Instrumented intervals (puffin scopes, Chrome trace events): they drive the timeline.
/// Grouped by thread, sorted by start inside a thread.
#[derive(Clone, Debug, Default)]
pub struct SpanTable {
    pub thread: Vec<ThreadId>,
    pub depth: Vec<u16>,
    pub start_ns: Vec<u64>,
    pub end_ns: Vec<u64>,
    pub name: Vec<StrId>,
}

impl SpanTable {
    pub fn len(&self) -> usize {
        self.thread.len()
    }
    pub fn is_empty(&self) -> bool {
        self.thread.is_empty()
    }
}

/// Facts about the whole profile.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    /// `perf.data`, `pprof`, ...
    pub source_format: String,
    /// The command that was profiled, if recorded.
    pub command_line: Option<String>,
    pub hostname: Option<String>,
    pub os_release: Option<String>,
    pub arch: Option<String>,
    /// Version of the recording tool (e.g. perf's).
    pub recorder_version: Option<String>,
    pub cpu_desc: Option<String>,
    pub nr_cpus: Option<u32>,
    /// Time of the first and last sample on the profile's clock; `None` without timestamps.
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    /// Samples the recorder reports as lost (ring buffer overruns).
    pub lost_samples: u64,
    /// When samples were lost: (time on the profile's clock, samples lost), in file order, at
    /// most [`Meta::MAX_LOST_MARKS`] entries (later reports add to the last). Marked on the
    /// timeline.
    #[serde(default)]
    pub lost_at: Vec<(u64, u64)>,
    /// Things the user should know: partial data, skipped records, symbols not found.
    pub warnings: Vec<String>,
    /// The sample type the file says to show first (pprof's `default_sample_type`).
    pub default_sample_type: Option<usize>,
    /// Other facts from the file, shown as they are (pprof's period, comments, ...).
    pub info: Vec<(String, String)>,
    /// How each module with addresses to resolve was symbolized, in module order; empty for
    /// profiles that came with names (and for files written before this was recorded).
    #[serde(default)]
    pub modules: Vec<ModuleSymbols>,
}

/// What one module was symbolized from, or why it was not: for a "symbols" view that tells the
/// user which file to provide.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModuleSymbols {
    /// The module's path as recorded.
    pub path: String,
    /// Build-id as lowercase hex, if recorded.
    pub build_id: Option<String>,
    pub kind: ModuleKind,
    /// The file the names came from: a binary, its separate debug file (for example
    /// `/usr/lib/debug/.build-id/ab/cdef.debug`), `… (.gnu_debugdata)`, a `perf-PID.map`,
    /// `/proc/kallsyms`.
    pub symbols_from: Option<String>,
    /// The file the source lines came from (its DWARF), if any.
    pub lines_from: Option<String>,
    /// Distinct addresses of the module that samples hit.
    pub addresses: u64,
    /// How many of them got a name.
    pub resolved: u64,
    /// Why names or lines are missing: "no binary found (searched: …)", "build-id mismatch at
    /// …", "stripped: no .symtab and no debug file found …", "kernel symbols off", ...
    pub problem: Option<String>,
}

// By hand: `ModuleKind` has no default, and an unknown module is the honest one.
impl Default for ModuleSymbols {
    fn default() -> Self {
        Self {
            path: String::new(),
            build_id: None,
            kind: ModuleKind::Unknown,
            symbols_from: None,
            lines_from: None,
            addresses: 0,
            resolved: 0,
            problem: None,
        }
    }
}

impl Meta {
    pub const MAX_LOST_MARKS: usize = 10_000;

    /// Records `count` samples lost at `time_ns`.
    pub fn add_lost(&mut self, time_ns: u64, count: u64) {
        if self.lost_at.len() < Self::MAX_LOST_MARKS {
            self.lost_at.push((time_ns, count));
        } else if let Some(last) = self.lost_at.last_mut() {
            last.1 = last.1.saturating_add(count);
        }
    }

    /// Duration between first and last sample.
    pub fn duration_ns(&self) -> Option<u64> {
        Some(self.end_ns?.saturating_sub(self.start_ns?))
    }
}
