//! Human-readable numbers and stable colours, shared by the text reports, the SVG export and the
//! window, so that every output prints a figure and colours a function the same way.

use crate::model::Unit;

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
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let a = b.unsigned_abs() as f64;
    let sign = if b < 0 { "-" } else { "" };
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

/// A ratio with three significant digits: `1.23`, `0.0456`, `123`, `12,345`.
pub fn ratio(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "—".to_string()
    } else if a >= 1000.0 {
        grouped(v.round() as i64)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 || a == 0.0 {
        format!("{v:.2}")
    } else {
        // Three significant digits below 1.
        let digits = (-a.log10().floor()) as usize + 2;
        format!("{v:.digits$}")
    }
}

/// An integer with thousands separators.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// FNV-1a of `s`: the same on every run and machine, so a name keeps its colour.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hue, saturation, lightness (each 0..1) to RGB.
pub fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f32| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8;
    [to(r), to(g), to(b)]
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
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0]);
    }
}
