//! Human-readable numbers for the text reports and the window: the core's, so the SVG export
//! prints the same figures.

pub use stacklens_core::format::{bytes, duration_ns, grouped, ratio, weight};
