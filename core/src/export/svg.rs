//! SVG flame graph output (being written).

use crate::analysis::Selection;
use crate::model::Profile;
use std::io::Write;

/// Options of an SVG flame graph.
#[derive(Clone, Debug)]
pub struct SvgOptions {
    pub title: String,
    /// Icicle graph: roots at the top.
    pub inverted: bool,
}

impl SvgOptions {
    pub fn titled(title: &str) -> Self {
        Self {
            title: title.to_string(),
            inverted: false,
        }
    }
}

/// Writes the flame graph of `sel` over `p` as an SVG.
pub fn write(
    _p: &Profile,
    _sel: &Selection,
    _opts: &SvgOptions,
    _w: &mut impl Write,
) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "the SVG flame graph is not written yet",
    ))
}
