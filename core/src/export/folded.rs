//! Folded stacks out: `root;caller;callee weight`, one line per distinct stack with weight in
//! the chosen sample type, as `inferno-flamegraph` and `flamegraph.pl` read them.
//!
//! Names are the functions' names (inlined functions are frames of their own). An interpreted
//! function with a source file is written `name (file:line)` as py-spy does, which stacklens'
//! folded reader turns back into function, file and line. `;` and line breaks inside a name
//! would split it, so they become `:` and spaces.

use crate::analysis::{Selection, stack_weights};
use crate::model::{FuncKind, Profile, StackId};
use rustc_hash::FxHashMap;
use std::io::Write;

/// Writes the stacks of `sample_type` with their summed weights. Stacks that differ only in
/// what folded text cannot show (addresses, lines, modules) become one line.
pub fn write(p: &Profile, sample_type: usize, w: &mut impl Write) -> std::io::Result<()> {
    let sw = stack_weights(p, &Selection::all(sample_type));
    let mut path = Vec::new();
    let mut line = String::new();
    let mut lines: Vec<(String, i64)> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    for (s, &weight) in sw.weight.iter().enumerate() {
        if weight <= 0 {
            continue;
        }
        path.clear();
        let mut cur = StackId::from_index(s);
        while let Some(c) = cur.get() {
            path.push(p.stacks.frame[c.index()]);
            cur = p.stacks.parent[c.index()];
        }
        line.clear();
        for (i, &frame) in path.iter().rev().enumerate() {
            if i > 0 {
                line.push(';');
            }
            let f = p.frames.func[frame.index()];
            push_clean(&mut line, p.func_name(f));
            let file = p.funcs.file.get(f.index()).and_then(|s| s.get());
            if let (Some(FuncKind::Interpreted), Some(file)) = (p.funcs.kind.get(f.index()), file) {
                line.push_str(" (");
                push_clean(&mut line, p.str(file));
                let l = p.frames.line[frame.index()];
                if l != 0 {
                    line.push(':');
                    line.push_str(&l.to_string());
                }
                line.push(')');
            }
        }
        match index.get(&line) {
            Some(&i) => lines[i].1 = lines[i].1.saturating_add(weight),
            None => {
                index.insert(line.clone(), lines.len());
                lines.push((line.clone(), weight));
            }
        }
    }
    for (line, weight) in lines {
        writeln!(w, "{line} {weight}")?;
    }
    Ok(())
}

fn push_clean(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("[unknown]");
        return;
    }
    out.extend(s.chars().map(|c| match c {
        ';' => ':',
        '\n' | '\r' => ' ',
        c => c,
    }));
}
