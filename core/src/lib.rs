//! stacklens-core: the profile model, file parsers, symbolization and analysis behind stacklens.
//! No GUI dependency: everything here runs and is tested headless.
//!
//! ```no_run
//! use stacklens_core::{analysis::{CallNodeTable, Selection, top_functions}, load, LoadOptions, Progress};
//!
//! let profile = load("perf.data".as_ref(), &LoadOptions::default(), &Progress::new()).unwrap();
//! let nodes = CallNodeTable::build(&profile);
//! let sel = Selection::all(profile.default_sample_type());
//! let tree = nodes.tree(&profile, &sel);
//! for f in top_functions(&profile, &nodes, &tree).iter().take(10) {
//!     println!("{:>12} {}", f.self_weight, profile.func_name(f.func));
//! }
//! ```

pub mod analysis;
pub mod error;
pub mod export;
pub mod format;
pub mod formats;
pub mod mapped;
pub mod model;
pub mod progress;
pub mod record;
pub mod symbols;

pub use error::{Error, Result};
pub use formats::{LoadOptions, load, load_bytes};
pub use progress::Progress;
