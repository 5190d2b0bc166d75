//! The profile model: columnar tables shared by every format and every view.
//!
//! A [`ProfileBuilder`] is filled by a parser (deduplicating strings, modules, functions,
//! frames and stacks as it goes), symbolized by [`crate::symbols`], then frozen into an
//! immutable [`Profile`] that is cheap to share across threads in an `Arc`.
//!
//! ```
//! use stacklens_core::model::{FuncKind, ModuleId, ProfileBuilder, Unit};
//!
//! let mut b = ProfileBuilder::new("example");
//! let cpu = b.add_sample_type("cpu", Unit::Count);
//! let t = b.add_thread(1, 1);
//! let main = b.add_named_frame("main", ModuleId::NONE, FuncKind::Native);
//! let work = b.add_named_frame("work", ModuleId::NONE, FuncKind::Native);
//! let stack = b.add_stack_root_first([main, work]);
//! b.add_sample_one(t, stack, 0, cpu, 1);
//! b.add_sample_one(t, stack, 1, cpu, 1);
//! let p = b.freeze();
//! assert_eq!(p.stacks.len(), 2); // main, main;work: deduplicated
//! assert_eq!(p.samples.len(), 2);
//! ```

mod builder;
mod check;
pub mod column;
mod ids;
mod plan;
mod strings;
mod tables;

pub(crate) use builder::unresolved_name;
pub use builder::{ProfileBuilder, SampleRoom};
pub use ids::*;
pub use strings::StringTable;
pub use tables::*;

/// An immutable, symbolized profile. See the module docs for the tables.
#[derive(Clone, Debug)]
pub struct Profile {
    pub strings: StringTable,
    pub modules: ModuleTable,
    pub funcs: FuncTable,
    pub frames: FrameTable,
    pub stacks: StackTable,
    pub threads: ThreadTable,
    pub sample_types: Vec<SampleType>,
    pub samples: SampleTable,
    pub labels: LabelTable,
    pub spans: SpanTable,
    pub meta: Meta,
}

impl Profile {
    /// The [`StackWeights`] of every sample of type `ty`, when a reader added them up
    /// ([`WholeWeights`]) and the columns they came from are unchanged.
    pub fn whole_weights(&self, ty: usize) -> Option<&StackWeights> {
        let w = self.samples.whole.as_deref()?;
        let t = &self.threads;
        let current = w.stacks == self.stacks.len()
            && w.thread_rows.len() == t.len()
            && (w.thread_rows.iter())
                .zip(t.sample_start.iter().zip(&t.sample_end))
                .all(|(&(a, b), (&x, &y))| a == x && b == y)
            && w.versions == self.samples.versions();
        if !current {
            return None;
        }
        w.types.get(ty)?.as_ref()
    }

    /// A string of the string table.
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    /// A function's name.
    pub fn func_name(&self, f: FuncId) -> &str {
        self.funcs
            .name
            .get(f.index())
            .map_or("", |&s| self.strings.get(s))
    }

    /// The file name of a function's module ("" without a module).
    pub fn func_module_name(&self, f: FuncId) -> &str {
        match self.funcs.module.get(f.index()).and_then(|m| m.get()) {
            Some(m) => self.strings.get(self.modules.name[m.index()]),
            None => "",
        }
    }

    /// The file name of a module ("" for `NONE`).
    pub fn module_name(&self, m: ModuleId) -> &str {
        match m.get().and_then(|m| self.modules.name.get(m.index())) {
            Some(&s) => self.strings.get(s),
            None => "",
        }
    }

    /// Index of a sample type by name: an exact match first, then a match of the part before
    /// perf's modifiers (`cpu-clock` finds `cpu-clock:u`), case-insensitively.
    pub fn sample_type_index(&self, name: &str) -> Option<usize> {
        let types = &self.sample_types;
        types.iter().position(|t| t.name == name).or_else(|| {
            let base = |s: &str| s.split(':').next().unwrap_or(s).to_ascii_lowercase();
            let want = base(name);
            types.iter().position(|t| base(&t.name) == want)
        })
    }

    /// The sample type shown by default: the one the file names, else the first one that has
    /// samples.
    pub fn default_sample_type(&self) -> usize {
        if let Some(t) = self
            .meta
            .default_sample_type
            .filter(|&t| t < self.sample_types.len())
        {
            return t;
        }
        let first = match &self.samples.weights {
            SampleWeights::PerType(cols) => cols.iter().position(|c| c.iter().any(|&w| w != 0)),
            // The lowest type: done at the first row of type 0, usually the first row (this
            // is asked on every selection change; reading 8 M rows each time showed).
            SampleWeights::Tagged { sample_type, .. } => {
                let lowest = sample_type
                    .iter()
                    .try_fold(u16::MAX, |lo, &t| match lo.min(t) {
                        0 => Err(()),
                        lo => Ok(lo),
                    });
                match lowest {
                    Err(()) => Some(0),
                    Ok(_) if sample_type.is_empty() => None,
                    Ok(lo) => Some(usize::from(lo)),
                }
            }
        };
        first.unwrap_or(0)
    }

    /// Number of samples of `sample_type` (for per-type columns: with a non-zero value).
    pub fn sample_count(&self, sample_type: usize) -> usize {
        self.samples
            .weights
            .count(sample_type, 0..self.samples.len())
    }

    /// A label's key.
    pub fn label_key(&self, label: u32) -> &str {
        self.labels
            .key
            .get(label as usize)
            .map_or("", |&k| self.strings.get(k))
    }

    /// A label's value as text: the string, or the number with its unit.
    pub fn label_value(&self, label: u32) -> String {
        let i = label as usize;
        let Some(&s) = self.labels.str_value.get(i) else {
            return String::new();
        };
        if s.is_some() {
            return self.strings.get(s).to_owned();
        }
        let n = self.labels.num_value[i];
        match self.labels.num_unit[i].get() {
            Some(u) => format!("{n} {}", self.strings.get(u)),
            None => n.to_string(),
        }
    }

    /// The label keys of the profile with their distinct values (sorted), for filter pickers.
    pub fn label_values(&self) -> Vec<(String, Vec<String>)> {
        let mut map: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for l in 0..self.labels.len() as u32 {
            map.entry(self.label_key(l).to_owned())
                .or_default()
                .insert(self.label_value(l));
        }
        map.into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect()
    }

    /// A thread's display name: `name (tid)` or `process (pid/tid)`.
    pub fn thread_label(&self, t: ThreadId) -> String {
        let i = t.index();
        let name = self.threads.name[i]
            .get()
            .map(|s| self.strings.get(s))
            .unwrap_or("");
        let name = if name.is_empty() {
            self.threads.process_name[i]
                .get()
                .map(|s| self.strings.get(s))
                .unwrap_or("?")
        } else {
            name
        };
        format!("{} ({}/{})", name, self.threads.pid[i], self.threads.tid[i])
    }
}
