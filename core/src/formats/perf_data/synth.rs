//! Big perf.data files made from a real small one, for benchmarks and scale tests.
//!
//! [`repeat_samples`] keeps a capture's header, attributes, sideband records and feature
//! sections, and repeats its SAMPLE records, each round shifted later in time by the capture's
//! duration, until the data section reaches a target size. The result is a valid perf.data
//! that `perf report` reads too, with the record mix (and callchains) of the real recording.

use super::super::bytes::u64_at;
use super::header::*;
use super::records;
use crate::{Error, Progress, Result};

/// A copy of the file-mode perf.data `file` whose data section is at least `target_bytes`
/// long (or the original size if larger), made by repeating its SAMPLE records.
pub fn repeat_samples(file: &[u8], target_bytes: usize) -> Result<Vec<u8>> {
    let h = FileHeader::parse(file)?;
    if h.pipe {
        return Err(Error::Unsupported(
            "repeat_samples needs a file-mode perf.data".into(),
        ));
    }
    if h.attr_size < 80 {
        return Err(Error::at(
            FORMAT,
            16,
            "expected attr_size of at least 80 bytes",
        ));
    }
    let attr_bytes = file
        .get(h.attrs.offset as usize..(h.attrs.offset + h.attr_size - 16) as usize)
        .ok_or_else(|| Error::at(FORMAT, h.attrs.offset, "attrs section outside the file"))?;
    let attr = Attr::parse(attr_bytes, h.attrs.offset)?;
    let time_at = time_offset(attr.sample_type);
    let data_start = h.data.offset as usize;
    let data_end = data_start + h.data.size as usize;
    let data = file
        .get(data_start..data_end)
        .ok_or_else(|| Error::at(FORMAT, 40, "data section outside the file"))?;

    let mut sideband = Vec::new();
    let mut samples: Vec<&[u8]> = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    records::walk(data, data_start as u64, false, &Progress::new(), |rec| {
        if rec.kind == records::SAMPLE {
            if let Some(t) = time_at.and_then(|at| u64_at(rec.bytes, at)) {
                first = first.min(t);
                last = last.max(t);
            }
            samples.push(rec.bytes);
        } else if rec.kind != records::COMPRESSED && rec.kind != records::COMPRESSED2 {
            sideband.extend_from_slice(rec.bytes);
        }
        Ok(())
    })?;
    if samples.is_empty() {
        return Err(Error::Unsupported(
            "the capture has no uncompressed samples to repeat".into(),
        ));
    }
    let span = last.saturating_sub(first).saturating_add(1_000_000);

    let mut new_data = sideband;
    let mut round = 0u64;
    while new_data.len() < target_bytes.max(data.len()) {
        for s in &samples {
            let at = new_data.len();
            new_data.extend_from_slice(s);
            if let Some(t_at) = time_at
                && let Some(t) = u64_at(s, t_at)
            {
                let t = t + round * span;
                new_data[at + t_at..at + t_at + 8].copy_from_slice(&t.to_le_bytes());
            }
        }
        // One FINISHED_ROUND per repetition, as perf writes them between buffer flushes.
        new_data.extend_from_slice(&records::FINISHED_ROUND.to_le_bytes());
        new_data.extend_from_slice(&0u16.to_le_bytes());
        new_data.extend_from_slice(&8u16.to_le_bytes());
        round += 1;
    }

    // Header and attrs as they were; the new data; the feature table with shifted offsets.
    let mut out = file[..data_start].to_vec();
    out.extend_from_slice(&new_data);
    let delta = new_data.len() as i64 - data.len() as i64;
    let n_features = h.feature_ids().count();
    let table = file
        .get(data_end..data_end + 16 * n_features)
        .unwrap_or(&[]);
    let table_len = table.len();
    for entry in table.chunks_exact(16) {
        let off = u64_at(entry, 0).unwrap_or(0) as i64 + delta;
        out.extend_from_slice(&(off as u64).to_le_bytes());
        out.extend_from_slice(&entry[8..16]);
    }
    out.extend_from_slice(file.get(data_end + table_len..).unwrap_or(&[]));
    out[48..56].copy_from_slice(&(new_data.len() as u64).to_le_bytes());
    // The SAMPLE_TIME feature holds the last sample's time: move it to the last round's.
    if let Some(idx) = h.feature_ids().position(|f| f == feature::SAMPLE_TIME) {
        let entry_at = data_start + new_data.len() + 16 * idx;
        if let Some(sec) = u64_at(&out, entry_at).and_then(|o| usize::try_from(o).ok())
            && sec + 16 <= out.len()
        {
            let new_last = last + round.saturating_sub(1) * span;
            out[sec + 8..sec + 16].copy_from_slice(&new_last.to_le_bytes());
        }
    }
    Ok(out)
}

/// Byte offset of the time field in a SAMPLE record with this sample_type.
fn time_offset(st: u64) -> Option<usize> {
    if st & SAMPLE_TIME == 0 {
        return None;
    }
    let before = [SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_TID]
        .iter()
        .filter(|&&b| st & b != 0)
        .count();
    Some(8 + 8 * before)
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_capture_has_proportionally_more_samples() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sample-profiles/hot.perf.data");
        let small = std::fs::read(path).unwrap();
        let big = super::repeat_samples(&small, 1 << 20).unwrap();
        assert!(big.len() > 1 << 20);
        let opts = crate::LoadOptions::default();
        let p1 = crate::load_bytes(&small, &opts, &crate::Progress::new()).unwrap();
        let p2 = crate::load_bytes(&big, &opts, &crate::Progress::new()).unwrap();
        let rounds = p2.samples.len() / p1.samples.len();
        assert!(rounds >= 8, "{rounds}");
        assert_eq!(p2.samples.len() % p1.samples.len(), 0);
        assert!(
            p2.meta.duration_ns().unwrap() > p1.meta.duration_ns().unwrap() * (rounds as u64 - 1)
        );
        assert_eq!(p2.meta.command_line, p1.meta.command_line);
    }
}
