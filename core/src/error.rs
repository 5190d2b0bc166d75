//! Errors of stacklens-core. Every error says where: which file, which byte offset (binary
//! formats) or line (text formats), and what was expected there.

use std::path::PathBuf;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or analyzing a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// An error inside a file, with the file's path.
    #[error("{}: {err}", path.display())]
    WithPath { path: PathBuf, err: Box<Error> },

    /// Malformed binary data at a byte offset.
    #[error("{format}: at byte offset {offset}: {expected}")]
    At {
        format: &'static str,
        offset: u64,
        expected: String,
    },

    /// Malformed text at a line.
    #[error("{format}: line {line}: {expected}")]
    AtLine {
        format: &'static str,
        line: u64,
        expected: String,
    },

    /// The content matches no format stacklens reads.
    #[error("not a profile format stacklens can read (it starts with {start})")]
    UnknownFormat { start: String },

    /// The file is empty.
    #[error("the file is empty")]
    Empty,

    /// A valid file using a feature stacklens does not support.
    #[error("{0}")]
    Unsupported(String),

    /// The user asked for a sample type the profile does not have.
    #[error("no event or sample type named {name:?}; this profile has: {available}")]
    NoSuchSampleType { name: String, available: String },

    /// The file changed while it was being read.
    #[error("{}: the file changed while it was read: {what}", path.display())]
    Changed { path: PathBuf, what: String },

    /// The load grew past its memory budget (see [`Progress::set_memory_budget`](crate::Progress::set_memory_budget)).
    /// `more`: what the growth that was refused asked for (0 when the load had already
    /// grown past its budget).
    #[error("{}", too_big(*budget, *used, *more))]
    TooBig { budget: u64, used: u64, more: u64 },

    /// The load was cancelled through its [`Progress`](crate::Progress).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Malformed binary data of `format` at `offset`.
    pub fn at(format: &'static str, offset: u64, expected: impl Into<String>) -> Self {
        Error::At {
            format,
            offset,
            expected: expected.into(),
        }
    }

    /// Adds the file path to an error that does not name it yet.
    pub fn with_path(self, path: impl Into<PathBuf>) -> Self {
        match self {
            e @ (Error::Io { .. }
            | Error::WithPath { .. }
            | Error::Changed { .. }
            | Error::Cancelled) => e,
            e => Error::WithPath {
                path: path.into(),
                err: Box::new(e),
            },
        }
    }

    /// The byte offset the error points at, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::At { offset, .. } => Some(*offset),
            Error::WithPath { err, .. } => err.offset(),
            _ => None,
        }
    }
}

fn too_big(budget: u64, used: u64, more: u64) -> String {
    let mib = |b: u64| b.div_ceil(1 << 20);
    let took = if more == 0 {
        format!("the load took {} MiB, more than", mib(used))
    } else {
        format!(
            "the load held {} MiB and needed {} MiB more, past",
            mib(used),
            mib(more)
        )
    };
    format!(
        "too big to load in the memory this machine has free: {took} its budget of {} MiB (by \
         default 80% of the memory available when it started; --memory-limit sets another)",
        budget >> 20
    )
}
