//! The `stacklens` binary: a thin shell over [`stacklens::cli`].

fn main() -> std::process::ExitCode {
    stacklens::cli::main()
}
