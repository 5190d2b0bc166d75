//! Consistency of a [`Profile`]'s tables: what every parser must produce, whatever its input.
//!
//! The fuzz targets, the malformed-file corpus and the deep-stack tests assert it on every
//! profile they load. It checks that every id is in range, that a stack's parent comes before
//! it (so walks from the root never loop), that thread ranges tile the sample table, that
//! columns have one value per row, and that the weights add up without overflow.

use super::Profile;
use super::tables::SampleWeights;

impl Profile {
    /// `Err` names the first inconsistency found.
    pub fn check(&self) -> Result<(), String> {
        let n_strings = self.strings.len();
        let str_ok = |id: super::StrId| id.get().is_none_or(|s| s.index() < n_strings);
        let n_modules = self.modules.len();
        let module_ok = |id: super::ModuleId| id.get().is_none_or(|m| m.index() < n_modules);

        let m = &self.modules;
        for (what, len) in [
            ("name", m.name.len()),
            ("build_id", m.build_id.len()),
            ("start", m.start.len()),
            ("end", m.end.len()),
            ("file_offset", m.file_offset.len()),
            ("kind", m.kind.len()),
        ] {
            same(len, m.path.len(), "modules", what)?;
        }
        for i in 0..n_modules {
            if !(str_ok(m.path[i]) && str_ok(m.name[i]) && str_ok(m.build_id[i])) {
                return Err(format!("module {i} names a string out of range"));
            }
        }

        let f = &self.funcs;
        let n_funcs = f.name.len();
        for (what, len) in [
            ("module", f.module.len()),
            ("file", f.file.len()),
            ("start_line", f.start_line.len()),
            ("address", f.address.len()),
            ("kind", f.kind.len()),
        ] {
            same(len, n_funcs, "funcs", what)?;
        }
        for i in 0..n_funcs {
            if !(str_ok(f.name[i]) && str_ok(f.file[i]) && module_ok(f.module[i])) {
                return Err(format!("function {i} has an id out of range"));
            }
        }

        let fr = &self.frames;
        let n_frames = fr.func.len();
        for (what, len) in [
            ("module", fr.module.len()),
            ("address", fr.address.len()),
            ("line", fr.line.len()),
            ("inline_depth", fr.inline_depth.len()),
        ] {
            same(len, n_frames, "frames", what)?;
        }
        for i in 0..n_frames {
            let func_ok = fr.func[i].get().is_some_and(|x| x.index() < n_funcs);
            if !func_ok || !module_ok(fr.module[i]) {
                return Err(format!(
                    "frame {i} has a function or module out of range (every frame of a frozen profile has a function)"
                ));
            }
        }

        let s = &self.stacks;
        let n_stacks = s.parent.len();
        same(s.frame.len(), n_stacks, "stacks", "frame")?;
        for i in 0..n_stacks {
            if s.parent[i].get().is_some_and(|p| p.index() >= i) {
                return Err(format!(
                    "stack {i} has parent {:?}, not an earlier stack",
                    s.parent[i]
                ));
            }
            if s.frame[i].get().is_none_or(|x| x.index() >= n_frames) {
                return Err(format!("stack {i} has a frame out of range"));
            }
        }

        let n_samples = self.samples.stack.len();
        same(self.samples.time_ns.len(), n_samples, "samples", "time_ns")?;
        if !self.samples.label_set.is_empty() {
            same(
                self.samples.label_set.len(),
                n_samples,
                "samples",
                "label_set",
            )?;
            let sets = self.labels.set_count().max(1);
            if let Some(r) = self
                .samples
                .label_set
                .iter()
                .position(|&l| l as usize >= sets)
            {
                return Err(format!("sample {r} has a label set out of range"));
            }
        }
        if let Some(r) =
            (self.samples.stack.iter()).position(|x| x.get().is_some_and(|x| x.index() >= n_stacks))
        {
            return Err(format!("sample {r} has a stack out of range"));
        }
        let n_types = self.sample_types.len();
        match &self.samples.weights {
            SampleWeights::PerType(cols) => {
                same(cols.len(), n_types, "sample weights", "columns")?;
                for (t, c) in cols.iter().enumerate() {
                    same(
                        c.len(),
                        n_samples,
                        "samples",
                        &format!("weights of type {t}"),
                    )?;
                    total(c.iter().copied(), t)?;
                }
            }
            SampleWeights::Tagged {
                sample_type,
                weight,
            } => {
                same(sample_type.len(), n_samples, "samples", "sample_type")?;
                same(weight.len(), n_samples, "samples", "weight")?;
                if let Some(r) = sample_type.iter().position(|&t| t as usize >= n_types) {
                    return Err(format!("sample {r} has a sample type out of range"));
                }
                for t in 0..n_types {
                    let of_type = (sample_type.iter().zip(weight.iter()))
                        .filter(|&(&k, _)| k as usize == t)
                        .map(|(_, &w)| w);
                    total(of_type, t)?;
                }
            }
        }

        let th = &self.threads;
        let n_threads = th.pid.len();
        for (what, len) in [
            ("tid", th.tid.len()),
            ("name", th.name.len()),
            ("process_name", th.process_name.len()),
            ("sample_start", th.sample_start.len()),
            ("sample_end", th.sample_end.len()),
            ("span_start", th.span_start.len()),
            ("span_end", th.span_end.len()),
        ] {
            same(len, n_threads, "threads", what)?;
        }
        let mut next_sample = 0;
        for i in 0..n_threads {
            if !(str_ok(th.name[i]) && str_ok(th.process_name[i])) {
                return Err(format!("thread {i} names a string out of range"));
            }
            let (a, b) = (th.sample_start[i], th.sample_end[i]);
            if a != next_sample || b < a || b > n_samples {
                return Err(format!(
                    "thread {i} has samples {a}..{b}; expected a range from {next_sample} within {n_samples}"
                ));
            }
            next_sample = b;
            let (sa, sb) = (th.span_start[i], th.span_end[i]);
            if sb < sa || sb > self.spans.thread.len() {
                return Err(format!("thread {i} has spans {sa}..{sb} out of range"));
            }
        }
        if next_sample != n_samples {
            return Err(format!(
                "threads cover {next_sample} of {n_samples} samples"
            ));
        }

        let sp = &self.spans;
        let n_spans = sp.thread.len();
        for (what, len) in [
            ("depth", sp.depth.len()),
            ("start_ns", sp.start_ns.len()),
            ("end_ns", sp.end_ns.len()),
            ("name", sp.name.len()),
        ] {
            same(len, n_spans, "spans", what)?;
        }
        for i in 0..n_spans {
            if sp.thread[i].get().is_none_or(|t| t.index() >= n_threads) {
                return Err(format!("span {i} has a thread out of range"));
            }
            if sp.end_ns[i] < sp.start_ns[i] || !str_ok(sp.name[i]) {
                return Err(format!("span {i} ends before it starts or has a bad name"));
            }
        }

        let l = &self.labels;
        for (what, len) in [
            ("str_value", l.str_value.len()),
            ("num_value", l.num_value.len()),
            ("num_unit", l.num_unit.len()),
        ] {
            same(len, l.key.len(), "labels", what)?;
        }
        if l.set_start.windows(2).any(|w| w[1] < w[0])
            || l.set_start
                .last()
                .is_some_and(|&e| e as usize > l.set_labels.len())
            || l.set_labels.iter().any(|&x| x as usize >= l.key.len())
        {
            return Err("label sets are out of order or name labels out of range".into());
        }
        if let Some(t) = self.meta.default_sample_type
            && t >= n_types.max(1)
        {
            return Err(format!("default sample type {t} of {n_types}"));
        }
        Ok(())
    }
}

fn same(len: usize, want: usize, table: &str, column: &str) -> Result<(), String> {
    if len == want {
        Ok(())
    } else {
        Err(format!("{table}.{column} has {len} rows, not {want}"))
    }
}

/// The weights of a sample type add up without overflowing.
fn total(mut weights: impl Iterator<Item = i64>, t: usize) -> Result<(), String> {
    weights
        .try_fold(0i64, |acc, w| acc.checked_add(w))
        .map(|_| ())
        .ok_or_else(|| format!("the weights of sample type {t} overflow when added"))
}

#[cfg(test)]
mod tests {
    use crate::model::{FuncKind, ModuleId, ProfileBuilder, StackId, Unit};

    fn small() -> crate::model::Profile {
        let mut b = ProfileBuilder::new("test");
        let cpu = b.add_sample_type("cpu", Unit::Count);
        let t = b.add_thread(1, 1);
        let main = b.add_named_frame("main", ModuleId::NONE, FuncKind::Native);
        let work = b.add_named_frame("work", ModuleId::NONE, FuncKind::Native);
        let stack = b.add_stack_root_first([main, work]);
        b.add_sample_one(t, stack, 5, cpu, 3);
        b.add_sample_one(t, stack, 7, cpu, 1);
        // Would overflow the total: the builder leaves it out and says so.
        b.add_sample_one(t, stack, 9, cpu, i64::MAX);
        b.freeze()
    }

    #[test]
    fn a_consistent_profile_passes_and_each_kind_of_damage_is_named() {
        let p = small();
        assert_eq!(p.samples.len(), 2);
        assert!(
            p.meta
                .warnings
                .iter()
                .any(|w| w.contains("1 samples were left out"))
        );
        p.check().unwrap();

        // Weights that overflow when added (as a damaged table would hold): named.
        let mut big = p.clone();
        if let super::SampleWeights::Tagged { weight, .. } = &mut big.samples.weights {
            weight.make_mut()[1] = i64::MAX;
        }
        assert!(big.check().unwrap_err().contains("overflow"));

        let mut forward = p.clone();
        forward.stacks.parent.make_mut()[0] = StackId::from_index(1);
        assert!(
            forward
                .check()
                .unwrap_err()
                .contains("not an earlier stack")
        );

        let mut gap = p.clone();
        gap.threads.sample_end[0] = 1;
        assert!(gap.check().unwrap_err().contains("cover 1 of 2"));

        let mut dangling = p.clone();
        dangling.samples.stack.make_mut()[0] = StackId::from_index(99);
        assert!(dangling.check().unwrap_err().contains("stack out of range"));
    }
}
