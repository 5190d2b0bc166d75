//! Human-readable numbers, shared by the text reports and the window.

use stacklens_core::model::Unit;

/// `w` in `unit`, short: `1.27 s`, `424.0 ms`, `3.2 MiB`, `12,345`.
pub fn weight(w: i64, unit: Unit) -> String {
    match unit {
        Unit::Nanoseconds => duration_ns(w),
        Unit::Bytes => bytes(w),
        Unit::Events | Unit::Count => grouped(w),
    }
}

pub fn duration_ns(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let sign = if ns < 0 { "-" } else { "" };
    if a >= 1e9 {
        format!("{sign}{:.2} s", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}{:.1} ms", a / 1e6)
    } else if a >= 1e3 {
        format!("{sign}{:.1} µs", a / 1e3)
    } else {
        format!("{sign}{a} ns")
    }
}

pub fn bytes(b: i64) -> String {
    let a = b.unsigned_abs() as f64;
    let sign = if b < 0 { "-" } else { "" };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = a;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{sign}{a} B")
    } else {
        format!("{sign}{v:.1} {}", UNITS[u])
    }
}

/// An integer with thousands separators.
pub fn grouped(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(-12), "-12");
        assert_eq!(duration_ns(1_270_000_000), "1.27 s");
        assert_eq!(duration_ns(424_000_000), "424.0 ms");
        assert_eq!(duration_ns(999), "999 ns");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(bytes(10), "10 B");
    }
}
