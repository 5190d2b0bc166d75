//! stacklens, the application: the window ([`ui`]) and the command-line interface ([`cli`]).
//! Everything that parses or computes lives in `stacklens-core`; this crate reads arguments,
//! calls the core and presents results.

pub mod cli;
pub mod format;
pub mod presets;
pub mod ui;
