//! Typed row ids for the profile tables.
//!
//! Every table row is addressed by a `u32` newtype so that a `FuncId` can never be used where a
//! `FrameId` is meant. `NONE` (all bits set) stands for "no row" in columns that are optional
//! (a root stack's parent, a frame that is not symbolized yet), which keeps columns 4 bytes wide
//! instead of the 8 an `Option<u32>` would take.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[repr(transparent)]
        pub struct $name(pub u32);

        // SAFETY: repr(transparent) over u32: no padding, every bit pattern a value.
        unsafe impl super::column::Plain for $name {}

        impl From<$name> for u32 {
            fn from(id: $name) -> u32 {
                id.0
            }
        }

        impl $name {
            /// "No row": used in optional columns.
            pub const NONE: Self = Self(u32::MAX);

            /// The row index.
            #[inline]
            pub const fn index(self) -> usize {
                self.0 as usize
            }

            /// The id of row `i`. Tables are limited to `u32::MAX - 1` rows; the builder checks
            /// this before it adds a row, so this conversion cannot truncate.
            #[inline]
            pub const fn from_index(i: usize) -> Self {
                Self(i as u32)
            }

            /// `None` for [`Self::NONE`].
            #[inline]
            pub const fn get(self) -> Option<Self> {
                if self.0 == u32::MAX { None } else { Some(self) }
            }

            /// True unless this is [`Self::NONE`].
            #[inline]
            pub const fn is_some(self) -> bool {
                self.0 != u32::MAX
            }
        }
    };
}

id_type!(
    /// A string in the [`StringTable`](super::StringTable).
    StrId
);
id_type!(
    /// A binary, shared library, kernel image or other code container.
    ModuleId
);
id_type!(
    /// A function: identity across profiles is (name, module file name).
    FuncId
);
id_type!(
    /// A frame: one code location (function, address, line, inline depth).
    FrameId
);
id_type!(
    /// A node of the stack prefix tree.
    StackId
);
id_type!(
    /// A thread.
    ThreadId
);
id_type!(
    /// A node of the call tree (stacks merged by function).
    CallNodeId
);
