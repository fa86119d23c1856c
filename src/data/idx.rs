//! MNIST-format IDX files (raw or gzip-compressed) and MNIST-style directories.
//!
//! Gzip is detected by its magic bytes (`1f 8b`), never by the file name.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;

use super::images::{split_tail, Images, Splits};

use super::source::{SourceDef, GRAY};

/// `idx:PATH`: MNIST-format IDX files (see [`load_source`]).
pub const SOURCE: SourceDef = SourceDef {
    name: "idx",
    takes_path: true,
    pixels: GRAY,
    cuts_to_size: false,
    full_scale: 255.0,
    install: None,
    load: |_, source| load_source(source.required_path()),
};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Standard file stems of an MNIST-style directory (each may end in `.gz`).
const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Reads a whole file, decompressing it if it starts with the gzip magic.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    if !path.exists() {
        bail!("`{}`: no such file", path.display());
    }
    let raw = std::fs::read(path).with_context(|| format!("`{}`: cannot read", path.display()))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| anyhow::anyhow!("`{}`: not a valid gzip stream: {e}", path.display()))?;
    Ok(out)
}

/// Parses an IDX header: checks the magic, returns `ndims` big-endian u32
/// dimensions and the data after the header.
fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    kind: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 * (1 + ndims);
    let truncated = || {
        anyhow::anyhow!(
            "`{}`: truncated header: {} bytes, an IDX {kind} header needs {header_len}",
            path.display(),
            bytes.len()
        )
    };
    let found = bytes.get(..4).ok_or_else(truncated)?;
    let found = u32::from_be_bytes([found[0], found[1], found[2], found[3]]);
    if found != magic {
        bail!(
            "`{}`: bad magic number {found:#010x} (expected {magic:#010x} for an IDX {kind} file)",
            path.display()
        );
    }
    if bytes.len() < header_len {
        return Err(truncated());
    }
    let (header, data) = bytes.split_at(header_len);
    let dims = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    Ok((dims, data))
}

/// Checks that exactly `expected` data bytes follow the header.
fn check_data_len(path: &Path, data: &[u8], expected: Option<usize>, what: &str) -> Result<()> {
    match expected {
        Some(n) if data.len() == n => Ok(()),
        Some(n) if data.len() > n => bail!(
            "`{}`: header says {what} ({n} bytes) but {} bytes follow ({} extra)",
            path.display(),
            data.len(),
            data.len() - n
        ),
        Some(n) => bail!(
            "`{}`: truncated: header says {what} ({n} bytes) but only {} bytes follow",
            path.display(),
            data.len()
        ),
        None => bail!(
            "`{}`: header says {what}, which is too large",
            path.display()
        ),
    }
}

/// Reads an IDX images file (magic `0x00000803`, dims n, h, w), raw or gzip.
pub fn read_images(path: &Path) -> Result<Images> {
    let bytes = read_bytes(path)?;
    let (dims, data) = parse_header(path, &bytes, IMAGES_MAGIC, "images")?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    let what = format!("{n} images of {h}×{w}");
    check_data_len(
        path,
        data,
        n.checked_mul(h).and_then(|x| x.checked_mul(w)),
        &what,
    )?;
    if n == 0 {
        bail!("`{}`: contains no images", path.display());
    }
    if h == 0 || w == 0 {
        bail!("`{}`: images have an empty size {h}×{w}", path.display());
    }
    Ok(Images {
        channels: 1,
        height: h,
        width: w,
        pixels: data.to_vec(),
        labels: None,
    })
}

/// Reads an IDX labels file (magic `0x00000801`, dim n), raw or gzip.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_bytes(path)?;
    let (dims, data) = parse_header(path, &bytes, LABELS_MAGIC, "labels")?;
    let n = dims[0];
    check_data_len(path, data, Some(n), &format!("{n} labels"))?;
    if n == 0 {
        bail!("`{}`: contains no labels", path.display());
    }
    Ok(data.to_vec())
}

/// Reads an images file and, if `labels` is given, attaches its labels.
fn read_labelled(images: &Path, labels: Option<&Path>) -> Result<Images> {
    let mut imgs = read_images(images)?;
    if let Some(labels_path) = labels {
        let labels = read_labels(labels_path)?;
        if labels.len() != imgs.len() {
            bail!(
                "`{}` holds {} images but `{}` holds {} labels",
                images.display(),
                imgs.len(),
                labels_path.display(),
                labels.len()
            );
        }
        imgs.labels = Some(labels);
    }
    Ok(imgs)
}

/// `dir/stem` or `dir/stem.gz`, whichever exists (the plain name first).
fn find_standard(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Loads train/validation/test sets from `path`, which is either:
///
/// * one IDX images file (no labels), split in order: the last tenth (at
///   least one image) is test, the tenth before it validation, the rest
///   train; needs at least 3 images;
/// * a directory holding `train-images-idx3-ubyte` and `t10k-images-idx3-ubyte`
///   (each optionally `.gz`), and optionally the matching
///   `train-labels-idx1-ubyte` / `t10k-labels-idx1-ubyte`. Validation is the
///   last 5000 training images if there are at least 10000, else the last
///   tenth (at least one image; needs at least 2 training images); train is
///   the rest and test is the t10k file.
pub fn load_source(path: &Path) -> Result<Splits> {
    if !path.exists() {
        bail!("`{}`: no such file", path.display());
    }
    if !path.is_dir() {
        let images = read_images(path)?;
        return split_tail(&images, &format!("`{}`", path.display()));
    }

    let find_images = |stem: &str| {
        find_standard(path, stem).with_context(|| {
            format!(
                "`{}`: directory has no `{stem}` or `{stem}.gz` (looked for {TRAIN_IMAGES}, \
                 {TEST_IMAGES}, optionally with labels {TRAIN_LABELS}, {TEST_LABELS}; \
                 each raw or .gz)",
                path.display()
            )
        })
    };
    let train_path = find_images(TRAIN_IMAGES)?;
    let test_path = find_images(TEST_IMAGES)?;
    let train_labels = find_standard(path, TRAIN_LABELS);
    let test_labels = find_standard(path, TEST_LABELS);

    let train = read_labelled(&train_path, train_labels.as_deref())?;
    let test = read_labelled(&test_path, test_labels.as_deref())?;
    if (train.height, train.width) != (test.height, test.width) {
        bail!(
            "`{}` holds {}×{} images but `{}` holds {}×{}",
            train_path.display(),
            train.height,
            train.width,
            test_path.display(),
            test.height,
            test.width
        );
    }
    let n = train.len();
    if n < 2 {
        bail!(
            "`{}`: only {n} image; need at least 2 to carve out a validation set",
            train_path.display()
        );
    }
    let val_count = if n >= 10_000 { 5_000 } else { (n / 10).max(1) };
    Ok(Splits {
        val: train.slice(n - val_count, n),
        train: train.slice(0, n - val_count),
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn images_bytes(n: u32, h: u32, w: u32, pixels: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for x in [IMAGES_MAGIC, n, h, w] {
            b.extend_from_slice(&x.to_be_bytes());
        }
        b.extend_from_slice(pixels);
        b
    }

    fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut b = LABELS_MAGIC.to_be_bytes().to_vec();
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// `n` images of 2×3 whose pixels count up from 0 (mod 256).
    fn sample(n: usize) -> Vec<u8> {
        (0..n * 6).map(|i| i as u8).collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err_of<T: std::fmt::Debug>(r: Result<T>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn reads_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = images_bytes(4, 2, 3, &sample(4));
        for (name, content) in [("a.idx", bytes.clone()), ("b.idx", gzip(&bytes))] {
            let imgs = read_images(&write(dir.path(), name, &content)).unwrap();
            assert_eq!((imgs.len(), imgs.height, imgs.width), (4, 2, 3));
            assert_eq!(imgs.pixels, sample(4));
            assert_eq!(imgs.image(1), &[6, 7, 8, 9, 10, 11]);
        }
        let labels = labels_bytes(&[3, 1, 4, 1]);
        let p = write(dir.path(), "l.gz", &gzip(&labels));
        assert_eq!(read_labels(&p).unwrap(), vec![3, 1, 4, 1]);
    }

    #[test]
    fn corrupt_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();

        let p = write(d, "bad_magic", &labels_bytes(&[1, 2]));
        let e = err_of(read_images(&p));
        assert!(
            e.contains("bad_magic`: bad magic number 0x00000801 (expected 0x00000803"),
            "{e}"
        );

        let p = write(d, "short_header", &images_bytes(1, 2, 3, &[])[..10]);
        let e = err_of(read_images(&p));
        assert!(
            e.contains("short_header`: truncated header: 10 bytes"),
            "{e}"
        );

        let p = write(d, "short_data", &images_bytes(3, 2, 3, &sample(2)));
        let e = err_of(read_images(&p));
        let want = "short_data`: truncated: header says 3 images of 2×3 (18 bytes) but only 12 bytes follow";
        assert!(e.contains(want), "{e}");

        let p = write(d, "extra_data", &images_bytes(1, 2, 3, &sample(2)));
        assert!(err_of(read_images(&p)).contains("6 extra"));

        let mut gz = gzip(&images_bytes(1, 2, 3, &sample(1)));
        gz.truncate(gz.len() / 2);
        let p = write(d, "bad_gzip", &gz);
        let e = err_of(read_images(&p));
        assert!(e.contains("bad_gzip`: not a valid gzip stream: "), "{e}");

        let p = write(d, "empty", &images_bytes(0, 28, 28, &[]));
        assert!(err_of(read_images(&p)).contains("empty`: contains no images"));
        let p = write(d, "empty_labels", &labels_bytes(&[]));
        assert!(err_of(read_labels(&p)).contains("contains no labels"));

        let e = err_of(read_images(&d.join("missing")));
        assert!(e.contains("missing`: no such file"), "{e}");
        assert!(err_of(load_source(&d.join("missing"))).contains("no such file"));
    }

    #[test]
    fn label_count_mismatch_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, TRAIN_IMAGES, &images_bytes(5, 2, 3, &sample(5)));
        write(d, TRAIN_LABELS, &labels_bytes(&[0, 1, 2]));
        write(d, TEST_IMAGES, &images_bytes(2, 2, 3, &sample(2)));
        let e = err_of(load_source(d));
        assert!(e.contains(TRAIN_IMAGES) && e.contains(TRAIN_LABELS), "{e}");
        assert!(e.contains("5 images") && e.contains("3 labels"), "{e}");
    }

    #[test]
    fn directory_layouts() {
        for (gz, labelled) in [(false, true), (true, true), (true, false), (false, false)] {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let put = |stem: &str, bytes: Vec<u8>| {
                if gz {
                    write(d, &format!("{stem}.gz"), &gzip(&bytes));
                } else {
                    write(d, stem, &bytes);
                }
            };
            put(TRAIN_IMAGES, images_bytes(20, 2, 3, &sample(20)));
            put(TEST_IMAGES, images_bytes(4, 2, 3, &sample(4)));
            if labelled {
                put(TRAIN_LABELS, labels_bytes(&(0..20).collect::<Vec<u8>>()));
                put(TEST_LABELS, labels_bytes(&[9, 8, 7, 6]));
            }
            let s = load_source(d).unwrap();
            assert_eq!((s.train.len(), s.val.len(), s.test.len()), (18, 2, 4));
            assert_eq!(s.val.image(0), &sample(20)[18 * 6..19 * 6]);
            if labelled {
                assert_eq!(s.val.labels, Some(vec![18, 19]));
                assert_eq!(s.test.labels, Some(vec![9, 8, 7, 6]));
            } else {
                assert_eq!(s.train.labels, None);
            }
        }
    }

    #[test]
    fn directory_missing_names() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            TRAIN_IMAGES,
            &images_bytes(20, 2, 3, &sample(20)),
        );
        let e = err_of(load_source(dir.path()));
        assert!(
            e.contains("no `t10k-images-idx3-ubyte` or `t10k-images-idx3-ubyte.gz`"),
            "{e}"
        );
        assert!(e.contains(TRAIN_IMAGES) && e.contains(TEST_LABELS), "{e}");
    }

    #[test]
    fn single_file_split_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for (n, want) in [(3, (1, 1, 1)), (25, (21, 2, 2)), (100, (80, 10, 10))] {
            let p = write(
                dir.path(),
                "x.idx",
                &images_bytes(n, 2, 3, &sample(n as usize)),
            );
            let s = load_source(&p).unwrap();
            assert_eq!((s.train.len(), s.val.len(), s.test.len()), want);
            assert_eq!(
                s.test.image(0),
                read_images(&p).unwrap().image(n as usize - want.2)
            );
        }
        let p = write(dir.path(), "two.idx", &images_bytes(2, 2, 3, &sample(2)));
        let e = err_of(load_source(&p));
        assert!(e.contains("two.idx`: only 2 image(s)"), "{e}");
    }

    #[test]
    fn real_fashion_mnist() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.exists() {
            eprintln!("skipping: {} not found", dir.display());
            return;
        }
        let s = load_source(dir).unwrap();
        assert_eq!(
            (s.train.len(), s.val.len(), s.test.len()),
            (55_000, 5_000, 10_000)
        );
        for set in [&s.train, &s.val, &s.test] {
            assert_eq!((set.height, set.width), (28, 28));
            assert_eq!(set.labels.as_ref().map(Vec::len), Some(set.len()));
        }
    }
}
