//! pprof out (`profile.proto`, gzipped for `.pb.gz`), readable by `go tool pprof` and every
//! tool that takes pprof.
//!
//! - every sample type, with its unit (`nanoseconds`, `bytes`, `count`, `events`), and the
//!   profile's default sample type named in `default_sample_type`;
//! - samples with the same thread, stack and labels are merged (values added): pprof has no
//!   per-sample time;
//! - modules → mappings, functions → functions (name, file, start line), each frame → one
//!   location with one line (inlined functions stay functions of their own);
//! - labels are kept; with several threads each sample also gets a `thread` label (the thread's
//!   name with pid/tid), so `-tagfocus` can pick a thread.

use crate::formats::pprof::proto;
use crate::model::{Profile, StackId, ThreadId, Unit};
use prost::Message;
use rustc_hash::FxHashMap;
use std::io::Write;

struct Strings {
    table: Vec<String>,
    index: FxHashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        Self {
            table: vec![String::new()],
            index: FxHashMap::from_iter([(String::new(), 0)]),
        }
    }
    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Nanoseconds => "nanoseconds",
        Unit::Bytes => "bytes",
        Unit::Count => "count",
        Unit::Events => "events",
    }
}

/// Builds the pprof message of `p`.
pub(crate) fn to_proto(p: &Profile) -> proto::Profile {
    let mut strings = Strings::new();
    let thread_labels: Vec<String> = (0..p.threads.len())
        .map(|t| p.thread_label(ThreadId::from_index(t)))
        .collect();
    let sample_type = p
        .sample_types
        .iter()
        .map(|t| proto::ValueType {
            ty: strings.get(&t.name),
            unit: strings.get(unit(t.unit)),
        })
        .collect();
    // pprof takes the first mapping for the main binary: put the module most frames use first.
    let mut uses = vec![0usize; p.modules.len()];
    for m in p.frames.module.iter().filter_map(|m| m.get()) {
        uses[m.index()] += 1;
    }
    let mut order: Vec<usize> = (0..p.modules.len()).collect();
    order.sort_by_key(|&m| std::cmp::Reverse(uses[m]));
    let mapping = order
        .into_iter()
        .map(|m| proto::Mapping {
            id: m as u64 + 1,
            memory_start: p.modules.start[m],
            memory_limit: p.modules.end[m],
            file_offset: p.modules.file_offset[m],
            filename: strings.get(p.str(p.modules.path[m])),
            build_id: p.modules.build_id[m]
                .get()
                .map_or(0, |b| strings.get(p.str(b))),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: false,
        })
        .collect();
    let function = (0..p.funcs.len())
        .map(|f| {
            let name = strings.get(p.str(p.funcs.name[f]));
            proto::Function {
                id: f as u64 + 1,
                name,
                system_name: name,
                filename: p.funcs.file[f].get().map_or(0, |s| strings.get(p.str(s))),
                start_line: i64::from(p.funcs.start_line[f]),
            }
        })
        .collect();
    let location = (0..p.frames.len())
        .map(|fr| {
            let module = p.frames.module[fr].get();
            let rel = p.frames.address[fr];
            // Frames hold module-relative addresses (file offsets); pprof wants runtime ones.
            let address = match module {
                Some(m) if p.modules.end[m.index()] > 0 => rel
                    .wrapping_sub(p.modules.file_offset[m.index()])
                    .wrapping_add(p.modules.start[m.index()]),
                _ => rel,
            };
            proto::Location {
                id: fr as u64 + 1,
                mapping_id: module.map_or(0, |m| m.0 as u64 + 1),
                address,
                line: vec![proto::Line {
                    function_id: p.frames.func[fr].0 as u64 + 1,
                    line: i64::from(p.frames.line[fr]),
                    column: 0,
                }],
                is_folded: false,
            }
        })
        .collect();

    // Samples merged by (thread, stack, label set).
    let n_types = p.sample_types.len();
    let mut merged: FxHashMap<(u32, StackId, u32), usize> = FxHashMap::default();
    let mut rows: Vec<((u32, StackId, u32), Vec<i64>)> = Vec::new();
    for t in 0..p.threads.len() {
        for r in p.threads.sample_start[t]..p.threads.sample_end[t] {
            let key = (
                t as u32,
                p.samples.stack[r],
                p.samples.label_set.get(r).copied().unwrap_or(0),
            );
            let i = *merged.entry(key).or_insert_with(|| {
                rows.push((key, vec![0; n_types]));
                rows.len() - 1
            });
            for (ty, v) in rows[i].1.iter_mut().enumerate() {
                if let Some(w) = p.samples.weights.get(ty, r) {
                    *v = v.saturating_add(w);
                }
            }
        }
    }
    let several_threads = p.threads.len() > 1;
    let thread_key = strings.get("thread");
    let mut sample = Vec::with_capacity(rows.len());
    for ((t, stack, set), value) in rows {
        let mut location_id = Vec::new();
        let mut cur = stack;
        while let Some(c) = cur.get() {
            location_id.push(p.stacks.frame[c.index()].0 as u64 + 1);
            cur = p.stacks.parent[c.index()];
        }
        let mut label: Vec<proto::Label> = p
            .labels
            .set(set)
            .iter()
            .map(|&l| {
                let i = l as usize;
                let key = strings.get(p.str(p.labels.key[i]));
                match p.labels.str_value[i].get() {
                    Some(s) => proto::Label {
                        key,
                        str: strings.get(p.str(s)),
                        num: 0,
                        num_unit: 0,
                    },
                    None => proto::Label {
                        key,
                        str: 0,
                        num: p.labels.num_value[i],
                        num_unit: p.labels.num_unit[i]
                            .get()
                            .map_or(0, |u| strings.get(p.str(u))),
                    },
                }
            })
            .collect();
        if several_threads {
            label.push(proto::Label {
                key: thread_key,
                str: strings.get(&thread_labels[t as usize]),
                num: 0,
                num_unit: 0,
            });
        }
        sample.push(proto::Sample {
            location_id,
            value,
            label,
        });
    }
    let default_sample_type = p
        .sample_types
        .get(p.default_sample_type())
        .map_or(0, |t| strings.get(&t.name));
    let comment = vec![strings.get(&format!(
        "written by stacklens {} from {}",
        env!("CARGO_PKG_VERSION"),
        p.meta.source_format
    ))];
    proto::Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        string_table: strings.table,
        drop_frames: 0,
        keep_frames: 0,
        time_nanos: 0,
        duration_nanos: p.meta.duration_ns().unwrap_or(0) as i64,
        period_type: None,
        period: 0,
        comment,
        default_sample_type,
    }
}

/// Writes `p` as pprof, gzipped when `gzip`.
pub fn write(p: &Profile, gzip: bool, w: &mut impl Write) -> std::io::Result<()> {
    let bytes = to_proto(p).encode_to_vec();
    if gzip {
        let mut e = flate2::write::GzEncoder::new(w, flate2::Compression::default());
        e.write_all(&bytes)?;
        e.finish()?;
        Ok(())
    } else {
        w.write_all(&bytes)
    }
}
