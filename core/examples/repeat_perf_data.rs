//! Writes a big perf.data made from a small real one by repeating its samples
//! (see `stacklens_core::formats::perf_data::synth`).
//!
//! `cargo run --release -p stacklens-core --example repeat_perf_data -- IN OUT SIZE_MB`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, mb] = args.as_slice() else {
        return Err("usage: repeat_perf_data IN OUT SIZE_MB".into());
    };
    let small = std::fs::read(input)?;
    let big = stacklens_core::formats::perf_data::synth::repeat_samples(
        &small,
        mb.parse::<usize>()? << 20,
    )?;
    std::fs::write(output, &big)?;
    eprintln!("{output}: {} bytes", big.len());
    Ok(())
}
