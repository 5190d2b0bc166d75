//! Lenient JSON reading for the Chrome formats: field types that never fail on a value of the
//! wrong type (they read it as "absent" instead), and a few helpers to walk the top level of a
//! document by hand, so that events are read one at a time with their byte offsets.
//!
//! Why lenient: Chrome, node, and the many tools that write these formats disagree on details
//! (`scriptId` is a string in `.cpuprofile`s and a number in traces; `pid` is sometimes a
//! string); a strict `#[derive(Deserialize)]` would reject a whole file for one odd field. With
//! these types only malformed JSON is an error, and the parser decides per field what a missing
//! value means (and counts it for a warning).

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON value reduced to what lenient fields need: arrays and objects are skipped.
enum Scalar<'a> {
    Other,
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string field; `None` when absent or not a string.
#[derive(Default, Debug)]
pub(super) struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Str(match Scalar::deserialize(d)? {
            Scalar::Str(s) => Some(s),
            _ => None,
        }))
    }
}

impl Str<'_> {
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A number field; `None` when absent, not a number, or not finite.
#[derive(Default, Clone, Copy, Debug)]
pub(super) struct Num(pub Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Num(match Scalar::deserialize(d)? {
            Scalar::Int(v) => Some(v as f64),
            Scalar::Float(v) if v.is_finite() => Some(v),
            _ => None,
        }))
    }
}

/// An integer field (`3` or `3.0`); `None` when absent or not an integer in `i64` range.
#[derive(Default, Clone, Copy, Debug)]
pub(super) struct Int(pub Option<i64>);

/// `v` as an `i64` when it is a whole number in range.
fn whole(v: f64) -> Option<i64> {
    // `i64::MAX as f64` rounds up to 2^63, the first value that does not fit.
    (v.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(&v)).then_some(v as i64)
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Int(match Scalar::deserialize(d)? {
            Scalar::Int(v) => Some(v),
            Scalar::Float(v) => whole(v),
            _ => None,
        }))
    }
}

/// An identifier that writers give as a number or a string (`pid`, `tid`, an event's `id`).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub(super) enum Id<'a> {
    #[default]
    Missing,
    Int(i64),
    Str(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Scalar::deserialize(d)? {
            Scalar::Int(v) => Id::Int(v),
            Scalar::Float(v) => whole(v).map_or_else(|| Id::Str(v.to_string().into()), Id::Int),
            Scalar::Str(s) => Id::Str(s),
            Scalar::Other => Id::Missing,
        })
    }
}

/// The "any other type" methods of a lenient visitor: they accept the value and return `$ret`.
macro_rules! accept_scalars {
    ($ret:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($ret)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($ret)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($ret)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($ret)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($ret)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($ret)
        }
    };
}

/// An array field; `wrong_type` when the value was there but not an array.
#[derive(Debug)]
pub(super) struct List<T> {
    pub items: Vec<T>,
    pub wrong_type: bool,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            wrong_type: false,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            accept_scalars!(List {
                items: Vec::new(),
                wrong_type: true,
            });
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                // The size hint comes from the file: cap it.
                let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
                while let Some(v) = a.next_element()? {
                    items.push(v);
                }
                Ok(List {
                    items,
                    wrong_type: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List {
                    items: Vec::new(),
                    wrong_type: true,
                })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An object field read as `T` (whose fields should all be lenient); `None` when absent or not
/// an object.
#[derive(Debug)]
pub(super) struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            accept_scalars!(Obj(None));
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(a)).map(|t| Obj(Some(t)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Where the document's first value starts: after a UTF-8 byte order mark and whitespace.
pub(super) fn start(data: &[u8]) -> usize {
    let bom = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    skip_ws(data, bom)
}

/// The first position at or after `pos` that is not JSON whitespace.
pub(super) fn skip_ws(data: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = data.get(pos) {
        pos += 1;
    }
    pos
}

/// Why a value could not be read.
pub(super) enum ValueError {
    /// The data ends inside the value (or before it).
    Eof,
    /// Valid JSON of a shape `T` does not accept.
    Shape(serde_json::Error),
    /// Not JSON.
    Syntax(serde_json::Error),
}

/// Reads one value of type `T` starting at `pos` (no leading whitespace expected); returns it
/// and the position just after it.
pub(super) fn value_at<'a, T: Deserialize<'a>>(
    data: &'a [u8],
    pos: usize,
) -> Result<(T, usize), ValueError> {
    let rest = data.get(pos..).unwrap_or_default();
    let mut it = serde_json::Deserializer::from_slice(rest).into_iter::<T>();
    match it.next() {
        Some(Ok(v)) => Ok((v, pos + it.byte_offset())),
        Some(Err(e)) if e.is_eof() => Err(ValueError::Eof),
        Some(Err(e)) if e.is_data() => Err(ValueError::Shape(e)),
        Some(Err(e)) => Err(ValueError::Syntax(e)),
        None => Err(ValueError::Eof),
    }
}

/// The byte offset in `data` of a serde_json error raised while reading from `base`.
pub(super) fn error_offset(data: &[u8], base: usize, e: &serde_json::Error) -> u64 {
    let rest = data.get(base..).unwrap_or_default();
    let line_start = if e.line() <= 1 {
        0
    } else {
        rest.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'\n')
            .nth(e.line() - 2)
            .map_or(rest.len(), |(i, _)| i + 1)
    };
    (base + line_start + e.column().saturating_sub(1)).min(data.len()) as u64
}

/// serde_json's message without its " at line L column C" suffix (we give a byte offset).
pub(super) fn error_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The keys of the top-level object of `data` that can be seen without reading past its end,
/// in order; stops at the first value that does not end within `data`, or after `max` keys.
/// Empty when `data` does not start with an object.
pub(super) fn top_level_keys(data: &[u8], max: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pos = start(data);
    if data.get(pos) != Some(&b'{') {
        return keys;
    }
    pos += 1;
    while keys.len() < max {
        pos = skip_ws(data, pos);
        let Ok((key, end)) = value_at::<Str>(data, pos) else {
            break;
        };
        let Some(key) = key.0 else { break };
        keys.push(key.into_owned());
        pos = skip_ws(data, end);
        if data.get(pos) != Some(&b':') {
            break;
        }
        pos = skip_ws(data, pos + 1);
        let Ok((IgnoredAny, end)) = value_at::<IgnoredAny>(data, pos) else {
            break;
        };
        pos = skip_ws(data, end);
        if data.get(pos) != Some(&b',') {
            break;
        }
        pos += 1;
    }
    keys
}
