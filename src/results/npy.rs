//! Per-image results as NumPy `.npy` files, for Python: a run's test
//! log-likelihoods as a float64 vector, and per-image tables (such as
//! `arlab score`'s) as structured arrays whose fields are the CSV's columns,
//! so that `pandas.DataFrame(numpy.load(path))` gives the same table.
use std::path::Path;

use anyhow::{bail, Context, Result};
use npyz::WriterBuilder;

use super::write_atomic;

/// Writes `values` as a 1-D float64 array.
pub fn write_f64(path: &Path, values: &[f64]) -> Result<()> {
    write_rows(path, values)
}

/// Writes `rows` as a 1-D array of `T` (a structured array for a struct).
pub fn write_rows<T: npyz::AutoSerialize>(path: &Path, rows: &[T]) -> Result<()> {
    let encode = || -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[rows.len() as u64])
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(rows)?;
        w.finish()?;
        Ok(buf)
    };
    let bytes = encode().with_context(|| format!("cannot encode `{}`", path.display()))?;
    write_atomic(path, &bytes)
}

/// Reads a 1-D float64 array written by [`write_f64`].
pub fn read_f64(path: &Path) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("`{}` is not a .npy file", path.display()))?;
    if npy.shape().len() != 1 {
        bail!(
            "`{}` holds an array of shape {:?}, not a vector",
            path.display(),
            npy.shape()
        );
    }
    npy.into_vec::<f64>()
        .with_context(|| format!("`{}` is not a float64 vector", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_reads_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let v = vec![-88.125, f64::MIN_POSITIVE, -1e-300, 0.1 + 0.2];
        write_f64(&path, &v).unwrap();
        let back = read_f64(&path).unwrap();
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x93NUMPY"));
    }

    #[test]
    fn other_arrays_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.npy");
        write_rows(&path, &[1i64, 2]).unwrap();
        let e = read_f64(&path).unwrap_err();
        assert!(format!("{e:#}").contains("not a float64 vector"), "{e:#}");
        std::fs::write(&path, b"not numpy").unwrap();
        assert!(format!("{:#}", read_f64(&path).unwrap_err()).contains("not a .npy file"));
    }
}
