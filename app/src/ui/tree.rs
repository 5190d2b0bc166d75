//! The call tree as a table with expandable rows: top-down (callers to callees) or bottom-up
//! (the functions samples were in, then their callers). Children are sorted by total. Only the
//! expanded part is flattened into rows, and only the rows in view are laid out.
//!
//! Keyboard: Up/Down move, Right expands (or goes to the first child), Left collapses (or goes
//! to the parent), `*` expands everything below the selected row.

use super::document::Action;
use super::flame::percent;
use super::table::cell;
use crate::format;
use egui::{Key, Sense, Ui};
use egui_extras::{Column, TableBuilder};
use rustc_hash::{FxHashMap, FxHashSet};
use stacklens_core::analysis::{CallNodeTable, CallTree};
use stacklens_core::model::{Profile, Unit};

/// A node is named by the functions on its path, so expansions survive a new selection (call
/// node numbers of the bottom-up tree change with it). A path is a number given by [`Paths`].
type Path = u32;

/// Paths from a root, as numbers: (the parent path, function) → path. A row's path, an open
/// path and the selection are one number each, so a chain expanded `d` deep costs memory and
/// time in proportion to `d`, not `d²` as whole paths per row would.
#[derive(Default)]
struct Paths {
    index: FxHashMap<(u32, u32), Path>,
}

impl Paths {
    /// The path of function `func` under `parent` (`None`: a root).
    fn child(&mut self, parent: Option<Path>, func: u32) -> Path {
        let next = self.index.len() as Path;
        *self
            .index
            .entry((parent.map_or(0, |p| p + 1), func))
            .or_insert(next)
    }
}

/// Depth levels indented at most; deeper rows say their depth instead.
const MAX_INDENT: u32 = 48;

#[derive(Default)]
pub struct TreeState {
    pub bottom_up: bool,
    known: Paths,
    expanded: [FxHashSet<Path>; 2],
    selected: [Option<Path>; 2],
    /// Rows in display order: (call node, depth, has children).
    rows: Vec<(u32, u32, bool)>,
    paths: Vec<Path>,
    /// (tree identity, expansion version) the rows are for.
    rows_for: Option<(usize, u64)>,
    version: u64,
    /// Scroll to the selected row in the next frame.
    scroll_to_selected: bool,
}

/// Rows flattened at most (a fully expanded giant tree stays usable).
const MAX_ROWS: usize = 200_000;

impl TreeState {
    fn side(&self) -> usize {
        self.bottom_up as usize
    }

    /// The children of `n` with weight, heaviest first.
    fn children(nodes: &CallNodeTable, tree: &CallTree, n: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut c = n + 1;
        while c < nodes.subtree_end[n] as usize {
            if tree.total_weight[c] != 0 || tree.total_samples[c] > 0 {
                out.push(c);
            }
            c = nodes.subtree_end[c] as usize;
        }
        out.sort_by(|&a, &b| tree.total_weight[b].cmp(&tree.total_weight[a]));
        out
    }

    fn roots(nodes: &CallNodeTable, tree: &CallTree) -> Vec<usize> {
        let mut out = Vec::new();
        let mut c = 0;
        while c < nodes.len() {
            if tree.total_weight[c] != 0 || tree.total_samples[c] > 0 {
                out.push(c);
            }
            c = nodes.subtree_end[c] as usize;
        }
        out.sort_by(|&a, &b| tree.total_weight[b].cmp(&tree.total_weight[a]));
        out
    }

    /// Flattens the expanded part of the tree (iteratively: deep trees are fine).
    fn update_rows(&mut self, nodes: &CallNodeTable, tree: &CallTree, identity: usize) {
        let key = (identity, self.version);
        if self.rows_for == Some(key) {
            return;
        }
        puffin::profile_function!();
        self.rows_for = Some(key);
        let side = self.side();
        if self.expanded[side].is_empty() && self.selected[side].is_none() {
            // First look: open the heaviest path a few levels down.
            let mut path = None;
            let mut at = Self::roots(nodes, tree).first().copied();
            for _ in 0..12 {
                let Some(n) = at else { break };
                let p = self.known.child(path, nodes.func[n].0);
                self.expanded[side].insert(p);
                path = Some(p);
                at = Self::children(nodes, tree, n).first().copied();
            }
        }
        self.rows.clear();
        self.paths.clear();
        // The path of the row last placed at each level.
        let mut path: Vec<Path> = Vec::new();
        let mut todo: Vec<(usize, u32)> = Self::roots(nodes, tree)
            .into_iter()
            .rev()
            .map(|n| (n, 0))
            .collect();
        while let Some((n, level)) = todo.pop() {
            if self.rows.len() >= MAX_ROWS {
                break;
            }
            path.truncate(level as usize);
            let p = self.known.child(path.last().copied(), nodes.func[n].0);
            path.push(p);
            let kids = Self::children(nodes, tree, n);
            self.rows.push((n as u32, level, !kids.is_empty()));
            self.paths.push(p);
            if self.expanded[side].contains(&p) {
                todo.extend(kids.into_iter().rev().map(|c| (c, level + 1)));
            }
        }
    }

    fn selected_row(&self) -> Option<usize> {
        let sel = self.selected[self.side()]?;
        self.paths.iter().position(|&p| p == sel)
    }

    fn select(&mut self, row: usize) {
        if let Some(&p) = self.paths.get(row) {
            self.selected[self.side()] = Some(p);
            self.scroll_to_selected = true;
        }
    }

    fn set_expanded(&mut self, row: usize, open: bool) {
        let side = self.side();
        if let Some(&p) = self.paths.get(row) {
            let changed = if open {
                self.expanded[side].insert(p)
            } else {
                self.expanded[side].remove(&p)
            };
            if changed {
                self.version += 1;
            }
        }
    }

    /// Expands everything under `row` (up to a bound on the number of nodes).
    fn expand_all(&mut self, nodes: &CallNodeTable, tree: &CallTree, row: usize) {
        let (Some(&(n, _, _)), Some(&path)) = (self.rows.get(row), self.paths.get(row)) else {
            return;
        };
        let side = self.side();
        let mut todo = vec![(n as usize, path)];
        let mut budget = 5000;
        while let Some((n, path)) = todo.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let kids = Self::children(nodes, tree, n);
            if kids.is_empty() {
                continue;
            }
            for c in kids {
                todo.push((c, self.known.child(Some(path), nodes.func[c].0)));
            }
            self.expanded[side].insert(path);
        }
        self.version += 1;
    }

    /// Arrow keys (when no text field has focus).
    fn keyboard(&mut self, ui: &Ui, nodes: &CallNodeTable, tree: &CallTree) {
        if ui.ctx().memory(|m| m.focused().is_some()) || self.rows.is_empty() {
            return;
        }
        let (up, down, left, right, star) = ui.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, Key::ArrowUp),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowDown),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowLeft),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowRight),
                i.events
                    .iter()
                    .any(|e| matches!(e, egui::Event::Text(t) if t == "*")),
            )
        });
        let cur = self.selected_row();
        let Some(cur) = cur else {
            if up || down || left || right {
                self.select(0);
            }
            return;
        };
        let (_, level, has_kids) = self.rows[cur];
        let open = self.expanded[self.side()].contains(&self.paths[cur]);
        if down && cur + 1 < self.rows.len() {
            self.select(cur + 1);
        } else if up && cur > 0 {
            self.select(cur - 1);
        } else if right && has_kids {
            if open {
                self.select(cur + 1);
            } else {
                self.set_expanded(cur, true);
            }
        } else if left {
            if open && has_kids {
                self.set_expanded(cur, false);
            } else if level > 0 {
                let parent = (0..cur).rev().find(|&r| self.rows[r].1 < level);
                if let Some(r) = parent {
                    self.select(r);
                }
            }
        } else if star {
            self.expand_all(nodes, tree, cur);
        }
    }
}

/// The tree table of `nodes`/`tree` (the main tree, or the bottom-up one); `identity` changes
/// whenever the tree does.
pub fn show(
    ui: &mut Ui,
    state: &mut TreeState,
    p: &Profile,
    nodes: &CallNodeTable,
    tree: &CallTree,
    identity: usize,
    unit: Unit,
) -> Option<Action> {
    puffin::profile_function!();
    state.update_rows(nodes, tree, identity);
    state.keyboard(ui, nodes, tree);
    state.update_rows(nodes, tree, identity);
    let total = tree.total;
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let selected = state.selected_row();
    let mut action = None;
    let mut toggle = None;
    let mut pick = None;
    let scroll_to = if std::mem::take(&mut state.scroll_to_selected) {
        selected
    } else {
        None
    };
    let mut builder = TableBuilder::new(ui)
        .id_salt(("call-tree", state.bottom_up))
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .columns(Column::auto().at_least(72.0), 4)
        .column(Column::remainder().at_least(200.0).clip(true));
    if let Some(r) = scroll_to {
        builder = builder.scroll_to_row(r, None);
    }
    builder
        .header(20.0, |mut header| {
            for label in ["Total", "Total %", "Self", "Self %", "Function"] {
                header.col(|ui| {
                    ui.strong(label);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, state.rows.len(), |mut row| {
                let r = row.index();
                let Some(&(n, level, has_kids)) = state.rows.get(r) else {
                    return;
                };
                let n = n as usize;
                let func = nodes.func[n];
                row.set_selected(selected == Some(r));
                let (tw, sw) = (tree.total_weight[n], tree.self_weight[n]);
                row.col(|ui| cell(ui, format::weight(tw, unit)));
                row.col(|ui| cell(ui, percent(tw, total)));
                row.col(|ui| cell(ui, format::weight(sw, unit)));
                row.col(|ui| cell(ui, percent(sw, total)));
                row.col(|ui| {
                    ui.add_space(level.min(MAX_INDENT) as f32 * 14.0);
                    let open = state.expanded[state.side()].contains(&state.paths[r]);
                    let (rect, resp) =
                        ui.allocate_exact_size(egui::vec2(14.0, 14.0), Sense::click());
                    if has_kids {
                        disclosure(ui, rect, open);
                        if resp.clicked() {
                            toggle = Some((r, !open));
                        }
                    }
                    let name = p.func_name(func);
                    let module = p.func_module_name(func);
                    // Past the deepest indent, the depth is written out instead.
                    if level > MAX_INDENT {
                        ui.weak(format!("⋯{level}"));
                    }
                    if module.is_empty() {
                        cell(ui, name);
                    } else {
                        cell(ui, format!("{name}  [{module}]"));
                    }
                });
                let resp = row.response();
                if resp.clicked() {
                    pick = Some(r);
                    action = Some(Action::Highlight(func));
                }
                if resp.double_clicked() && has_kids {
                    let open = state.expanded[state.side()].contains(&state.paths[r]);
                    toggle = Some((r, !open));
                }
                resp.context_menu(|ui| {
                    ui.label(egui::RichText::new(p.func_name(func)).strong());
                    ui.separator();
                    if ui.button("Callers and callees").clicked() {
                        action = Some(Action::Sandwich(func));
                        ui.close();
                    }
                    if ui.button("Show source").clicked() {
                        action = Some(Action::Source(func));
                        ui.close();
                    }
                    for (label, t) in super::flame::function_transforms(p, func) {
                        if ui.button(label).clicked() {
                            action = Some(Action::Transform(t));
                            ui.close();
                        }
                    }
                });
            });
        });
    if let Some(r) = pick {
        state.select(r);
        state.scroll_to_selected = false;
    }
    if let Some((r, open)) = toggle {
        state.set_expanded(r, open);
    }
    action
}

/// A triangle pointing right (closed) or down (open).
fn disclosure(ui: &Ui, r: egui::Rect, open: bool) {
    let c = r.center();
    let points = if open {
        vec![
            egui::pos2(c.x - 4.0, c.y - 2.5),
            egui::pos2(c.x + 4.0, c.y - 2.5),
            egui::pos2(c.x, c.y + 3.5),
        ]
    } else {
        vec![
            egui::pos2(c.x - 2.5, c.y - 4.0),
            egui::pos2(c.x + 3.5, c.y),
            egui::pos2(c.x - 2.5, c.y + 4.0),
        ]
    };
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        ui.visuals().text_color(),
        egui::Stroke::NONE,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use stacklens_core::analysis::Selection;
    use stacklens_core::{LoadOptions, Progress};

    /// A chain 100,000 calls deep, opened all the way down, flattens to one row per level. With
    /// a whole path kept per row and per open node, this was 2·10^10 bytes and as many steps.
    #[test]
    fn a_chain_100000_deep_opened_all_the_way_is_linear() {
        const DEPTH: usize = 100_000;
        let mut text = (0..DEPTH)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>()
            .join(";");
        text.push_str(" 7\n");
        let p =
            stacklens_core::load_bytes(text.as_bytes(), &LoadOptions::default(), &Progress::new())
                .unwrap();
        let nodes = CallNodeTable::build(&p);
        let tree = nodes.tree(&p, &Selection::all(0));
        let mut state = TreeState::default();
        state.update_rows(&nodes, &tree, 1);
        // The first look opens a few levels by itself.
        assert_eq!(state.rows.len(), 13);
        // Open every row as it appears, `*` (5,000 nodes a press) from the last row each time.
        while state.rows.len() < DEPTH {
            let before = state.rows.len();
            state.expand_all(&nodes, &tree, before - 1);
            state.update_rows(&nodes, &tree, 1);
            assert!(state.rows.len() > before, "each press opens more");
        }
        assert_eq!(state.rows.len(), DEPTH);
        let (n, level, has_kids) = state.rows[DEPTH - 1];
        assert_eq!((level as usize, has_kids), (DEPTH - 1, false));
        assert_eq!(p.func_name(nodes.func[n as usize]), "f99999");
        // The rows' paths are distinct numbers, one per level: nothing quadratic is kept.
        assert_eq!(state.known.index.len(), DEPTH);
        // Left from the deepest row closes nothing (a leaf) and selects its parent's row.
        state.select(DEPTH - 1);
        assert_eq!(state.selected_row(), Some(DEPTH - 1));
        state.set_expanded(DEPTH - 2, false);
        state.update_rows(&nodes, &tree, 1);
        assert_eq!(state.rows.len(), DEPTH - 1);
    }
}
