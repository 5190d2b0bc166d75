//! A flame graph as one standalone SVG file: static boxes any viewer draws, plus a small
//! embedded script that zooms, searches and shows details when the file is opened in a browser
//! (the idea of Brendan Gregg's `flamegraph.pl` and inferno; the code is ours).
//!
//! ```text
//!   ┌────────────────────────────────────────────────────────────┐
//!   │ Reset Zoom               Title                      Search │  top band
//!   │                         subtitle                           │
//!   │          [leaf]                                            │  row 3: depth 2
//!   │ [work          ][parse      ]                              │  row 2: depth 1
//!   │ [main                                          ][thread  ] │  row 1: depth 0 (roots)
//!   │ [all                                                     ] │  row 0: the selection
//!   │ details of the hovered frame                  Matched: 12% │  bottom band
//!   └────────────────────────────────────────────────────────────┘
//! ```
//!
//! Layout: an `all` box spans the graph (the selection's total, like flamegraph.pl's root),
//! each call node sits one row further from it per depth, its width ∝ its total weight and its
//! left edge at [`FlameLayout::start`] (siblings in name order). Root at the bottom by default,
//! at the top with [`SvgOptions::inverted`] (an icicle graph).
//!
//! Each frame is one `<g>` in `<g id="frames">`, in depth-first order:
//!
//! ```text
//! <g data-x="START" data-w="TOTAL" data-l="NAMELEN" data-o="OMITTED">
//!   <title>function (module) — 1.27 s, 42.00%, 127 samples</title>
//!   <rect x=".." y=".." width=".." height="15" fill="#rrggbb"/>
//!   <text x=".." y="..">functi..</text>
//! </g>
//! ```
//!
//! `data-x`/`data-w` are the exact start and width in weight units (so zooming in the browser
//! is exact, where pixel positions rounded to 0.01 px would not be), `data-l` the length of the
//! function name at the start of the title (UTF-16 units, what JavaScript's `slice` counts), so
//! the script can re-label boxes after a zoom without a second copy of every name, `data-o`
//! (only when not 0) the weight of the frame's children left out as too narrow. The module
//! is the function's module, else its source file (interpreted code), like the window's
//! colouring; boxes are coloured the same way as the window's default ("by module": one hue per
//! module, a warm hue from the name when there is neither).
//!
//! Size: boxes narrower than [`MIN_BOX_PX`] are left out together with their whole subtree (one
//! jump to `subtree_end`), so the file grows with what can be seen, not with the tree. The
//! drawn frames are therefore all the browser can zoom into, and all a search can look at: the
//! "Matched" share counts the drawn matches, each sample once, and when the omitted weight
//! outside them is 0.1% of the total or more it also shows the most the share could be
//! ("Matched: 6.5% (up to 9.0% with frames under 0.1 px)"). In typical profiles the omitted
//! weight is far below that; a bushy tree of a million distinct stacks is where it shows.
//! (Exact search would need every node's name in the file, which is what the cut-off avoids.)
//!
//! Text from the profile (names, modules, files, the title) only ever appears as XML text or
//! attribute values, escaped; control characters (invalid in XML 1.0) become spaces. The
//! script is a constant: no profile data is pasted into it, so no name can end its CDATA
//! section or inject code. Nothing recurses on stack depth, and the output depends only on the
//! input (no clock, no hash-map order).

use crate::analysis::{CallNodeTable, FlameLayout, Selection};
use crate::format::{bytes, duration_ns, grouped, hsl, stable_hash};
use crate::model::{FuncId, Profile, Unit};
use std::fmt::Write as _;
use std::io::Write;

/// Options of an SVG flame graph.
#[derive(Clone, Debug)]
pub struct SvgOptions {
    /// Shown at the top; empty = "Flame Graph" (or "Icicle Graph").
    pub title: String,
    /// A second line under the title (e.g. the event and threads); empty = none.
    pub subtitle: String,
    /// Root at the top (icicle graph) instead of the bottom.
    pub inverted: bool,
    /// Width of the image in pixels (at least 200).
    pub width: u32,
}

impl Default for SvgOptions {
    fn default() -> Self {
        Self {
            title: String::new(),
            subtitle: String::new(),
            inverted: false,
            width: 1200,
        }
    }
}

impl SvgOptions {
    pub fn titled(title: &str) -> Self {
        Self {
            title: title.to_string(),
            ..Self::default()
        }
    }
}

/// Boxes narrower than this (in pixels) are omitted with their subtree: flamegraph.pl's
/// default; below it a box is invisible and only makes the file bigger.
pub const MIN_BOX_PX: f64 = 0.1;
/// Height of a row; boxes are one pixel less, leaving a gap.
const ROW_PX: f64 = 16.0;
/// Left and right margin. The script uses the same value (`PAD`).
const PAD_PX: f64 = 10.0;
/// Advance of one character of the 12 px monospace font (0.6 em, DejaVu Sans Mono / Menlo /
/// Consolas): labels are cut with this estimate. The script uses the same value (`CHAR_PX`).
const CHAR_PX: f64 = 7.2;
/// Fewer characters than this fit: no label (the script: `MIN_CHARS`).
const MIN_LABEL_CHARS: usize = 3;
/// Baseline of a label below its box's top (the script: `TEXT_DY`).
const TEXT_DY: f64 = 11.5;
/// Fill of the `all` box.
const ALL_FILL: &str = "#d6d6d6";

/// Writes the flame graph of `sel` over `p` as an SVG.
pub fn write(
    p: &Profile,
    sel: &Selection,
    opts: &SvgOptions,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
    let nodes = CallNodeTable::build(p);
    let tree = nodes.tree(p, sel);
    let layout = FlameLayout::build(&nodes, &tree);
    let sample_type = p.sample_types.get(sel.sample_type);
    let unit = sample_type.map_or(Unit::Count, |t| t.unit);
    let type_name = sample_type.map_or("", |t| t.name.as_str());

    let width = f64::from(opts.width.max(200));
    let graph_px = width - 2.0 * PAD_PX;
    let scale = if layout.width > 0 {
        graph_px / layout.width as f64
    } else {
        0.0
    };
    // Box of node i: None when it is not drawn (with its subtree).
    let box_px = |i: usize| -> Option<(f64, f64)> {
        let total = tree.total_weight[i];
        if total <= 0 {
            return None;
        }
        let wpx = total as f64 * scale;
        (wpx >= MIN_BOX_PX).then(|| (PAD_PX + layout.start[i] as f64 * scale, wpx))
    };

    // Pass 1: the deepest drawn row sets the height (deep rows under 0.1 px take no room), and
    // the weight left out under each drawn frame (`omitted[n]`: under `all`) bounds what a
    // search cannot see.
    let n = nodes.len();
    let mut rows = 0u32; // drawn rows below `all`
    let mut omitted = vec![0i64; n + 1];
    if layout.width > 0 {
        let mut i = 0;
        while i < n {
            if box_px(i).is_some() {
                rows = rows.max(nodes.depth[i] + 1);
                i += 1;
            } else {
                if tree.total_weight[i] > 0 {
                    let parent = nodes.parent[i].get().map_or(n, |pp| pp.index());
                    omitted[parent] = omitted[parent].saturating_add(tree.total_weight[i]);
                }
                i = nodes.subtree_end[i] as usize;
            }
        }
    }
    let has_graph = layout.width > 0;
    let top_px = if opts.subtitle.is_empty() { 36.0 } else { 54.0 };
    let bottom_px = 34.0;
    let graph_rows = if has_graph { rows + 1 } else { 2 };
    let height = top_px + graph_rows as f64 * ROW_PX + bottom_px;
    // Top of the box on row r (0 = `all`).
    let row_y = |r: u32| -> f64 {
        if opts.inverted {
            top_px + r as f64 * ROW_PX
        } else {
            height - bottom_px - (r + 1) as f64 * ROW_PX
        }
    };

    let title = if !opts.title.is_empty() {
        opts.title.as_str()
    } else if opts.inverted {
        "Icicle Graph"
    } else {
        "Flame Graph"
    };
    let mut s = String::with_capacity(4096);
    let _ = write!(
        s,
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n",
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" ",
            "height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n",
            "<style type=\"text/css\"><![CDATA[\n{css}]]></style>\n",
            "<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f8\"/>\n",
            "<text id=\"title\" x=\"{cx}\" y=\"24\" text-anchor=\"middle\">",
        ),
        w = width,
        h = height,
        css = CSS,
        cx = width / 2.0,
    );
    escape_into(&mut s, title);
    s.push_str("</text>\n");
    if !opts.subtitle.is_empty() {
        let _ = write!(
            s,
            "<text id=\"subtitle\" x=\"{}\" y=\"42\" text-anchor=\"middle\">",
            width / 2.0
        );
        escape_into(&mut s, &opts.subtitle);
        s.push_str("</text>\n");
    }
    let _ = write!(
        s,
        concat!(
            "<text id=\"reset\" class=\"btn\" x=\"{pad}\" y=\"24\">Reset Zoom</text>\n",
            "<text id=\"search\" class=\"btn\" x=\"{right}\" y=\"24\" text-anchor=\"end\">",
            "Search</text>\n",
            "<text id=\"details\" x=\"{pad}\" y=\"{by}\">{idle}</text>\n",
            "<text id=\"matched\" x=\"{right}\" y=\"{by}\" text-anchor=\"end\"></text>\n",
        ),
        pad = PAD_PX,
        right = width - PAD_PX,
        by = height - 12.0,
        idle = if has_graph {
            "Hover a frame for details, click it to zoom; Ctrl-F searches."
        } else {
            ""
        },
    );
    w.write_all(s.as_bytes())?;

    if !has_graph {
        s.clear();
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">No samples in this selection</text>",
            width / 2.0,
            row_y(0) + TEXT_DY
        );
        s.push_str("</svg>\n");
        w.write_all(s.as_bytes())?;
        return w.flush();
    }

    let figures = |s: &mut String, weight: i64, samples: u64| {
        s.push_str(" — ");
        escape_into(s, &format_weight(weight, unit, type_name));
        let _ = write!(
            s,
            ", {}, {} sample{}",
            percent(weight, tree.total),
            grouped(samples as i64),
            if samples == 1 { "" } else { "s" }
        );
    };
    // The `all` box.
    s.clear();
    s.push_str("<g id=\"frames\">\n");
    let _ = write!(
        s,
        "<g data-x=\"0\" data-w=\"{}\" data-l=\"3\"{}><title>all",
        layout.width,
        OmittedAttr(omitted[n])
    );
    figures(&mut s, tree.total, tree.samples);
    push_box(&mut s, PAD_PX, row_y(0), graph_px, ALL_FILL, "all");
    w.write_all(s.as_bytes())?;

    // Pass 2: the call nodes, depth-first, skipping subtrees under the cut-off.
    let mut name = String::new();
    let mut i = 0;
    while i < n {
        let Some((x, wpx)) = box_px(i) else {
            i = nodes.subtree_end[i] as usize;
            continue;
        };
        let func = nodes.func[i];
        name.clear();
        clean_into(&mut name, p.func_name(func));
        if name.is_empty() {
            name.push_str("[unknown]");
        }
        let group = group_of(p, func);
        s.clear();
        let _ = write!(
            s,
            "<g data-x=\"{}\" data-w=\"{}\" data-l=\"{}\"{}><title>",
            layout.start[i],
            tree.total_weight[i],
            name.encode_utf16().count(),
            OmittedAttr(omitted[i])
        );
        escape_into(&mut s, &name);
        if !group.is_empty() {
            s.push_str(" (");
            escape_into(&mut s, group);
            s.push(')');
        }
        figures(&mut s, tree.total_weight[i], tree.total_samples[i]);
        let fill = if group.is_empty() {
            name_color(p.func_name(func))
        } else {
            module_color(group)
        };
        push_box(&mut s, x, row_y(nodes.depth[i] + 1), wpx, &hex(fill), &name);
        w.write_all(s.as_bytes())?;
        i += 1;
    }
    s.clear();
    s.push_str("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n");
    s.push_str(SCRIPT);
    s.push_str("]]></script>\n</svg>\n");
    w.write_all(s.as_bytes())?;
    w.flush()
}

/// ` data-o="W"`: the weight of a frame's children left out as too narrow (nothing for 0).
struct OmittedAttr(i64);

impl std::fmt::Display for OmittedAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 > 0 {
            write!(f, " data-o=\"{}\"", self.0)
        } else {
            Ok(())
        }
    }
}

/// Ends a frame's `<g>` after its title text: the box and its label.
fn push_box(s: &mut String, x: f64, y: f64, wpx: f64, fill: &str, name: &str) {
    let _ = write!(
        s,
        "</title><rect x=\"{x:.2}\" y=\"{y}\" width=\"{:.2}\" height=\"{}\" fill=\"{fill}\"/>",
        drawn_width(wpx),
        ROW_PX - 1.0
    );
    let label = label(name, wpx);
    if !label.is_empty() {
        let _ = write!(s, "<text x=\"{:.2}\" y=\"{}\">", x + 3.0, y + TEXT_DY);
        escape_into(s, &label);
        s.push_str("</text>");
    }
    s.push_str("</g>\n");
}

/// The width of the rectangle of a box `wpx` wide: one pixel less when it is wider than three,
/// so that neighbours of one colour (one module) stay apart, as in the window. The script's
/// `drawn` does the same.
fn drawn_width(wpx: f64) -> f64 {
    if wpx > 3.0 { wpx - 1.0 } else { wpx }
}

/// The label of a box `wpx` pixels wide: the name, cut with ".." to fit, or nothing when fewer
/// than three characters fit. The script's `label` does the same after a zoom.
fn label(name: &str, wpx: f64) -> String {
    let fit = ((wpx - 6.0) / CHAR_PX).floor();
    if fit < MIN_LABEL_CHARS as f64 {
        return String::new();
    }
    let fit = fit as usize;
    if name.chars().count() <= fit {
        return name.to_owned();
    }
    let mut out: String = name.chars().take(fit - 2).collect();
    out.push_str("..");
    out
}

/// What groups a function: its module, else its source file, else "".
fn group_of(p: &Profile, f: FuncId) -> &str {
    match p.func_module_name(f) {
        "" => p
            .funcs
            .file
            .get(f.index())
            .and_then(|s| s.get())
            .map_or("", |s| p.str(s)),
        m => m,
    }
}

/// `s` without characters XML 1.0 cannot carry (control characters become spaces; tab and line
/// breaks too, as a label is one line).
fn clean_into(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| match c {
        c if c.is_control() => ' ',
        '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }));
}

/// Appends `s` with the XML special characters escaped (valid in text and in attributes), and
/// cleaned as by [`clean_into`].
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// `w` in `unit`, as the window prints it (`1.27 s`, `3.2 MiB`); counts are followed by the
/// sample type's name (`12,345 cycles`).
fn format_weight(w: i64, unit: Unit, type_name: &str) -> String {
    match unit {
        Unit::Nanoseconds => duration_ns(w),
        Unit::Bytes => bytes(w),
        Unit::Events | Unit::Count if type_name.is_empty() => grouped(w),
        Unit::Events | Unit::Count => format!("{} {type_name}", grouped(w)),
    }
}

/// `part` of `whole` as `12.34%`.
fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "—".to_owned();
    }
    format!("{:.2}%", part as f64 * 100.0 / whole as f64)
}

// Colours: the window's palette (app/src/ui/flame.rs, light theme), so an exported graph looks
// like the one on screen.

type Rgb = [u8; 3];

fn hex([r, g, b]: Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A light colour per module (or source file).
fn module_color(module: &str) -> Rgb {
    let h = stable_hash(module);
    hsl((h % 360) as f32 / 360.0, 0.55, 0.72)
}

/// A warm (red to yellow) colour from the function name, like flamegraph.pl's.
fn name_color(name: &str) -> Rgb {
    let h = stable_hash(name);
    let hue = (h % 55) as f32 / 360.0;
    let sat = 0.75 + ((h >> 8) % 20) as f32 / 100.0;
    let light = 0.62 + ((h >> 16) % 10) as f32 / 100.0;
    hsl(hue, sat.min(1.0), light)
}

const CSS: &str = "\
text { font-family: \"DejaVu Sans Mono\", Menlo, Consolas, monospace; font-size: 12px; fill: #000; }
#title { font-size: 17px; }
#subtitle { fill: #555; }
.btn { cursor: pointer; fill: #333; text-decoration: underline; }
#reset { display: none; }
#reset.show { display: inline; }
#frames g { cursor: pointer; }
#frames g:hover rect { stroke: #000; stroke-width: 0.5; }
#frames g.hid { display: none; }
#frames g.anc { opacity: 0.45; }
";

/// The browser side, a constant (see the module docs). Frames are read back from the DOM:
/// `data-x`/`data-w` in weight units, the name as the first `data-l` characters of the title.
/// The constants at its top mirror `PAD_PX`, `CHAR_PX`, `MIN_LABEL_CHARS` and `TEXT_DY`;
/// `MATCH` is the fill of search matches, a saturated magenta unlike any pastel of the palette.
const SCRIPT: &str = r##""use strict";
(function () {
  var PAD = 10, CHAR_PX = 7.2, MIN_CHARS = 3, TEXT_DY = 11.5, MATCH = "#e600e6";
  var NS = "http://www.w3.org/2000/svg";
  var doc = document;
  var layer = doc.getElementById("frames");
  if (!layer) return;
  var svg = layer.ownerSVGElement;
  var graphPx = parseFloat(svg.getAttribute("width")) - 2 * PAD;
  var details = doc.getElementById("details");
  var matched = doc.getElementById("matched");
  var resetBtn = doc.getElementById("reset");
  var searchBtn = doc.getElementById("search");
  var idle = details.textContent;

  // Frames in document (depth-first) order; frames[0] is "all".
  var frames = [];
  var gs = layer.children;
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i];
    var rect = g.getElementsByTagName("rect")[0];
    var info = g.getElementsByTagName("title")[0].textContent;
    var f = {
      g: g, rect: rect, text: g.getElementsByTagName("text")[0] || null,
      x: Number(g.getAttribute("data-x")), w: Number(g.getAttribute("data-w")),
      omitted: Number(g.getAttribute("data-o")) || 0,
      y: parseFloat(rect.getAttribute("y")), fill: rect.getAttribute("fill"),
      name: info.slice(0, Number(g.getAttribute("data-l"))), info: info
    };
    g.frameIndex = i;
    frames.push(f);
  }
  if (!frames.length) return;
  var all = frames[0];
  // Rows from the root: the distance from the "all" row works for both orientations.
  function rowsFromRoot(f) { return Math.abs(f.y - all.y); }

  function label(name, px) {
    var fit = Math.floor((px - 6) / CHAR_PX);
    if (fit < MIN_CHARS) return "";
    var chars = Array.from(name);
    return chars.length <= fit ? name : chars.slice(0, fit - 2).join("") + "..";
  }

  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", (w > 3 ? w - 1 : w).toFixed(2));
    var s = label(f.name, w);
    if (!f.text) {
      if (!s) return;
      f.text = doc.createElementNS(NS, "text");
      f.text.setAttribute("y", String(f.y + TEXT_DY));
      f.g.appendChild(f.text);
    }
    f.text.setAttribute("x", (x + 3).toFixed(2));
    f.text.textContent = s;
  }

  // Zoom so that frame t spans the width: its ancestors stay full width (faded), the frames
  // above it are scaled, everything else is hidden.
  function zoom(t) {
    var scale = graphPx / t.w, depth = rowsFromRoot(t), end = t.x + t.w;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i], d = rowsFromRoot(f), cls = "";
      if (d < depth && f.x <= t.x && f.x + f.w >= end) {
        place(f, PAD, graphPx);
        cls = "anc";
      } else if (d >= depth && f.x >= t.x && f.x + f.w <= end) {
        place(f, PAD + (f.x - t.x) * scale, f.w * scale);
      } else {
        cls = "hid";
      }
      if (cls) f.g.setAttribute("class", cls); else f.g.removeAttribute("class");
    }
    resetBtn.setAttribute("class", t === all ? "btn" : "btn show");
  }

  var term = "";
  // Highlights the frames whose name matches the regular expression `re` and shows the share
  // of the total under them, each sample once: in depth-first order a frame's descendants
  // follow it and start before its end, so matches inside a counted match are skipped. Frames
  // too narrow to draw are not in the file; what they weigh outside the counted matches
  // (`data-o`) is the most the true share can be above the figure, shown when it matters.
  function search(re) {
    var sum = 0, unseen = 0, end = -Infinity;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i], hit = re !== null && re.test(f.name);
      f.rect.setAttribute("fill", hit ? MATCH : f.fill);
      if (f.x < end) continue;
      if (hit) { sum += f.w; end = f.x + f.w; } else unseen += f.omitted;
    }
    var pct = function (v) { return (all.w > 0 ? 100 * v / all.w : 0).toFixed(1) + "%"; };
    matched.textContent = re === null ? "" : "Matched: " + pct(sum) +
      (unseen * 1000 >= all.w ? " (up to " + pct(sum + unseen) + " with frames under 0.1 px)" : "");
    return sum;
  }
  function askSearch() {
    var t = window.prompt("Search for a function (regular expression; empty clears)", term);
    if (t === null) return;
    if (!t) { term = ""; search(null); return; }
    var re;
    try { re = new RegExp(t); } catch (e) { details.textContent = "Invalid regular expression: " + e.message; return; }
    term = t;
    search(re);
  }

  function frameOf(node) {
    while (node && node.parentNode !== layer) node = node.parentNode;
    return node ? frames[node.frameIndex] : null;
  }
  layer.addEventListener("click", function (e) { var f = frameOf(e.target); if (f) zoom(f); });
  layer.addEventListener("mouseover", function (e) { var f = frameOf(e.target); if (f) details.textContent = f.info; });
  layer.addEventListener("mouseout", function () { details.textContent = idle; });
  resetBtn.addEventListener("click", function () { zoom(all); });
  searchBtn.addEventListener("click", askSearch);
  doc.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) { e.preventDefault(); askSearch(); }
    else if (e.key === "Escape") zoom(all);
  });
  // For tests and the console.
  window.flamegraph = { zoom: function (i) { zoom(frames[i]); }, frames: frames,
    search: function (t) { term = t || ""; return search(t ? new RegExp(t) : null); } };
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FuncKind, ModuleId, ProfileBuilder, StackId};

    /// A profile from `frame;frame;frame weight` lines (root first), one sample per line.
    fn profile(lines: &str, unit: Unit) -> Profile {
        let mut b = ProfileBuilder::new("test");
        let ty = b.add_sample_type("cpu", unit);
        let t = b.add_thread(1, 1);
        for (time, line) in lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let (stack, w) = line.rsplit_once(' ').unwrap();
            let frames: Vec<_> = stack
                .split(';')
                .map(|f| b.add_named_frame(f, ModuleId::NONE, FuncKind::Native))
                .collect();
            let s = b.add_stack_root_first(frames);
            b.add_sample_one(t, s, time as u64, ty, w.parse().unwrap());
        }
        b.freeze()
    }

    fn svg(p: &Profile, opts: &SvgOptions) -> String {
        let mut out = Vec::new();
        write(p, &Selection::all(0), opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// One `<g>` of the frames layer, read back.
    #[derive(Debug)]
    struct Frame {
        start: i64,
        weight: i64,
        /// `data-o`: weight of the children left out.
        omitted: i64,
        name: String,
        title: String,
        x: f64,
        y: f64,
        width: f64,
        label: Option<String>,
    }

    impl Frame {
        /// The box's width: the rectangle's plus the gap [`drawn_width`] leaves (`px` per unit).
        fn box_width(&self, px: f64) -> f64 {
            let gap = if self.weight as f64 * px > 3.0 {
                1.0
            } else {
                0.0
            };
            self.width + gap
        }
    }

    fn attr(tag: &str, name: &str) -> String {
        let key = format!(" {name}=\"");
        let a = tag
            .find(&key)
            .unwrap_or_else(|| panic!("{name} missing in {tag}"))
            + key.len();
        let b = a + tag[a..].find('"').unwrap();
        tag[a..b].to_string()
    }

    fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
        let a = s.find(open)? + open.len();
        let b = a + s[a..].find(close)?;
        Some(&s[a..b])
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    fn frames(svg: &str) -> Vec<Frame> {
        let layer = between(svg, "<g id=\"frames\">\n", "</g>\n<script").unwrap();
        layer
            .split("</g>\n")
            .filter(|g| !g.is_empty())
            .map(|g| {
                let open = &g[..g.find('>').unwrap()];
                let rect = between(g, "<rect", "/>").unwrap();
                let title = unescape(between(g, "<title>", "</title>").unwrap());
                let len: usize = attr(open, "data-l").parse().unwrap();
                let name = String::from_utf16(&title.encode_utf16().take(len).collect::<Vec<_>>())
                    .unwrap();
                Frame {
                    start: attr(open, "data-x").parse().unwrap(),
                    weight: attr(open, "data-w").parse().unwrap(),
                    omitted: if open.contains(" data-o=") {
                        attr(open, "data-o").parse().unwrap()
                    } else {
                        0
                    },
                    name,
                    title,
                    x: attr(rect, "x").parse().unwrap(),
                    y: attr(rect, "y").parse().unwrap(),
                    width: attr(rect, "width").parse().unwrap(),
                    label: between(g, "<text ", "</text>")
                        .map(|t| unescape(&t[t.find('>').unwrap() + 1..])),
                }
            })
            .collect()
    }

    /// A small XML well-formedness check: balanced tags, quoted attributes, known entities,
    /// nothing after the root.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        let mut closed_root = false;
        while let Some(lt) = rest.find(['<', '&']) {
            let text = &rest[..lt];
            assert!(!text.contains('>') || !closed_root, "text after the root");
            rest = &rest[lt..];
            if rest.starts_with('&') {
                let semi = rest.find(';').expect("entity without ;");
                let ent = &rest[1..semi];
                assert!(
                    ["lt", "gt", "amp", "quot", "#39"].contains(&ent),
                    "unknown entity &{ent};"
                );
                rest = &rest[semi + 1..];
            } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
                let end = r.find("]]>").expect("unterminated CDATA");
                rest = &r[end + 3..];
            } else if let Some(r) = rest.strip_prefix("<?") {
                rest = &r[r.find("?>").unwrap() + 2..];
            } else if let Some(r) = rest.strip_prefix("</") {
                let end = r.find('>').unwrap();
                let name = &r[..end];
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
                closed_root = stack.is_empty();
                rest = &r[end + 1..];
            } else {
                let r = &rest[1..];
                // The tag runs to the first '>' outside quotes.
                let mut quoted = false;
                let mut end = None;
                for (i, c) in r.char_indices() {
                    match c {
                        '"' => quoted = !quoted,
                        '<' => assert!(!quoted, "< in an attribute: {}", &r[..i]),
                        '>' if !quoted => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.expect("unterminated tag");
                let tag = &r[..end];
                let name = tag.split([' ', '/']).next().unwrap();
                assert!(!closed_root, "second root <{name}>");
                if !tag.ends_with('/') {
                    stack.push(name);
                }
                rest = &r[end + 1..];
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert!(closed_root);
    }

    const GRAPH_PX: f64 = 1200.0 - 2.0 * PAD_PX;

    #[test]
    fn frames_match_the_call_tree() {
        let p = profile(
            "main;a;b 3
             main;a 2
             main;c;b 5
             main;c;<T&U>\"'::f 1
             other 1",
            Unit::Nanoseconds,
        );
        let nodes = CallNodeTable::build(&p);
        let tree = nodes.tree(&p, &Selection::all(0));
        let layout = FlameLayout::build(&nodes, &tree);
        for inverted in [false, true] {
            let out = svg(
                &p,
                &SvgOptions {
                    inverted,
                    ..SvgOptions::titled("t")
                },
            );
            assert_well_formed(&out);
            let fs = frames(&out);
            assert_eq!(
                fs.len(),
                nodes.len() + 1,
                "every node is wide enough, plus all"
            );
            let all = &fs[0];
            assert_eq!((all.name.as_str(), all.weight), ("all", 12));
            assert_eq!(all.title, "all — 12 ns, 100.00%, 5 samples");
            let row = if inverted { ROW_PX } else { -ROW_PX };
            // Frames come in the call node table's depth-first order.
            for (i, f) in fs[1..].iter().enumerate() {
                assert_eq!(f.name, p.func_name(nodes.func[i]));
                assert_eq!((f.start, f.weight), (layout.start[i], tree.total_weight[i]));
                let samples = tree.total_samples[i];
                assert_eq!(
                    f.title,
                    format!(
                        "{} — {} ns, {:.2}%, {samples} sample{}",
                        f.name,
                        f.weight,
                        f.weight as f64 * 100.0 / 12.0,
                        if samples == 1 { "" } else { "s" }
                    )
                );
                // Width ∝ total weight, left edge ∝ start (within the 0.01 px rounding; the
                // rectangle leaves a 1 px gap on the right of boxes wider than 3 px).
                let px = GRAPH_PX / 12.0;
                assert!(
                    (f.box_width(px) - f.weight as f64 * px).abs() <= 0.006,
                    "{f:?}"
                );
                assert!((f.x - PAD_PX - f.start as f64 * px).abs() <= 0.006, "{f:?}");
                // One row further from the root than the parent, inside its x range.
                let parent = match nodes.parent[i].get() {
                    Some(pp) => &fs[pp.index() + 1],
                    None => all,
                };
                assert_eq!(f.y, parent.y + row, "{f:?} over {parent:?}");
                assert!(f.x >= parent.x - 0.006, "{f:?} in {parent:?}");
                assert!(
                    f.x + f.box_width(px) <= parent.x + parent.box_width(px) + 0.012,
                    "{f:?} in {parent:?}"
                );
            }
            // Escaping: the template-ish name is there, escaped, and nowhere raw.
            assert!(out.contains("<title>&lt;T&amp;U&gt;&quot;&#39;::f — 1 ns, 8.33%, 1 sample"));
            assert!(!out.contains("<T&U>"));
            // Labels: cut to fit (the 1 ns box is 98 px: 12 characters), full when they fit.
            let t = fs.iter().find(|f| f.name.starts_with("<T")).unwrap();
            assert_eq!(t.label.as_deref(), Some("<T&U>\"'::f"));
            let main = fs.iter().find(|f| f.name == "main").unwrap();
            assert_eq!(main.label.as_deref(), Some("main"));
        }
    }

    #[test]
    fn labels_are_cut_with_two_dots() {
        let w = |chars: f64| 6.0 + chars * CHAR_PX + 0.001;
        assert_eq!(label("abcdefghij", w(10.0)), "abcdefghij");
        assert_eq!(label("abcdefghij", w(9.9)), "abcdefg..");
        assert_eq!(label("abcdefghij", w(5.0)), "abc..");
        assert_eq!(label("abcdefghij", w(3.0)), "a..");
        assert_eq!(label("abcdefghij", w(2.9)), "");
        assert_eq!(label("ab", w(3.0)), "ab");
        assert_eq!(label("ééééé", w(4.0)), "éé..");
    }

    #[test]
    fn narrow_boxes_are_left_out_with_their_subtree() {
        // 1180 px over 1,000,101 units: 1 unit ≈ 0.00118 px, 100 units ≈ 0.118 px.
        let p = profile(
            "main;big 1000000
             main;tiny;x;y;z 1
             main;small 50
             main;small;under 50",
            Unit::Count,
        );
        let out = svg(&p, &SvgOptions::titled("cut"));
        assert_well_formed(&out);
        let names: Vec<String> = frames(&out).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["all", "main", "big", "small"]);
        // What was left out under each frame, for the search's bound.
        let omitted: Vec<i64> = frames(&out).into_iter().map(|f| f.omitted).collect();
        assert_eq!(omitted, [0, 1, 0, 50]);
        let small = frames(&out)
            .into_iter()
            .find(|f| f.name == "small")
            .unwrap();
        assert!(
            small.width >= MIN_BOX_PX && small.label.is_none(),
            "{small:?}"
        );
        assert!(
            small.title.ends_with("— 100 cpu, 0.01%, 2 samples"),
            "{small:?}"
        );
        // The height counts drawn rows only: all, main, big.
        assert!(out.contains(&format!("height=\"{}\"", 36.0 + 3.0 * ROW_PX + 34.0)));
    }

    #[test]
    fn a_100k_deep_stack_on_a_small_thread_stack() {
        let mut b = ProfileBuilder::new("deep");
        b.add_sample_type("samples", Unit::Count);
        let t = b.add_thread(1, 1);
        let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
        let mut s = StackId::NONE;
        for _ in 0..100_000 {
            s = b.add_stack(s, f);
        }
        b.add_sample_one(t, s, 0, 0, 1);
        let p = b.freeze();
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let out = svg(&p, &SvgOptions::titled("deep"));
                assert_eq!(out.matches("<rect x=").count(), 100_001);
                let height = 36.0 + 100_001.0 * ROW_PX + 34.0;
                assert!(out.contains(&format!("height=\"{height}\"")));
                // The deepest box sits at the top (flame graph).
                assert!(out.contains("<rect x=\"10.00\" y=\"36\" width=\"1179.00\""));
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn modules_and_files_name_and_colour_frames() {
        let mut b = ProfileBuilder::new("m");
        let ty = b.add_sample_type("alloc", Unit::Bytes);
        let t = b.add_thread(1, 1);
        let libc = b.add_module("/usr/lib/libc.so.6", "", crate::model::ModuleKind::Native);
        let malloc = b.add_named_frame("malloc", libc, FuncKind::Native);
        let name = b.intern("parse");
        let file = b.intern("work.py");
        let func = b.add_func(name, ModuleId::NONE, file, 0, FuncKind::Interpreted);
        let parse = b.add_frame(func, ModuleId::NONE, 0, 3, 0);
        let emoji = b.add_named_frame("f😀\u{1}", ModuleId::NONE, FuncKind::Native);
        let s = b.add_stack_root_first([parse, malloc]);
        b.add_sample_one(t, s, 0, ty, 3 << 20);
        let s = b.add_stack_root_first([emoji]);
        b.add_sample_one(t, s, 1, ty, 1 << 20);
        let p = b.freeze();
        let out = svg(&p, &SvgOptions::titled("m"));
        assert_well_formed(&out);
        let fs = frames(&out);
        let by = |n: &str| {
            fs.iter()
                .find(|f| f.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(
            by("malloc").title,
            "malloc (libc.so.6) — 3.0 MiB, 75.00%, 1 sample"
        );
        assert_eq!(
            by("parse").title,
            "parse (work.py) — 3.0 MiB, 75.00%, 1 sample"
        );
        // Control characters become spaces; data-l counts UTF-16 units (😀 is two).
        assert_eq!(by("f😀 ").title, "f😀  — 1.0 MiB, 25.00%, 1 sample");
        assert!(out.contains("data-l=\"4\""));
        // Colours as in the window: by module, else file, else a warm hue from the name.
        assert!(out.contains(&hex(module_color("libc.so.6"))));
        assert!(out.contains(&hex(module_color("work.py"))));
        assert!(out.contains(&hex(name_color("f😀\u{1}"))));
    }

    #[test]
    fn output_is_deterministic_and_the_script_constant() {
        let p = profile("a;b 1\na;c 2\nd 3", Unit::Events);
        let opts = SvgOptions {
            subtitle: "]]></script><script>alert(1)</script>".into(),
            ..SvgOptions::titled("<![CDATA[ & ]]>")
        };
        let (a, b) = (svg(&p, &opts), svg(&p, &opts));
        assert_eq!(a, b);
        assert_well_formed(&a);
        // Profile text never reaches the script; the script never ends its CDATA early.
        let script = between(&a, "<![CDATA[\n\"use strict\"", "]]></script>").unwrap();
        assert_eq!(format!("\"use strict\"{script}"), SCRIPT);
        assert!(!SCRIPT.contains("]]>") && !CSS.contains("]]>"));
        assert!(a.contains("&lt;![CDATA[ &amp; ]]&gt;"));
        assert!(a.contains("3 cpu, 50.00%, 1 sample"));
    }

    #[test]
    fn an_empty_selection_says_so() {
        let p = profile("a 1", Unit::Count);
        let mut out = Vec::new();
        let sel = Selection {
            ranges: vec![(100, 200)],
            ..Selection::all(0)
        };
        write(&p, &sel, &SvgOptions::default(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_well_formed(&out);
        assert!(out.contains("No samples in this selection"));
        assert!(out.contains(">Flame Graph</text>"));
        assert!(!out.contains("<script"));
    }
}
