//! `npy:PATH` and `npz:PATH` data sets: the same images as IDX train to
//! the same NLL, float and channel layouts agree, and every bad array gets
//! one clear error naming the file, the array and what is wrong.
mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use common::*;
use npyz::npz::NpzWriter;
use npyz::{AutoSerialize, Order, WriteOptions, WriterBuilder};

/// `n` pseudo-random 4×4 images of 8-bit levels (deterministic).
fn levels(n: usize, salt: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ salt;
    (0..n * 16)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

fn npy_bytes<T: AutoSerialize + Copy>(shape: &[u64], data: &[T], order: Order) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

fn write_npy<T: AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    std::fs::write(path, npy_bytes(shape, data, Order::C)).unwrap();
}

fn add<T: AutoSerialize + Copy>(
    npz: &mut NpzWriter<BufWriter<File>>,
    name: &str,
    shape: &[u64],
    data: &[T],
) {
    let mut w = npz
        .array(name, Default::default())
        .unwrap()
        .default_dtype()
        .shape(shape)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

/// An `.npz` of gray 4×4 uint8 arrays `(name, images)`.
fn write_npz(path: &Path, arrays: &[(&str, &[u8])]) {
    let mut npz = NpzWriter::create(path).unwrap();
    for (name, data) in arrays {
        add(&mut npz, name, &[(data.len() / 16) as u64, 4, 4], data);
    }
}

fn idx_images(path: &Path, pixels: &[u8]) {
    let mut bytes = vec![0, 0, 8, 3];
    for d in [(pixels.len() / 16) as u32, 4, 4] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    std::fs::write(path, bytes).unwrap();
}

/// A one-run NADE spec on `source` (`extra` goes into `data:`).
fn spec(source: &str, extra: &str) -> String {
    spec_with(source, extra, "nade\n    hidden: 8")
}

/// A one-run spec of `model` (its YAML after `type: `).
fn spec_with(source: &str, extra: &str, model: &str) -> String {
    format!(
        "name: np\n\
         data:\n  source: \"{source}\"\n{extra}\
         models:\n  - type: {model}\n\
         orderings: [raster]\n\
         seeds: [1]\n\
         train:\n  epochs: 2\n  batch_size: 10\n  device: cpu\n  sample_every: 0\n  samples: 4\n"
    )
}

/// Trains `spec` in its own folder of `work`; returns the test NLL.
fn trained_nll(work: &Path, tag: &str, spec_text: &str) -> f64 {
    let dir = work.join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = write_spec(&dir, "exp.yaml", spec_text);
    ok(arlab(
        &dir,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    let run = std::fs::read_dir(dir.join("res/np"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("summary.json").is_file())
        .expect("a finished run");
    test_nll(&run)
}

fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn an_npz_trains_to_the_nll_of_the_same_images_as_idx() {
    let work = tmp();
    let w = work.path();
    let (train, test) = (levels(100, 1), levels(30, 2));

    let idx_dir = path_of(w, "mnist-like");
    std::fs::create_dir_all(&idx_dir).unwrap();
    idx_images(&idx_dir.join("train-images-idx3-ubyte"), &train);
    idx_images(&idx_dir.join("t10k-images-idx3-ubyte"), &test);
    let from_idx = trained_nll(w, "idx", &spec(&format!("idx:{}", idx_dir.display()), ""));

    // No `valid` array: the last tenth of `train` validates, as for IDX.
    let npz = path_of(w, "data.npz");
    write_npz(&npz, &[("train", &train), ("test", &test)]);
    let from_npz = trained_nll(w, "npz", &spec(&format!("npz:{}", npz.display()), ""));
    assert_eq!(from_npz, from_idx, "npz and IDX of the same images");

    // Floats level/255 are the same levels.
    let floats = path_of(w, "floats.npz");
    let as_float = |v: &[u8]| v.iter().map(|&l| l as f32 / 255.0).collect::<Vec<f32>>();
    let mut writer = NpzWriter::create(&floats).unwrap();
    add(&mut writer, "train", &[100, 4, 4], &as_float(&train));
    add(&mut writer, "test", &[30, 4, 4], &as_float(&test));
    drop(writer);
    let from_floats = trained_nll(w, "floats", &spec(&format!("npz:{}", floats.display()), ""));
    assert_eq!(from_floats, from_idx, "float32 levels/255 and uint8 levels");
}

#[test]
fn an_npy_splits_like_a_single_idx_file() {
    let work = tmp();
    let w = work.path();
    let all = levels(120, 3);
    let idx = path_of(w, "all.idx");
    idx_images(&idx, &all);
    let npy = path_of(w, "all.npy");
    write_npy(&npy, &[120, 4, 4], &all);
    let from_idx = trained_nll(w, "idx", &spec(&format!("idx:{}", idx.display()), ""));
    let from_npy = trained_nll(w, "npy", &spec(&format!("npy:{}", npy.display()), ""));
    assert_eq!(from_npy, from_idx);
}

#[test]
fn colour_arrays_channels_last_or_first_are_the_same_images() {
    let work = tmp();
    let w = work.path();
    let n = 60;
    let planar = levels(n * 3, 4); // [N, 3, 4, 4]
    let mut last = vec![0u8; planar.len()]; // [N, 4, 4, 3]
    for i in 0..n {
        for c in 0..3 {
            for p in 0..16 {
                last[i * 48 + p * 3 + c] = planar[i * 48 + c * 16 + p];
            }
        }
    }
    let nchw = path_of(w, "nchw.npy");
    write_npy(&nchw, &[n as u64, 3, 4, 4], &planar);
    let nhwc = path_of(w, "nhwc.npy");
    write_npy(&nhwc, &[n as u64, 4, 4, 3], &last);
    let rgb = "  pixels: rgb\n";
    let model = "pixelcnn\n    blocks: 1\n    hidden: 4\n    output_hidden: 4";
    let on = |path: &Path, extra| spec_with(&format!("npy:{}", path.display()), extra, model);
    let a = trained_nll(w, "nchw", &on(&nchw, rgb));
    let b = trained_nll(w, "nhwc", &on(&nhwc, rgb));
    assert_eq!(a, b);
    // Said outright, the layout wins over the guess.
    let c = trained_nll(w, "said", &on(&nchw, "  pixels: rgb\n  layout: nchw\n"));
    assert_eq!(a, c);
}

/// `arlab run` on `source` fails with every needle in its error.
fn refused(work: &Path, source: &str, extra: &str, needles: &[&str]) {
    let spec = write_spec(work, "bad.yaml", &spec(source, extra));
    fails(
        arlab(
            work,
            &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
        ),
        needles,
    );
    assert!(
        !work.join("res/np/nade-h8-raster-s1/summary.json").exists(),
        "nothing finished for {source}"
    );
}

#[test]
fn bad_arrays_are_refused_naming_the_array_and_the_problem() {
    let work = tmp();
    let w = work.path();
    let good = levels(20, 5);
    let npz_of = |name: &str, arrays: &[(&str, &[u8])]| {
        let p = path_of(w, name);
        write_npz(&p, arrays);
        format!("npz:{}", p.display())
    };

    let ints = path_of(w, "ints.npy");
    write_npy(
        &ints,
        &[20, 4, 4],
        &good.iter().map(|&v| v as i64).collect::<Vec<_>>(),
    );
    refused(
        w,
        &format!("npy:{}", ints.display()),
        "",
        &["ints.npy", "dtype", "<i8", "uint8"],
    );

    let range = path_of(w, "range.npy");
    let over: Vec<f32> = good.iter().map(|&v| v as f32).collect();
    write_npy(&range, &[20, 4, 4], &over);
    refused(
        w,
        &format!("npy:{}", range.display()),
        "",
        &["range.npy", "[0, 1]"],
    );

    let flat = path_of(w, "flat.npy");
    write_npy(&flat, &[20, 16], &good);
    refused(
        w,
        &format!("npy:{}", flat.display()),
        "",
        &["flat.npy", "(20, 16)", "N×H×W"],
    );

    let empty = path_of(w, "empty.npy");
    write_npy::<u8>(&empty, &[0, 4, 4], &[]);
    refused(
        w,
        &format!("npy:{}", empty.display()),
        "",
        &["empty.npy", "empty"],
    );

    let fortran = path_of(w, "fortran.npy");
    std::fs::write(&fortran, npy_bytes(&[20, 4, 4], &good, Order::Fortran)).unwrap();
    refused(
        w,
        &format!("npy:{}", fortran.display()),
        "",
        &["fortran.npy", "Fortran"],
    );

    let truncated = path_of(w, "short.npy");
    let bytes = npy_bytes(&[20, 4, 4], &good, Order::C);
    std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    refused(
        w,
        &format!("npy:{}", truncated.display()),
        "",
        &["short.npy", "truncated"],
    );

    let not_npy = path_of(w, "text.npy");
    std::fs::write(&not_npy, "hello").unwrap();
    refused(
        w,
        &format!("npy:{}", not_npy.display()),
        "",
        &["text.npy", ".npy"],
    );
    refused(
        w,
        &format!("npz:{}", not_npy.display()),
        "",
        &["text.npy", ".npz"],
    );
    refused(w, "npy:/nonexistent/x.npy", "", &["/nonexistent/x.npy"]);

    let other = levels(10, 6); // 10 images of 4×4 ...
    let mut p = path_of(w, "mismatch.npz");
    {
        let mut npz = NpzWriter::create(&p).unwrap();
        add(&mut npz, "train", &[20, 4, 4], &good);
        add(&mut npz, "test", &[10, 2, 8], &other); // ... seen as 2×8
    }
    refused(
        w,
        &format!("npz:{}", p.display()),
        "",
        &["mismatch.npz", "`train`", "`test`", "agree"],
    );
    p = path_of(w, "nosplit.npz");
    write_npz(&p, &[("x", &good), ("y", &good)]);
    refused(
        w,
        &format!("npz:{}", p.display()),
        "",
        &["`x`, `y`", "`train`"],
    );
    let both = npz_of(
        "both.npz",
        &[
            ("train", &good),
            ("valid", &good),
            ("val", &good),
            ("test", &good),
        ],
    );
    refused(w, &both, "", &["both `valid` and `val`"]);
    let no_test = npz_of("notest.npz", &[("train", &good), ("valid", &good)]);
    refused(w, &no_test, "", &["no array `test`"]);

    let ok_npz = npz_of("ok.npz", &[("train", &good), ("test", &good)]);
    refused(w, &ok_npz, "  layout: nhwc\n", &["data.layout", "4-axis"]);
    refused(
        w,
        "synthetic",
        "  layout: nchw\n",
        &["data.layout", "npy:PATH"],
    );
}
