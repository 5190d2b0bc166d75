//! Rust (legacy and v0) and C++ (Itanium) demangling.

/// The demangled form of `name`, or `name` itself when it is not mangled (or not valid).
/// Rust hashes are dropped (`foo::bar`, not `foo::bar::h0123abcd`), like perf and pprof do.
pub fn demangle(name: &str) -> String {
    if (name.starts_with("_R") || name.starts_with("_ZN") || name.starts_with("__ZN"))
        && let Ok(d) = rustc_demangle::try_demangle(name)
    {
        let s = format!("{d:#}");
        // A C++ name that happens to parse as legacy Rust is left to the C++ demangler
        // unless it carried a Rust hash.
        if name.starts_with("_R") || name.contains("17h") {
            return s;
        }
    }
    if name.starts_with("_Z")
        && let Ok(sym) = cpp_demangle::Symbol::new(name)
        && let Ok(s) = sym.demangle()
    {
        return s;
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn rust_legacy_and_v0() {
        assert_eq!(
            demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE"),
            "core::ptr::drop_in_place"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
    }

    #[test]
    fn cpp() {
        assert_eq!(demangle("_ZN3foo3barEv"), "foo::bar()");
        assert_eq!(demangle("_Z3addii"), "add(int, int)");
    }

    #[test]
    fn plain_and_garbage() {
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_Z"), "_Z");
        assert_eq!(demangle("_ZN"), "_ZN");
        assert_eq!(demangle("_R"), "_R");
    }
}
