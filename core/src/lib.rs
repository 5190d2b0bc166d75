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

/// Asks the CPU to fetch the cache line of `data[at]` (nothing when `at` is past the end), for
/// reads whose address is known well before they are made.
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < data.len() {
        // SAFETY: `at` is in bounds; a prefetch reads nothing architecturally and cannot fault.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                data.as_ptr().add(at) as *const i8,
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}
