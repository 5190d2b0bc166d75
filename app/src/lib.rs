//! stacklens, the application: command-line interface (and, with the next milestone, the
//! window). Everything that parses or computes lives in `stacklens-core`; this crate only
//! reads arguments, calls the core and presents results.

pub mod cli;
