//! [`ProfileBuilder`]: fills the tables while a parser runs, deduplicating every row, then
//! [`freeze`](ProfileBuilder::freeze)s them into an immutable [`Profile`].

use super::Profile;
use super::column::Column;
use super::ids::*;
use super::plan::Plan;
pub use super::plan::SampleRoom;
use super::strings::StringTable;
use super::tables::*;
use crate::progress::MemoryGate;
use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

const HASHER: FxBuildHasher = FxBuildHasher;

/// Row limit of every table: ids are `u32` and `u32::MAX` is `NONE`.
const MAX_ROWS: usize = u32::MAX as usize - 1;

fn next_row(len: usize, table: &str) -> usize {
    // A profile with four billion distinct frames would need far more memory than any machine
    // has; the load's memory budget stops long before this. Reaching it is a bug, not input.
    assert!(len < MAX_ROWS, "{table} table is full ({len} rows)");
    len
}

/// Samples of one thread while building: columns appended in arrival order, sorted at freeze.
#[derive(Default, Clone, Debug)]
struct ThreadSamples {
    stack: Vec<StackId>,
    time_ns: Vec<u64>,
    /// Tagged layout (see [`SampleWeights`]): used while every sample has one type.
    kind: Vec<u16>,
    weight: Vec<i64>,
    /// Per-type layout: `columns[type][row]`, once any sample carried several weights.
    columns: Vec<Vec<i64>>,
    /// Label set per row; empty until the thread's first labelled sample.
    labels: Vec<u32>,
}

impl ThreadSamples {
    /// Switches this thread from the tagged to the per-type layout.
    fn switch_to_per_type(&mut self, n_types: usize) {
        let mut cols = vec![vec![0i64; self.stack.len()]; n_types];
        for (r, (&k, &w)) in self.kind.iter().zip(&self.weight).enumerate() {
            if let Some(col) = cols.get_mut(usize::from(k)) {
                col[r] = w;
            }
        }
        self.columns = cols;
        self.kind = Vec::new();
        self.weight = Vec::new();
    }
}

/// Most sample types a profile may have (tagged rows store the type in a `u16`).
pub const MAX_SAMPLE_TYPES: usize = u16::MAX as usize;

#[derive(Clone, Debug)]
struct BuilderThread {
    pid: i32,
    tid: i32,
    name: StrId,
    process_name: StrId,
    samples: ThreadSamples,
    /// Its region of the [`Plan`], if it has one: then its rows are there, not in `samples`.
    region: Option<u32>,
    spans: Vec<(u16, u64, u64, StrId)>,
}

/// Builds a [`Profile`]. Every `add_*`/`intern_*` returns the id of an existing equal row when
/// there is one, so parsers can call them per sample without growing the tables.
#[derive(Clone, Debug)]
pub struct ProfileBuilder {
    pub(crate) strings: StringTable,
    pub(crate) modules: ModuleTable,
    module_index: HashTable<ModuleId>,
    pub(crate) funcs: FuncTable,
    func_index: HashTable<FuncId>,
    pub(crate) frames: FrameTable,
    frame_index: HashTable<FrameId>,
    pub(crate) stacks: StackTable,
    /// (key of (parent, frame), stack): the key is kept in the entry so that a lookup in a
    /// table of millions of stacks touches the table only, not the stack columns.
    stack_index: HashTable<(u64, StackId)>,
    threads: Vec<BuilderThread>,
    thread_index: FxHashMap<(i32, i32), ThreadId>,
    sample_types: Vec<SampleType>,
    /// True once a sample carried several weights: every thread then stores one column per
    /// sample type.
    per_type: bool,
    /// Sum of the weights added so far, per sample type: a sample that would overflow its
    /// type's total (damaged values; every view adds weights up) is left out and counted.
    totals: Vec<i64>,
    overflowing_samples: u64,
    labels: LabelTable,
    label_index: FxHashMap<(StrId, StrId, i64, StrId), u32>,
    label_set_index: FxHashMap<Box<[u32]>, u32>,
    /// Asked before the stack table or a thread's samples grow by a large step: refused, the
    /// stack or sample is not added and the load fails at its next progress check.
    gate: MemoryGate,
    /// Room set aside for the samples a parser said it would add, per thread.
    plan: Option<Box<Plan>>,
    /// Facts about the profile; parsers fill it directly.
    pub meta: Meta,
}

/// Bytes a `Vec` of `len` of `cap` elements of `elem` bytes allocates to take `add` more
/// (0 when they fit).
fn vec_growth(len: usize, cap: usize, add: usize, elem: usize) -> u64 {
    if len.saturating_add(add) <= cap {
        return 0;
    }
    (cap.saturating_mul(2).max(len.saturating_add(add)) as u64).saturating_mul(elem as u64)
}

/// Bytes a hashbrown table full at `cap` entries of `entry` bytes allocates when it grows: a
/// power of two of buckets for 8/7 of the entries, each an entry and a control byte.
fn table_growth(cap: usize, entry: usize) -> u64 {
    let buckets = ((cap as u64 + 1) * 8 / 7).next_power_of_two();
    buckets.saturating_mul(entry as u64 + 1)
}

impl Default for ProfileBuilder {
    fn default() -> Self {
        Self::new("unknown")
    }
}

fn hash_module(path: StrId, build_id: StrId) -> u64 {
    HASHER.hash_one((path, build_id))
}
fn hash_func(name: StrId, module: ModuleId, file: StrId, address: u64) -> u64 {
    HASHER.hash_one((name, module, file, address))
}
fn hash_frame(func: FuncId, module: ModuleId, address: u64, line: u32, depth: u16) -> u64 {
    HASHER.hash_one((func, module, address, line, depth))
}
/// A stack's (parent, frame) as one integer.
fn stack_key(parent: StackId, frame: FrameId) -> u64 {
    (u64::from(parent.0) << 32) | u64::from(frame.0)
}
fn hash_stack(key: u64) -> u64 {
    // As the pair, not as one u64: Fx's single multiply would leave the parent's bits out
    // of the low bits hashbrown picks buckets with.
    HASHER.hash_one(((key >> 32) as u32, key as u32))
}

/// Where path `i` of [`ProfileBuilder::add_paths`] starts (where the one before ends).
fn path_start(ends: &[usize], i: usize) -> usize {
    if i == 0 { 0 } else { ends[i - 1].min(ends[i]) }
}

/// The stack of every path of [`ProfileBuilder::add_paths`], the paths taken in sorted `order`:
/// each takes the stacks it shares with the path before and has `make(parent, frame)` create
/// the rest.
fn link_paths(
    order: &[u32],
    ends: &[usize],
    frames: &[FrameId],
    mut make: impl FnMut(StackId, FrameId) -> StackId,
) -> Vec<StackId> {
    let mut out = vec![StackId::NONE; ends.len()];
    // The previous path's stacks, by depth.
    let mut prev: &[FrameId] = &[];
    let mut stacks: Vec<StackId> = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        // The paths come in sorted order, scattered over `frames`: fetch ahead.
        if let Some(&ahead) = order.get(k + 8) {
            let at = path_start(ends, ahead as usize);
            crate::prefetch(frames, at);
            crate::prefetch(frames, at + 16);
        }
        let i = i as usize;
        let p = &frames[path_start(ends, i)..ends[i]];
        let shared = p.iter().zip(prev).take_while(|(a, b)| a == b).count();
        stacks.truncate(shared);
        let mut stack = stacks.last().copied().unwrap_or(StackId::NONE);
        for &f in &p[shared..] {
            stack = make(stack, f);
            stacks.push(stack);
        }
        out[i] = stack;
        prev = p;
    }
    out
}

impl ProfileBuilder {
    /// An empty builder for a profile read from `source_format`.
    pub fn new(source_format: &str) -> Self {
        Self {
            strings: StringTable::new(),
            modules: ModuleTable::default(),
            module_index: HashTable::new(),
            funcs: FuncTable::default(),
            func_index: HashTable::new(),
            frames: FrameTable::default(),
            frame_index: HashTable::new(),
            stacks: StackTable::default(),
            stack_index: HashTable::new(),
            threads: Vec::new(),
            thread_index: FxHashMap::default(),
            sample_types: Vec::new(),
            per_type: false,
            totals: Vec::new(),
            overflowing_samples: 0,
            labels: LabelTable::default(),
            label_index: FxHashMap::default(),
            label_set_index: FxHashMap::default(),
            gate: MemoryGate::default(),
            plan: None,
            meta: Meta {
                source_format: source_format.to_string(),
                ..Meta::default()
            },
        }
    }

    /// Makes the builder ask `gate` (a load's [`Progress::memory_gate`](crate::Progress::memory_gate))
    /// before its stack table or a thread's samples grow by a large step.
    pub fn set_memory_gate(&mut self, gate: MemoryGate) {
        self.gate = gate;
    }

    /// The memory gate the builder asks before its tables grow by a large step; parsers ask it
    /// for their own large buffers too.
    pub fn memory_gate(&self) -> &MemoryGate {
        &self.gate
    }

    /// Number of samples `thread` has so far.
    pub fn thread_sample_count(&self, thread: ThreadId) -> usize {
        self.threads.get(thread.index()).map_or(0, |t| {
            let planned = match (&self.plan, t.region) {
                (Some(p), Some(r)) => p.filled(r),
                _ => 0,
            };
            t.samples.stack.len() + planned
        })
    }

    /// Whether `rows` more samples fit in `thread`'s columns, or the memory gate lets them grow.
    fn sample_room(&self, thread: ThreadId, rows: usize) -> bool {
        let Some(t) = self.threads.get(thread.index()) else {
            return true;
        };
        let s = &t.samples;
        let row = 4
            + 8
            + if self.per_type {
                8 * s.columns.len()
            } else {
                2 + 8
            }
            + if s.labels.is_empty() { 0 } else { 4 };
        let more = vec_growth(s.stack.len(), s.stack.capacity(), rows, row);
        more == 0 || self.gate.admit(more)
    }

    /// Adds a warning shown to the user.
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.meta.warnings.push(msg.into());
    }

    /// Interns a string.
    pub fn intern(&mut self, s: &str) -> StrId {
        self.strings.intern(s)
    }

    /// The string `id`.
    pub fn string(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    /// Adds a sample type; returns its index. At most [`MAX_SAMPLE_TYPES`]: beyond, the last
    /// index is returned again (parsers check the limit and warn first).
    pub fn add_sample_type(&mut self, name: &str, unit: Unit) -> usize {
        if self.sample_types.len() >= MAX_SAMPLE_TYPES {
            return MAX_SAMPLE_TYPES - 1;
        }
        self.sample_types.push(SampleType {
            name: name.to_string(),
            unit,
        });
        if self.per_type {
            for t in &mut self.threads {
                let n = t.samples.stack.len();
                t.samples.columns.push(vec![0; n]);
            }
        }
        self.sample_types.len() - 1
    }

    /// The sample types added so far.
    pub fn sample_types(&self) -> &[SampleType] {
        &self.sample_types
    }

    /// The module with this path and build-id (hex, may be empty), added if new.
    pub fn add_module(&mut self, path: &str, build_id: &str, kind: ModuleKind) -> ModuleId {
        let path_id = self.strings.intern(path);
        let build_id = if build_id.is_empty() {
            StrId::NONE
        } else {
            self.strings.intern(build_id)
        };
        let hash = hash_module(path_id, build_id);
        let m = &self.modules;
        if let Some(&id) = self.module_index.find(hash, |&id| {
            m.path[id.index()] == path_id && m.build_id[id.index()] == build_id
        }) {
            return id;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let name = self.strings.intern(name);
        let id = ModuleId::from_index(next_row(self.modules.len(), "module"));
        self.modules.path.push(path_id);
        self.modules.name.push(name);
        self.modules.build_id.push(build_id);
        self.modules.start.push(0);
        self.modules.end.push(0);
        self.modules.file_offset.push(0);
        self.modules.kind.push(kind);
        let m = &self.modules;
        self.module_index.insert_unique(hash, id, |&id| {
            hash_module(m.path[id.index()], m.build_id[id.index()])
        });
        id
    }

    /// Records the address range of a module's first mapping (informational).
    pub fn set_module_range(&mut self, module: ModuleId, start: u64, end: u64, file_offset: u64) {
        let i = module.index();
        if i < self.modules.len() && self.modules.end[i] == 0 {
            self.modules.start[i] = start;
            self.modules.end[i] = end;
            self.modules.file_offset[i] = file_offset;
        }
    }

    /// Sets the build-id of a module that was added without one.
    pub fn module_build_id(&self, module: ModuleId) -> Option<&str> {
        let b = *self.modules.build_id.get(module.index())?;
        b.get().map(|b| self.strings.get(b))
    }

    /// The function (name, module, file, address), added if new. `address` is the start of
    /// the function's symbol, 0 when unknown.
    pub fn add_func(
        &mut self,
        name: StrId,
        module: ModuleId,
        file: StrId,
        address: u64,
        kind: FuncKind,
    ) -> FuncId {
        let hash = hash_func(name, module, file, address);
        let f = &self.funcs;
        if let Some(&id) = self.func_index.find(hash, |&id| {
            let i = id.index();
            f.name[i] == name
                && f.module[i] == module
                && f.file[i] == file
                && f.address[i] == address
        }) {
            return id;
        }
        let id = FuncId::from_index(next_row(self.funcs.len(), "function"));
        self.funcs.name.push(name);
        self.funcs.module.push(module);
        self.funcs.file.push(file);
        self.funcs.start_line.push(0);
        self.funcs.address.push(address);
        self.funcs.kind.push(kind);
        let f = &self.funcs;
        self.func_index.insert_unique(hash, id, |&id| {
            let i = id.index();
            hash_func(f.name[i], f.module[i], f.file[i], f.address[i])
        });
        id
    }

    /// The frame (func, module, address, line, inline depth), added if new.
    pub fn add_frame(
        &mut self,
        func: FuncId,
        module: ModuleId,
        address: u64,
        line: u32,
        inline_depth: u16,
    ) -> FrameId {
        let hash = hash_frame(func, module, address, line, inline_depth);
        let f = &self.frames;
        if let Some(&id) = self.frame_index.find(hash, |&id| {
            let i = id.index();
            f.address[i] == address
                && f.func[i] == func
                && f.module[i] == module
                && f.line[i] == line
                && f.inline_depth[i] == inline_depth
        }) {
            return id;
        }
        let id = FrameId::from_index(next_row(self.frames.len(), "frame"));
        self.frames.func.push(func);
        self.frames.module.push(module);
        self.frames.address.push(address);
        self.frames.line.push(line);
        self.frames.inline_depth.push(inline_depth);
        let f = &self.frames;
        self.frame_index.insert_unique(hash, id, |&id| {
            let i = id.index();
            hash_frame(
                f.func[i],
                f.module[i],
                f.address[i],
                f.line[i],
                f.inline_depth[i],
            )
        });
        id
    }

    /// An unsymbolized frame: `address` relative to `module`, resolved by
    /// [`crate::symbols::symbolize`].
    pub fn add_address_frame(&mut self, module: ModuleId, address: u64) -> FrameId {
        self.add_frame(FuncId::NONE, module, address, 0, 0)
    }

    /// A frame of a function known by name only (folded stacks, interpreted code).
    pub fn add_named_frame(&mut self, name: &str, module: ModuleId, kind: FuncKind) -> FrameId {
        let name = self.strings.intern(name);
        let func = self.add_func(name, module, StrId::NONE, 0, kind);
        self.add_frame(func, module, 0, 0, 0)
    }

    /// The stack `parent` + `frame` (parent `StackId::NONE` for a root), added if new.
    pub fn add_stack(&mut self, parent: StackId, frame: FrameId) -> StackId {
        if self.stack_index.len() < self.stacks.len() {
            self.index_stacks();
        }
        let key = stack_key(parent, frame);
        let hash = hash_stack(key);
        if let Some(&(_, id)) = self.stack_index.find(hash, |e| e.0 == key) {
            return id;
        }
        let table_full = self.stack_index.len() == self.stack_index.capacity();
        let more = vec_growth(self.stacks.len(), self.stacks.parent.capacity(), 1, 8)
            + if table_full {
                table_growth(self.stack_index.capacity(), 16)
            } else {
                0
            };
        if more > 0 && !self.gate.admit(more) {
            // The load is over (its next progress check fails): the stack stays short.
            return parent;
        }
        let id = StackId::from_index(next_row(self.stacks.len(), "stack"));
        self.stacks.parent.push(parent);
        self.stacks.frame.push(frame);
        self.stack_index
            .insert_unique(hash, (key, id), |e| hash_stack(e.0));
        id
    }

    /// Puts the stacks [`add_paths`](Self::add_paths) appended without hashing into the index
    /// (the index holds a prefix of the stack table: those rows).
    fn index_stacks(&mut self) {
        let s = &self.stacks;
        let from = self.stack_index.len();
        self.stack_index
            .reserve(s.len() - from, |e| hash_stack(e.0));
        for i in from..s.len() {
            let key = stack_key(s.parent[i], s.frame[i]);
            self.stack_index
                .insert_unique(hash_stack(key), (key, StackId::from_index(i)), |e| {
                    hash_stack(e.0)
                });
        }
    }

    /// The stacks of many paths at once: path `i` is `frames[ends[i - 1]..ends[i]]` (from 0 for
    /// the first), root first; an empty path is `StackId::NONE`.
    ///
    /// Adding path after path costs one hash lookup per frame, each depending on the one
    /// before and, in a table of millions of stacks, each a cache miss (a pprof heap profile:
    /// 31 M lookups). Sorted, paths that share outer frames are neighbours: a path takes the
    /// stacks it shares with the one before and creates the rest, which (every path with a given
    /// prefix being a contiguous run of the order) no earlier path can have created. Into an
    /// empty stack table they are appended without a lookup, in depth-first order; into a
    /// table that has stacks already, through [`add_stack`](Self::add_stack).
    pub fn add_paths(&mut self, frames: &[FrameId], ends: &[usize]) -> Vec<StackId> {
        let path = |i: usize| &frames[path_start(ends, i)..ends[i]];
        let mut order: Vec<u32> = (0..ends.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| path(a as usize).cmp(path(b as usize)));
        if !self.stacks.is_empty() {
            return link_paths(&order, ends, frames, |parent, f| self.add_stack(parent, f));
        }
        let gate = &self.gate;
        let parents = self.stacks.parent.make_mut();
        let stack_frames = self.stacks.frame.make_mut();
        link_paths(&order, ends, frames, |parent, f| {
            let more = vec_growth(parents.len(), parents.capacity(), 1, 8);
            if more > 0 && !gate.admit(more) {
                return parent; // as in add_stack: the load fails at its next progress check
            }
            let id = StackId::from_index(next_row(parents.len(), "stack"));
            parents.push(parent);
            stack_frames.push(f);
            id
        })
    }

    /// Sets the stacks of `thread`'s samples from row `first_row` on (rows past its samples
    /// are ignored).
    pub fn set_sample_stacks(&mut self, thread: ThreadId, first_row: usize, stacks: &[StackId]) {
        self.unplan();
        if let Some(t) = self.threads.get_mut(thread.index()) {
            let rows = t.samples.stack.get_mut(first_row..).unwrap_or_default();
            for (r, &s) in rows.iter_mut().zip(stacks) {
                *r = s;
            }
        }
    }

    /// The stack made of `frames`, given root first.
    pub fn add_stack_root_first(&mut self, frames: impl IntoIterator<Item = FrameId>) -> StackId {
        let mut s = StackId::NONE;
        for f in frames {
            s = self.add_stack(s, f);
        }
        s
    }

    /// The thread (pid, tid), added if new.
    pub fn add_thread(&mut self, pid: i32, tid: i32) -> ThreadId {
        if let Some(&t) = self.thread_index.get(&(pid, tid)) {
            return t;
        }
        let id = ThreadId::from_index(next_row(self.threads.len(), "thread"));
        let samples = ThreadSamples {
            columns: if self.per_type {
                vec![Vec::new(); self.sample_types.len()]
            } else {
                Vec::new()
            },
            ..ThreadSamples::default()
        };
        self.threads.push(BuilderThread {
            pid,
            tid,
            name: StrId::NONE,
            process_name: StrId::NONE,
            samples,
            region: self.plan.as_mut().and_then(|p| p.link(pid, tid, id)),
            spans: Vec::new(),
        });
        self.thread_index.insert((pid, tid), id);
        id
    }

    /// Sets room aside for `rows` samples of each thread (pid, tid), added next with
    /// [`add_samples_one`](Self::add_samples_one) or [`add_sample_one`](Self::add_sample_one):
    /// their rows are written in place in the profile's columns, which freeze then neither
    /// allocates nor copies again. Counts are an upper bound: room left unused costs only its
    /// address space. A thread that outgrows its room, or any other way of adding samples, puts
    /// the rows back in per-thread columns (a copy; the profile is the same either way).
    pub fn plan_samples(&mut self, counts: impl IntoIterator<Item = ((i32, i32), usize)>) {
        self.plan_samples_in(counts, None);
    }

    /// Room for up to `rows` samples, to [populate](SampleRoom::populate) ahead of
    /// [`plan_samples_in`](Self::plan_samples_in): as much of it as the memory budget allows
    /// (only populated rows take memory); `None` when the allocator refuses it.
    pub fn room_for_samples(&self, rows: usize) -> Option<SampleRoom> {
        if self.per_type {
            return None;
        }
        let mut rows = rows;
        while rows > 0 && !self.gate.would_admit(Plan::bytes(rows)) {
            rows /= 2;
        }
        (rows > 0).then(|| SampleRoom::new(rows)).flatten()
    }

    /// [`plan_samples`](Self::plan_samples) in `room`'s columns when they have room for every
    /// counted sample (else in new ones).
    pub fn plan_samples_in(
        &mut self,
        counts: impl IntoIterator<Item = ((i32, i32), usize)>,
        room: Option<SampleRoom>,
    ) {
        self.unplan();
        if self.per_type {
            return;
        }
        let counts: Vec<((i32, i32), usize)> = counts.into_iter().collect();
        let rows = counts.iter().fold(0usize, |a, c| a.saturating_add(c.1));
        // Without a plan the load goes on as well: a plan the budget or the allocator would
        // refuse (counts of damaged records that are no samples) is not made.
        if rows == 0 || !self.gate.would_admit(Plan::bytes(rows)) {
            return;
        }
        let Some(plan) = Plan::new(counts, room) else {
            return;
        };
        let mut plan = Box::new(plan);
        for (i, t) in self.threads.iter_mut().enumerate() {
            if t.samples.stack.is_empty() {
                t.region = plan.link(t.pid, t.tid, ThreadId::from_index(i));
            }
        }
        self.plan = Some(plan);
    }

    /// Moves the planned rows to their threads' own columns and drops the plan.
    fn unplan(&mut self) {
        let Some(plan) = self.plan.take() else {
            return;
        };
        for t in &mut self.threads {
            let Some(r) = t.region.take() else {
                continue;
            };
            let (stack, time, kind, weight) = plan.rows_of(&plan.regions[r as usize]);
            t.samples.stack.extend_from_slice(stack);
            t.samples.time_ns.extend_from_slice(time);
            t.samples.kind.extend_from_slice(kind);
            t.samples.weight.extend_from_slice(weight);
        }
    }

    /// Where `n` more rows of `thread` go in the plan; `None` when it has no region, or no
    /// room in it (then the plan is given up).
    fn planned_room(&mut self, thread: ThreadId, n: usize) -> Option<u32> {
        let region = self.threads.get(thread.index())?.region?;
        let plan = self.plan.as_ref()?;
        if plan.room(region, n).is_some() {
            return Some(region);
        }
        self.unplan();
        None
    }

    /// The thread (pid, tid), if added.
    pub fn find_thread(&self, pid: i32, tid: i32) -> Option<ThreadId> {
        self.thread_index.get(&(pid, tid)).copied()
    }

    /// Names a thread.
    pub fn set_thread_name(&mut self, thread: ThreadId, name: &str) {
        let name = self.strings.intern(name);
        if let Some(t) = self.threads.get_mut(thread.index()) {
            t.name = name;
        }
    }

    /// Names a thread's process.
    pub fn set_process_name(&mut self, thread: ThreadId, name: &str) {
        let name = self.strings.intern(name);
        if let Some(t) = self.threads.get_mut(thread.index()) {
            t.process_name = name;
        }
    }

    /// The label `key` = string `value`, added if new; returns its row.
    pub fn add_str_label(&mut self, key: &str, value: &str) -> u32 {
        let key = self.strings.intern(key);
        let value = self.strings.intern(value);
        self.add_label_row(key, value, 0, StrId::NONE)
    }

    /// The label `key` = number `value` (in `unit`, may be empty), added if new.
    pub fn add_num_label(&mut self, key: &str, value: i64, unit: &str) -> u32 {
        let key = self.strings.intern(key);
        let unit = if unit.is_empty() {
            StrId::NONE
        } else {
            self.strings.intern(unit)
        };
        self.add_label_row(key, StrId::NONE, value, unit)
    }

    fn add_label_row(&mut self, key: StrId, value: StrId, num: i64, unit: StrId) -> u32 {
        if let Some(&l) = self.label_index.get(&(key, value, num, unit)) {
            return l;
        }
        let l = next_row(self.labels.len(), "label") as u32;
        self.labels.key.push(key);
        self.labels.str_value.push(value);
        self.labels.num_value.push(num);
        self.labels.num_unit.push(unit);
        self.label_index.insert((key, value, num, unit), l);
        l
    }

    /// The set of these labels (rows from `add_*_label`; order and repeats do not matter),
    /// added if new. The empty set is 0.
    pub fn add_label_set(&mut self, labels: &mut Vec<u32>) -> u32 {
        labels.sort_unstable();
        labels.dedup();
        labels.retain(|&l| (l as usize) < self.labels.len());
        if labels.is_empty() {
            return 0;
        }
        if let Some(&s) = self.label_set_index.get(labels.as_slice()) {
            return s;
        }
        let s = next_row(self.labels.set_count(), "label set") as u32;
        self.labels.set_labels.extend_from_slice(labels);
        self.labels
            .set_start
            .push(self.labels.set_labels.len() as u32);
        self.label_set_index.insert(labels.as_slice().into(), s);
        s
    }

    /// Like [`add_sample`](Self::add_sample), for a sample carrying the label set `label_set`;
    /// false when the sample was left out.
    pub fn add_sample_labeled(
        &mut self,
        thread: ThreadId,
        stack: StackId,
        time_ns: u64,
        weights: &[i64],
        label_set: u32,
    ) -> bool {
        if !self.add_sample(thread, stack, time_ns, weights) {
            return false;
        }
        let set = if (label_set as usize) < self.labels.set_count() {
            label_set
        } else {
            0
        };
        if let Some(t) = self.threads.get_mut(thread.index()) {
            let n = t.samples.stack.len();
            if set != 0 || !t.samples.labels.is_empty() {
                t.samples.labels.resize(n, 0);
                t.samples.labels[n - 1] = set;
            }
        }
        true
    }

    /// The threads added so far, as (pid, tid).
    pub fn thread_ids(&self) -> impl Iterator<Item = (ThreadId, i32, i32)> + '_ {
        self.threads
            .iter()
            .enumerate()
            .map(|(i, t)| (ThreadId::from_index(i), t.pid, t.tid))
    }

    /// Adds a sample with one weight per sample type (`weights.len()` should equal the number
    /// of sample types; missing weights count as 0, extra ones are ignored).
    /// Returns false when the sample was left out: its weights would overflow a type's total.
    pub fn add_sample(
        &mut self,
        thread: ThreadId,
        stack: StackId,
        time_ns: u64,
        weights: &[i64],
    ) -> bool {
        self.unplan();
        let n_types = self.sample_types.len();
        self.totals.resize(n_types.max(self.totals.len()), 0);
        let fits = (self.totals.iter())
            .zip(weights)
            .all(|(t, &w)| t.checked_add(w).is_some());
        if !fits || thread.index() >= self.threads.len() {
            self.overflowing_samples += u64::from(!fits);
            return false;
        }
        if !self.sample_room(thread, 1) {
            return false;
        }
        for (t, &w) in self.totals.iter_mut().zip(weights) {
            *t += w;
        }
        if !self.per_type {
            let n = self.sample_types.len();
            for t in &mut self.threads {
                t.samples.switch_to_per_type(n);
            }
            self.per_type = true;
        }
        let Some(t) = self.threads.get_mut(thread.index()) else {
            return false;
        };
        t.samples.stack.push(stack);
        t.samples.time_ns.push(time_ns);
        for (i, col) in t.samples.columns.iter_mut().enumerate() {
            col.push(weights.get(i).copied().unwrap_or(0));
        }
        if !t.samples.labels.is_empty() {
            t.samples.labels.push(0);
        }
        true
    }

    /// Adds `weight` to the total of `sample_type`; false (and counted) when it would overflow.
    fn fits(&mut self, sample_type: usize, weight: i64) -> bool {
        if self.totals.len() <= sample_type {
            self.totals.resize(sample_type + 1, 0);
        }
        match self.totals[sample_type].checked_add(weight) {
            Some(t) => {
                self.totals[sample_type] = t;
                true
            }
            None => {
                self.overflowing_samples += 1;
                false
            }
        }
    }

    /// Adds samples of one thread that each belong to one sample type: the rows of
    /// [`add_sample_one`](Self::add_sample_one) as columns (equal lengths; extra rows of a
    /// longer column are ignored).
    pub fn add_samples_one(
        &mut self,
        thread: ThreadId,
        stack: impl ExactSizeIterator<Item = StackId>,
        time_ns: &[u64],
        sample_type: &[u16],
        weight: &[i64],
    ) {
        let n = stack
            .len()
            .min(time_ns.len())
            .min(sample_type.len())
            .min(weight.len());
        // The rows fit as a batch when every type's total plus the batch's sum stays in range
        // (i128 sums cannot overflow); else they go one by one, leaving out what overflows.
        let mut batch: Vec<i128> = vec![0; self.sample_types.len()];
        let mut known_types = true;
        for (&k, &w) in sample_type[..n].iter().zip(&weight[..n]) {
            match batch.get_mut(k as usize) {
                Some(b) => *b += i128::from(w),
                None => known_types = false,
            }
        }
        self.totals.resize(batch.len().max(self.totals.len()), 0);
        let fits = known_types
            && (self.totals.iter().zip(&batch))
                .all(|(&t, &b)| i64::try_from(i128::from(t) + b).is_ok());
        if fits
            && !self.per_type
            && let Some(region) = self.planned_room(thread, n)
            && let Some(plan) = &mut self.plan
        {
            for (t, &b) in self.totals.iter_mut().zip(&batch) {
                *t = (i128::from(*t) + b) as i64; // in range: checked above
            }
            plan.write(
                region,
                stack.take(n),
                &time_ns[..n],
                &sample_type[..n],
                &weight[..n],
            );
            return;
        }
        if !self.sample_room(thread, n) {
            return;
        }
        if self.per_type || !fits {
            for (i, s) in stack.take(n).enumerate() {
                self.add_sample_one(thread, s, time_ns[i], sample_type[i] as usize, weight[i]);
            }
            return;
        }
        if thread.index() >= self.threads.len() {
            return;
        }
        for (t, &b) in self.totals.iter_mut().zip(&batch) {
            *t = (i128::from(*t) + b) as i64; // in range: checked above
        }
        let Some(t) = self.threads.get_mut(thread.index()) else {
            return;
        };
        t.samples.stack.extend(stack.take(n));
        t.samples.time_ns.extend_from_slice(&time_ns[..n]);
        t.samples.kind.extend_from_slice(&sample_type[..n]);
        t.samples.weight.extend_from_slice(&weight[..n]);
        if !t.samples.labels.is_empty() {
            t.samples.labels.resize(t.samples.stack.len(), 0);
        }
    }

    /// Adds a sample that belongs to one sample type only (a perf event).
    pub fn add_sample_one(
        &mut self,
        thread: ThreadId,
        stack: StackId,
        time_ns: u64,
        sample_type: usize,
        weight: i64,
    ) {
        if let Some(region) = self.planned_room(thread, 1) {
            let kind = u16::try_from(sample_type).unwrap_or(u16::MAX);
            if self.fits(sample_type, weight)
                && let Some(plan) = &mut self.plan
            {
                plan.write(
                    region,
                    std::iter::once(stack),
                    &[time_ns],
                    &[kind],
                    &[weight],
                );
            }
            return;
        }
        if thread.index() >= self.threads.len()
            || !self.sample_room(thread, 1)
            || !self.fits(sample_type, weight)
        {
            return;
        }
        let per_type = self.per_type;
        let Some(t) = self.threads.get_mut(thread.index()) else {
            return;
        };
        t.samples.stack.push(stack);
        t.samples.time_ns.push(time_ns);
        if !t.samples.labels.is_empty() {
            t.samples.labels.push(0);
        }
        if per_type {
            for (i, col) in t.samples.columns.iter_mut().enumerate() {
                col.push(if i == sample_type { weight } else { 0 });
            }
        } else {
            t.samples
                .kind
                .push(u16::try_from(sample_type).unwrap_or(u16::MAX));
            t.samples.weight.push(weight);
        }
    }

    /// Adds an instrumented span to a thread.
    pub fn add_span(
        &mut self,
        thread: ThreadId,
        depth: u16,
        start_ns: u64,
        end_ns: u64,
        name: &str,
    ) {
        let name = self.strings.intern(name);
        if let Some(t) = self.threads.get_mut(thread.index()) {
            t.spans.push((depth, start_ns, end_ns.max(start_ns), name));
        }
    }

    /// Number of distinct stacks added so far.
    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// Number of samples added so far.
    pub fn sample_count(&self) -> usize {
        let planned = self.plan.as_ref().map_or(0, |p| p.rows());
        self.threads
            .iter()
            .map(|t| t.samples.stack.len())
            .sum::<usize>()
            + planned
    }

    /// Rebuilds the stack table after symbolization: `expansion(frame)` gives the frames that
    /// replace `frame`, outermost first (several when inlined functions were expanded, the frame
    /// itself when it needs no change). Samples are remapped in one pass, and frames no stack
    /// uses any more are dropped.
    pub(crate) fn rebuild_stacks(&mut self, expansion: &[Vec<FrameId>]) {
        let old = std::mem::take(&mut self.stacks);
        self.stack_index = HashTable::with_capacity(old.len());
        let mut map = vec![StackId::NONE; old.len()];
        for s in 0..old.len() {
            let mut cur = match old.parent[s].get() {
                Some(p) => map[p.index()],
                None => StackId::NONE,
            };
            let f = old.frame[s];
            match expansion.get(f.index()) {
                Some(frames) if !frames.is_empty() => {
                    for &nf in frames {
                        cur = self.add_stack(cur, nf);
                    }
                }
                _ => cur = self.add_stack(cur, f),
            }
            map[s] = cur;
        }
        for t in &mut self.threads {
            for s in &mut t.samples.stack {
                if let Some(old) = s.get() {
                    *s = map[old.index()];
                }
            }
        }
        if let Some(p) = &mut self.plan {
            p.remap_stacks(&map);
        }
        self.compact_frames();
    }

    /// Drops frames that no stack references, renumbering the rest in their old order.
    fn compact_frames(&mut self) {
        let mut used = vec![false; self.frames.len()];
        for f in &self.stacks.frame {
            used[f.index()] = true;
        }
        if used.iter().all(|&u| u) {
            return;
        }
        let old = std::mem::take(&mut self.frames);
        self.frame_index = HashTable::new();
        let mut map = vec![FrameId::NONE; old.len()];
        for i in 0..old.len() {
            if used[i] {
                map[i] = self.add_frame(
                    old.func[i],
                    old.module[i],
                    old.address[i],
                    old.line[i],
                    old.inline_depth[i],
                );
            }
        }
        for f in self.stacks.frame.make_mut() {
            *f = map[f.index()];
        }
        // The stack index hashes (parent, frame): rebuild it with the new frame ids.
        let s = &self.stacks;
        self.stack_index = HashTable::with_capacity(s.len());
        for i in 0..s.len() {
            let key = stack_key(s.parent[i], s.frame[i]);
            self.stack_index
                .insert_unique(hash_stack(key), (key, StackId::from_index(i)), |e| {
                    hash_stack(e.0)
                });
        }
    }

    /// Freezes the tables into an immutable [`Profile`]: threads ordered by (pid, tid), samples
    /// of each thread sorted by time (stable, so equal times keep arrival order), spans by start.
    /// Frames still unsymbolized get a function named `module+0xaddress`.
    pub fn freeze(mut self) -> Profile {
        if self.overflowing_samples > 0 {
            let n = self.overflowing_samples;
            self.warn(format!(
                "{n} samples were left out: their weights would make their event's total overflow 64 bits (damaged values?)"
            ));
        }
        self.resolve_leftover_frames();
        let mut order: Vec<usize> = (0..self.threads.len()).collect();
        order.sort_by_key(|&i| (self.threads[i].pid, self.threads[i].tid));
        let n_types = self.sample_types.len();
        let per_type = self.per_type;
        let labelled = self.threads.iter().any(|t| !t.samples.labels.is_empty());
        let mut threads = ThreadTable::default();
        let mut spans = SpanTable::default();
        // A plan that holds every sample: its columns become the profile's, in place.
        if self.per_type
            || (self.threads.iter()).any(|t| t.region.is_none() && !t.samples.stack.is_empty())
        {
            self.unplan();
        }
        let planned = self.plan.take().map(|plan| {
            let regions: Vec<Option<u32>> = self.threads.iter().map(|t| t.region).collect();
            let (columns, rows) = plan.finish();
            let lens: Vec<usize> = (regions.iter())
                .map(|r| r.map_or(0, |r| rows[r as usize]))
                .collect();
            (lens, columns)
        });
        let mut old_threads: Vec<Option<BuilderThread>> = std::mem::take(&mut self.threads)
            .into_iter()
            .map(Some)
            .collect();
        let cols = match planned {
            Some((lens, c)) => SampleColumns {
                lens,
                stack: c.stack,
                time_ns: c.time_ns,
                labels: Vec::new(),
                columns: Vec::new(),
                kind: c.kind,
                weight: c.weight,
            },
            None => gather_samples(&mut old_threads, &order, n_types, per_type, labelled),
        };
        let mut first = u64::MAX;
        let mut last = 0u64;
        let mut start = 0;
        for (new_index, &i) in order.iter().enumerate() {
            let Some(mut t) = old_threads[i].take() else {
                continue;
            };
            let end = start + cols.lens[i];
            let times = &cols.time_ns[start..end];
            if let (Some(&a), Some(&b)) = (times.first(), times.last()) {
                first = first.min(a);
                last = last.max(b);
            }
            threads.pid.push(t.pid);
            threads.tid.push(t.tid);
            threads.name.push(t.name);
            threads.process_name.push(t.process_name);
            threads.sample_start.push(start);
            threads.sample_end.push(end);
            start = end;
            t.spans.sort_by_key(|s| (s.1, s.0));
            threads.span_start.push(spans.len());
            for (depth, s, e, name) in t.spans {
                spans.thread.push(ThreadId::from_index(new_index));
                spans.depth.push(depth);
                spans.start_ns.push(s);
                spans.end_ns.push(e);
                spans.name.push(name);
            }
            threads.span_end.push(spans.len());
        }
        let samples = SampleTable {
            stack: cols.stack.into(),
            time_ns: cols.time_ns.into(),
            weights: if per_type {
                SampleWeights::PerType(cols.columns.into_iter().map(Column::from).collect())
            } else {
                SampleWeights::Tagged {
                    sample_type: cols.kind.into(),
                    weight: cols.weight.into(),
                }
            },
            label_set: cols.labels.into(),
            whole: None,
        };
        if self.meta.start_ns.is_none() && first <= last && last > 0 {
            self.meta.start_ns = Some(first);
            self.meta.end_ns = Some(last);
        }
        Profile {
            strings: self.strings,
            modules: self.modules,
            funcs: self.funcs,
            frames: self.frames,
            stacks: self.stacks,
            threads,
            sample_types: self.sample_types,
            samples,
            labels: self.labels,
            spans,
            meta: self.meta,
        }
    }

    /// Gives every frame that is still unsymbolized a function named `module+0xaddress`.
    pub(crate) fn resolve_leftover_frames(&mut self) {
        let pending: Vec<usize> = (0..self.frames.len())
            .filter(|&i| !self.frames.func[i].is_some())
            .collect();
        if pending.is_empty() {
            return;
        }
        let mut expansion: Vec<Vec<FrameId>> = vec![Vec::new(); self.frames.len()];
        for i in pending {
            let module = self.frames.module[i];
            let address = self.frames.address[i];
            let name = unresolved_name(self, module, address);
            let name = self.strings.intern(&name);
            let kind = match module.get().map(|m| self.modules.kind[m.index()]) {
                Some(ModuleKind::Kernel) => FuncKind::Kernel,
                _ => FuncKind::Unresolved,
            };
            let func = self.add_func(name, module, StrId::NONE, 0, kind);
            let frame = self.add_frame(func, module, address, 0, 0);
            expansion[i] = vec![frame];
        }
        self.rebuild_stacks(&expansion);
    }
}

/// The permutation that sorts rows by `times`, rows of equal times keeping their order, or
/// `None` when they are in order already.
///
/// A thread's samples in a perf.data file are nearly in time order: perf writes each CPU's
/// buffer in rounds, so a thread that moved between CPUs has a few rows written after rows of
/// later times (about 1 in 70 in a 1 GB capture of two busy threads). The rows at or above the
/// running maximum are a sorted run; only the others are sorted, then merged into it: a pass,
/// not a sort of millions of rows (which was 50 ms of that capture's load). Rows that are far
/// out of order (more than one in eight late) are sorted whole.
pub(crate) fn time_order(times: &[u64]) -> Option<Vec<u32>> {
    if times.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let n = times.len();
    let mut kept: Vec<u32> = Vec::with_capacity(n);
    let mut late: Vec<u32> = Vec::new();
    let mut high = 0u64;
    for (r, &t) in times.iter().enumerate() {
        if t >= high {
            kept.push(r as u32);
            high = t;
        } else {
            late.push(r as u32);
        }
    }
    let key = |r: u32| (times[r as usize], r);
    if late.len() > n / 8 {
        let mut perm: Vec<u32> = (0..n as u32).collect();
        perm.sort_by_key(|&r| times[r as usize]);
        return Some(perm);
    }
    // Sorted by (time, row): the stable order.
    late.sort_unstable_by_key(|&r| key(r));
    let mut perm = Vec::with_capacity(n);
    let (mut a, mut b) = (kept.iter().peekable(), late.iter().peekable());
    while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
        if key(x) <= key(y) {
            perm.push(x);
            a.next();
        } else {
            perm.push(y);
            b.next();
        }
    }
    perm.extend(a);
    perm.extend(b);
    Some(perm)
}

/// `module+0xaddress` (the module's file name), or `0xaddress` without a module.
pub(crate) fn unresolved_name(b: &ProfileBuilder, module: ModuleId, address: u64) -> String {
    match module.get() {
        Some(m) => format!(
            "{}+{:#x}",
            b.strings.get(b.modules.name[m.index()]),
            address
        ),
        None => format!("{address:#x}"),
    }
}

/// The profile's sample columns: the threads' rows one after another in the profile's thread
/// order, each thread's in time order.
struct SampleColumns {
    /// Rows per thread, in the builder's thread order.
    lens: Vec<usize>,
    stack: Vec<StackId>,
    time_ns: Vec<u64>,
    /// Empty when no sample has labels.
    labels: Vec<u32>,
    /// The per-type layout: a column per sample type (else empty).
    columns: Vec<Vec<i64>>,
    /// The tagged layout (else empty).
    kind: Vec<u16>,
    weight: Vec<i64>,
}

/// The samples of `old_threads` (taken from them) as the profile's columns, the threads taken
/// in `order`.
fn gather_samples(
    old_threads: &mut [Option<BuilderThread>],
    order: &[usize],
    n_types: usize,
    per_type: bool,
    labelled: bool,
) -> SampleColumns {
    let total: usize = (old_threads.iter().flatten())
        .map(|t| t.samples.stack.len())
        .sum();
    // Each thread's samples in time order, as a permutation when they are not already.
    let perms: Vec<Option<Vec<u32>>> = old_threads
        .par_iter()
        .map(|t| time_order(&t.as_ref()?.samples.time_ns))
        .collect();
    // Rows per thread, in the thread vector's order.
    let lens: Vec<usize> = old_threads
        .iter()
        .map(|t| t.as_ref().map_or(0, |t| t.samples.stack.len()))
        .collect();
    // Each column is freed from the threads as soon as it is gathered, so that the peak
    // holds about one column twice, not all of them.
    let mut g = Gather {
        order,
        lens: &lens,
        threads: old_threads,
        perms: &perms,
        total,
    };
    let stack = g.column(StackId::NONE, |ts| &mut ts.stack);
    let time_ns = g.column(0, |ts| &mut ts.time_ns);
    let labels = if labelled {
        g.column(0, |ts| &mut ts.labels)
    } else {
        Vec::new()
    };
    let (columns, kind, weight) = if per_type {
        let columns: Vec<Vec<i64>> = (0..n_types)
            .map(|c| {
                g.column(0, |ts| match ts.columns.get_mut(c) {
                    Some(col) => col,
                    None => &mut ts.weight, // empty in the per-type layout
                })
            })
            .collect();
        (columns, Vec::new(), Vec::new())
    } else {
        (
            Vec::new(),
            g.column(0, |ts| &mut ts.kind),
            g.column(0, |ts| &mut ts.weight),
        )
    };
    SampleColumns {
        lens,
        stack,
        time_ns,
        labels,
        columns,
        kind,
        weight,
    }
}

/// The threads' sample columns, concatenated in the profile's thread order, each thread's rows
/// in time order; filled on all cores (each thread's rows are a stretch of their own).
struct Gather<'t> {
    order: &'t [usize],
    /// Rows per thread.
    lens: &'t [usize],
    threads: &'t mut [Option<BuilderThread>],
    perms: &'t [Option<Vec<u32>>],
    total: usize,
}

impl Gather<'_> {
    /// The column `get` picks of each thread (rows it lacks are `fill`), which it then frees.
    fn column<T: Copy + Send + Sync>(
        &mut self,
        fill: T,
        get: impl Fn(&mut ThreadSamples) -> &mut Vec<T> + Sync,
    ) -> Vec<T> {
        let mut out = vec![fill; self.total];
        let mut rest = &mut out[..];
        let mut parts = Vec::with_capacity(self.order.len());
        for &i in self.order {
            let (part, tail) = rest.split_at_mut(self.lens[i].min(rest.len()));
            parts.push((i, part));
            rest = tail;
        }
        let sources: Vec<Vec<T>> = self
            .threads
            .iter_mut()
            .map(|t| {
                t.as_mut()
                    .map_or_else(Vec::new, |t| std::mem::take(get(&mut t.samples)))
            })
            .collect();
        parts.into_par_iter().for_each(|(i, dst)| {
            let src = &sources[i];
            match &self.perms[i] {
                Some(perm) => {
                    for (d, &r) in dst.iter_mut().zip(perm) {
                        *d = src.get(r as usize).copied().unwrap_or(fill);
                    }
                }
                None => {
                    let n = dst.len().min(src.len());
                    dst[..n].copy_from_slice(&src[..n]);
                }
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::time_order;
    use super::*;

    /// Frames of stack `s`, root first.
    fn frames_of(b: &ProfileBuilder, mut s: StackId) -> Vec<FrameId> {
        let mut out = Vec::new();
        while let Some(i) = s.get() {
            out.push(b.stacks.frame[i.index()]);
            s = b.stacks.parent[i.index()];
        }
        out.reverse();
        out
    }

    #[test]
    fn paths_added_at_once_are_the_stacks_added_one_by_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut b = ProfileBuilder::new("test");
        let frames: Vec<FrameId> = (0..6)
            .map(|i| b.add_named_frame(&format!("f{i}"), ModuleId::NONE, FuncKind::Native))
            .collect();
        // 20 000 paths of up to 12 frames over 6 frames: shared prefixes, duplicates, empty paths.
        let (mut flat, mut ends) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            for _ in 0..next(13) {
                flat.push(frames[next(6) as usize]);
            }
            ends.push(flat.len());
        }
        let paths: Vec<&[FrameId]> = (0..ends.len())
            .map(|i| &flat[if i == 0 { 0 } else { ends[i - 1] }..ends[i]])
            .collect();
        let mut one_by_one = b.clone();
        let stacks = b.add_paths(&flat, &ends);
        let expected: Vec<StackId> = paths
            .iter()
            .map(|p| one_by_one.add_stack_root_first(p.iter().copied()))
            .collect();
        assert_eq!(
            b.stacks.len(),
            one_by_one.stacks.len(),
            "same number of stacks"
        );
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(frames_of(&b, stacks[i]), *p, "path {i}");
            assert_eq!(stacks[i].get().is_none(), p.is_empty());
            assert_eq!(frames_of(&one_by_one, expected[i]), *p);
        }
        // Every (parent, frame) once; parents first.
        let mut seen = std::collections::HashSet::new();
        for s in 0..b.stacks.len() {
            assert!(
                seen.insert((b.stacks.parent[s], b.stacks.frame[s])),
                "stack {s} twice"
            );
            assert!(b.stacks.parent[s].get().is_none_or(|p| p.index() < s));
        }
        // The stacks made without lookups are found by later lookups (the index catches up).
        let before = b.stacks.len();
        for (i, p) in paths.iter().enumerate().step_by(97) {
            assert_eq!(b.add_stack_root_first(p.iter().copied()), stacks[i]);
        }
        assert_eq!(b.stacks.len(), before);
        // Into a table that has stacks already: the same stacks, none made twice.
        let again = b.add_paths(&flat, &ends);
        assert_eq!(again, stacks);
        assert_eq!(b.stacks.len(), before);
    }

    /// What a stable sort by time gives.
    fn stable(times: &[u64]) -> Vec<u32> {
        let mut perm: Vec<u32> = (0..times.len() as u32).collect();
        perm.sort_by_key(|&r| times[r as usize]);
        perm
    }

    #[test]
    fn time_order_is_the_stable_sort_of_nearly_and_far_unordered_rows() {
        let mut next = xorshift();
        assert_eq!(time_order(&[]), None);
        assert_eq!(time_order(&[1, 1, 2, 5]), None);
        for late_every in [2u64, 5, 70, 1000] {
            let times = nearly_sorted(20_000, late_every, &mut next);
            assert_eq!(
                time_order(&times),
                Some(stable(&times)),
                "1 in {late_every}"
            );
        }
        let falling: Vec<u64> = (0..1000).rev().collect();
        assert_eq!(time_order(&falling), Some(stable(&falling)));
        // One huge early time makes every later row late: sorted whole, same answer.
        let mut spike: Vec<u64> = (0..1000).collect();
        spike[3] = u64::MAX;
        assert_eq!(time_order(&spike), Some(stable(&spike)));
    }

    /// Times rising in runs of equal values, one row in `late_every` from up to 3000 back.
    fn nearly_sorted(n: u64, late_every: u64, next: &mut impl FnMut() -> u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let t = i / 3 * 10;
                if next().is_multiple_of(late_every) {
                    t.saturating_sub(next() % 3000)
                } else {
                    t
                }
            })
            .collect()
    }

    fn xorshift() -> impl FnMut() -> u64 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn rows_sorted_in_place_are_the_stable_sort_of_every_column() {
        let mut next = xorshift();
        let mut cases: Vec<Vec<u64>> = [2u64, 5, 9, 70, 1000]
            .iter()
            .map(|&e| nearly_sorted(5_000, e, &mut next))
            .collect();
        cases.push((0..1000).rev().collect());
        cases.push(vec![]);
        cases.push(vec![7]);
        cases.push(vec![5, 5, 4, 5, 3, 9, 9, 1]);
        let mut spike: Vec<u64> = (0..1000).collect();
        spike[3] = u64::MAX;
        cases.push(spike);
        for times in cases {
            let n = times.len();
            // Each row tagged with its index in every other column.
            let mut stack: Vec<StackId> = (0..n).map(StackId::from_index).collect();
            let mut time_ns = times.clone();
            let mut kind: Vec<u16> = (0..n).map(|i| i as u16).collect();
            let mut weight: Vec<i64> = (0..n).map(|i| -(i as i64)).collect();
            crate::model::plan::RowsMut {
                stack: &mut stack,
                time_ns: &mut time_ns,
                kind: &mut kind,
                weight: &mut weight,
            }
            .sort_by_time();
            let perm = stable(&times);
            let want_times: Vec<u64> = perm.iter().map(|&r| times[r as usize]).collect();
            assert_eq!(time_ns, want_times);
            let rows: Vec<usize> = stack.iter().map(|s| s.index()).collect();
            let want: Vec<usize> = perm.iter().map(|&r| r as usize).collect();
            assert_eq!(rows, want, "{n} rows");
            assert!(kind.iter().zip(&want).all(|(&k, &r)| k == r as u16));
            assert!(weight.iter().zip(&want).all(|(&w, &r)| w == -(r as i64)));
        }
    }

    /// How a scenario of [`a_plan_changes_nothing_in_the_profile`] deviates from its counts.
    #[derive(Clone, Copy, Debug)]
    enum Deviation {
        None,
        /// Counts above what is added, and a counted thread that never comes.
        Fewer,
        /// A thread outgrows its room half-way.
        More,
        /// A thread that was not counted.
        Uncounted,
        /// A sample with a weight per type, after some rows.
        PerType,
        /// A weight that would overflow its type's total.
        Overflow,
        /// Frames left unsymbolized: freeze rebuilds the stacks under the planned rows.
        Unsymbolized,
    }

    /// How a test profile's samples are added.
    #[derive(Clone, Copy, Debug)]
    enum Planning {
        None,
        Plan,
        /// A plan in a sample room of this many rows more than counted (all faulted in).
        InRoom(isize),
    }

    /// A profile of 3 threads, their samples interleaved and nearly in time order, added in
    /// batches and one by one; planned (`plan`) from the exact counts changed by `dev`, or not.
    fn planned_profile(dev: Deviation, plan: Planning) -> Vec<u8> {
        let mut next = xorshift();
        let mut b = ProfileBuilder::new("test");
        let cpu = b.add_sample_type("cpu", Unit::Count);
        let other = b.add_sample_type("other", Unit::Count);
        let m = b.add_module("/bin/x", "", ModuleKind::Native);
        let frames: Vec<FrameId> = (0..6)
            .map(|i| {
                if matches!(dev, Deviation::Unsymbolized) && i % 2 == 0 {
                    b.add_frame(FuncId::NONE, m, 0x1000 + i, 0, 0)
                } else {
                    b.add_named_frame(&format!("f{i}"), m, FuncKind::Native)
                }
            })
            .collect();
        let keys = [(10, 10), (10, 11), (20, 21)];
        let mut rows: Vec<(usize, StackId, u64, u16, i64)> = Vec::new();
        let times = nearly_sorted(3000, 40, &mut next);
        for (i, &t) in times.iter().enumerate() {
            let depth = 1 + (next() % 5) as usize;
            let stack = b.add_stack_root_first(frames[..depth].iter().copied());
            let k = (next() % 3) as usize;
            let w = if matches!(dev, Deviation::Overflow) && i == 1500 {
                i64::MAX
            } else {
                1 + (next() % 100) as i64
            };
            rows.push((k, stack, t, (i % 7 == 0) as u16, w));
        }
        let mut counts: Vec<((i32, i32), usize)> = (0..3)
            .map(|k| (keys[k], rows.iter().filter(|r| r.0 == k).count()))
            .collect();
        match dev {
            Deviation::Fewer => {
                counts.iter_mut().for_each(|c| c.1 += 50);
                counts.push(((15, 15), 100));
            }
            Deviation::More => counts[1].1 /= 2,
            Deviation::Uncounted => {
                counts.remove(2);
            }
            _ => {}
        }
        // One thread exists before the plan, the others come after.
        b.add_thread(keys[0].0, keys[0].1);
        match plan {
            Planning::None => {}
            Planning::Plan => b.plan_samples(counts),
            Planning::InRoom(more) => {
                let total: usize = counts.iter().map(|c| c.1).sum();
                let rows = total.saturating_add_signed(more);
                let mut room = b.room_for_samples(rows).unwrap();
                assert_eq!(room.rows(), rows);
                // In steps, as a parser's helper thread does, up to the last row.
                let mut steps = 0;
                while room.populate(rows, 1000) {
                    steps += 1;
                }
                assert_eq!(steps, rows.div_ceil(1000));
                assert!(!room.populate(rows + 1, 1000), "nothing past the room");
                let at = room.columns.time_ns.as_ptr();
                b.plan_samples_in(counts, Some(room));
                let used = b.plan.as_ref().map(|p| p.columns.time_ns.as_ptr());
                // A room long enough holds the plan; a short one is dropped for new columns.
                assert_eq!(used == Some(at), more >= 0, "{dev:?} {more}");
            }
        }
        let threads: Vec<ThreadId> = keys.iter().map(|&(p, t)| b.add_thread(p, t)).collect();
        // Batches of up to 20 rows of one thread, every eleventh row alone.
        let mut i = 0;
        while i < rows.len() {
            let k = rows[i].0;
            let end = (i..rows.len().min(i + 20))
                .take_while(|&j| rows[j].0 == k)
                .last()
                .map_or(i + 1, |j| j + 1);
            let batch = &rows[i..end];
            if i % 11 == 0 {
                for r in batch {
                    b.add_sample_one(threads[k], r.1, r.2, r.3 as usize, r.4);
                }
            } else {
                let time: Vec<u64> = batch.iter().map(|r| r.2).collect();
                let kind: Vec<u16> = batch.iter().map(|r| r.3).collect();
                let weight: Vec<i64> = batch.iter().map(|r| r.4).collect();
                b.add_samples_one(threads[k], batch.iter().map(|r| r.1), &time, &kind, &weight);
            }
            if matches!(dev, Deviation::PerType) && i <= 1000 && end > 1000 {
                let mut w = vec![0i64; 2];
                w[cpu] = 3;
                w[other] = 4;
                b.add_sample(threads[0], rows[0].1, 5, &w);
            }
            i = end;
        }
        let p = b.freeze();
        let mut out = Vec::new();
        crate::formats::stkl::write(&p, &mut out).unwrap();
        out
    }

    #[test]
    fn a_plan_changes_nothing_in_the_profile() {
        for dev in [
            Deviation::None,
            Deviation::Fewer,
            Deviation::More,
            Deviation::Uncounted,
            Deviation::PerType,
            Deviation::Overflow,
            Deviation::Unsymbolized,
        ] {
            let without = planned_profile(dev, Planning::None);
            for plan in [
                Planning::Plan,
                Planning::InRoom(0),
                Planning::InRoom(5000),
                Planning::InRoom(-1),
            ] {
                let with = planned_profile(dev, plan);
                assert!(
                    with == without,
                    "{dev:?}, {plan:?}: the planned profile differs"
                );
            }
        }
    }

    #[test]
    fn a_plan_past_the_memory_budget_is_not_made_and_the_load_goes_on() {
        let progress = crate::Progress::new();
        progress.set_memory_budget(64 << 20);
        let mut b = ProfileBuilder::new("test");
        b.set_memory_gate(progress.memory_gate());
        let cpu = b.add_sample_type("cpu", Unit::Count);
        // Counts of damaged records could claim far more rows than the file holds samples.
        b.plan_samples([((1, 1), 100_000_000)]);
        assert!(b.plan.is_none());
        let t = b.add_thread(1, 1);
        let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
        let s = b.add_stack_root_first([f]);
        b.add_samples_one(t, [s, s].into_iter(), &[2, 1], &[cpu as u16; 2], &[5, 7]);
        assert!(progress.check().is_ok(), "nothing was refused");
        let p = b.freeze();
        assert_eq!(&p.samples.time_ns[..], &[1, 2]);
        // Counts that fit are planned.
        let mut b = ProfileBuilder::new("test");
        b.set_memory_gate(progress.memory_gate());
        b.plan_samples([((1, 1), 1000)]);
        assert!(b.plan.is_some());
        // Room asked for past the budget is cut to what it admits.
        let room = b.room_for_samples(100_000_000).unwrap();
        assert!(room.rows() < 100_000_000 && room.rows() >= 1_000_000);
        assert!(progress.memory_gate().would_admit(Plan::bytes(room.rows())));
    }
}
