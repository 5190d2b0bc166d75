//! Disassembly of a native function with the cost of each instruction: the function's bytes
//! read from its binary (found as recorded or under search folders, checked by build-id),
//! decoded with iced-x86, and the sample addresses of the selection attributed to the
//! instruction containing them.

use super::StackWeights;
use super::calltree::stack_totals;
use crate::model::{FuncId, Profile};
use crate::symbols::ElfFile;
use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
use std::path::PathBuf;

/// One decoded instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instruction {
    /// Virtual address in the binary (as `objdump -d` prints it).
    pub address: u64,
    pub len: u32,
    /// AT&T syntax, as `objdump` and `perf annotate` print it.
    pub text: String,
    /// Samples whose program counter is this instruction.
    pub self_weight: i64,
    pub self_samples: u64,
    /// Samples with this instruction on the stack (itself, or a call made from it), each
    /// sample once.
    pub total_weight: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disassembly {
    /// The binary read.
    pub path: PathBuf,
    pub symbol: String,
    pub start: u64,
    pub end: u64,
    pub instructions: Vec<Instruction>,
}

/// Functions bigger than this are not disassembled.
const MAX_FUNCTION: u64 = 4 << 20;
const EM_X86_64: u16 = 62;

/// Finds the binary of module `m`: its recorded path, then each folder's file (and `bin/`
/// file) of the same name; a candidate whose build-id differs from the recorded one is skipped.
fn find_binary(p: &Profile, m: usize, dirs: &[PathBuf]) -> Result<ElfFile, String> {
    let recorded = p.str(p.modules.path[m]).to_owned();
    let name = p.str(p.modules.name[m]).to_owned();
    let want = p.modules.build_id[m].get().map(|b| p.str(b).to_owned());
    let mut candidates = vec![PathBuf::from(&recorded)];
    for d in dirs {
        candidates.push(d.join(&name));
        candidates.push(d.join("bin").join(&name));
    }
    let mut tried = Vec::new();
    for c in candidates {
        if !c.is_file() {
            continue;
        }
        match ElfFile::open(&c) {
            Ok(elf) => {
                let id = elf
                    .build_id
                    .as_ref()
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>());
                match (&want, &id) {
                    (Some(w), Some(i)) if !w.eq_ignore_ascii_case(i) => {
                        tried.push(format!("{} (another build)", c.display()))
                    }
                    _ => return Ok(elf),
                }
            }
            Err(e) => tried.push(format!("{}: {e}", c.display())),
        }
    }
    Err(if tried.is_empty() {
        format!("binary {recorded} not found (add its folder with --symbols DIR)")
    } else {
        format!("binary {recorded} not usable: {}", tried.join("; "))
    })
}

/// The instructions of `func` with their cost in a selection (`sw`).
pub fn disassemble(
    p: &Profile,
    sw: &StackWeights,
    func: FuncId,
    dirs: &[PathBuf],
) -> Result<Disassembly, String> {
    let f = func.index();
    let m = p
        .funcs
        .module
        .get(f)
        .and_then(|m| m.get())
        .ok_or("this function has no binary (not native code)")?
        .index();
    let elf = find_binary(p, m, dirs)?;
    if elf.machine() != EM_X86_64 {
        return Err(format!(
            "{}: disassembly is for x86-64 binaries only",
            elf.path.display()
        ));
    }
    // The function's symbol: by its recorded start, else by a sampled address of it.
    let mut sampled_svma = None;
    for s in 0..p.stacks.len().min(sw.count.len()) {
        let fr = p.stacks.frame[s].index();
        if p.frames.func[fr] == func && p.frames.inline_depth[fr] == 0 && sw.count[s] > 0 {
            sampled_svma = elf.svma(p.frames.address[fr]);
            break;
        }
    }
    let sym = [Some(p.funcs.address[f]).filter(|&a| a != 0), sampled_svma]
        .into_iter()
        .flatten()
        .find_map(|a| elf.symbol(a))
        .ok_or_else(|| {
            format!(
                "no symbol for {} in {}",
                p.func_name(func),
                elf.path.display()
            )
        })?;
    let (start, end) = (sym.start, sym.end);
    if end <= start || end - start > MAX_FUNCTION {
        return Err(format!(
            "{}: a {}-byte function is not disassembled",
            sym.name,
            end.saturating_sub(start)
        ));
    }
    let code = elf
        .code(start, end)
        .ok_or_else(|| format!("{}: its bytes are not in the file", sym.name))?;
    let mut out = Disassembly {
        path: elf.path.clone(),
        symbol: sym.name.clone(),
        start,
        end,
        ..Disassembly::default()
    };
    let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
    let mut formatter = GasFormatter::new();
    let mut text = String::new();
    for ins in decoder.iter() {
        text.clear();
        formatter.format(&ins, &mut text);
        out.instructions.push(Instruction {
            address: ins.ip(),
            len: ins.len() as u32,
            text: text.clone(),
            ..Instruction::default()
        });
    }
    attribute(p, sw, m, &elf, &mut out);
    Ok(out)
}

/// Adds the selection's weights to the instructions: self at the leaf frame's address, total
/// at the outermost frame of the stack inside the function.
fn attribute(p: &Profile, sw: &StackWeights, m: usize, elf: &ElfFile, out: &mut Disassembly) {
    let StackWeights {
        weight: total_w,
        count: total_c,
        ..
    } = stack_totals(p, sw);
    let n = total_w.len();
    let starts: Vec<u64> = out.instructions.iter().map(|i| i.address).collect();
    let find = |svma: u64| -> Option<usize> {
        if svma < out.start || svma >= out.end {
            return None;
        }
        starts.partition_point(|&a| a <= svma).checked_sub(1)
    };
    // Per stack: the instruction its frame is at (None: another function or module).
    let mut inside = vec![false; n];
    for s in 0..n {
        let fr = p.stacks.frame[s].index();
        let at = (p.frames.module[fr].get().map(|x| x.index()) == Some(m))
            .then(|| elf.svma(p.frames.address[fr]))
            .flatten()
            .and_then(find);
        let above = p.stacks.parent[s]
            .get()
            .is_some_and(|par| par.index() < n && inside[par.index()]);
        inside[s] = above || at.is_some();
        let Some(i) = at else {
            continue;
        };
        if total_c[s] == 0 {
            continue;
        }
        let ins = &mut out.instructions[i];
        ins.self_weight = ins.self_weight.saturating_add(sw.weight[s]);
        ins.self_samples += sw.count[s];
        if !above {
            ins.total_weight = ins.total_weight.saturating_add(total_w[s]);
        }
    }
}
