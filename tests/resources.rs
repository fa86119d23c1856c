//! Resources are checked before they are spent: a model, data, an image file,
//! workers or a sample grid too large for this machine is refused (or
//! capped) with a clear error naming the estimate, before it is allocated.
mod common;

use std::path::Path;

use common::*;

/// Runs `arlab run` on `spec` in a fresh directory; returns the directory
/// and the output.
fn run_spec(spec: &str, extra: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let work = tmp();
    let path = write_spec(work.path(), "exp.yaml", spec);
    let mut args = vec!["run", path.to_str().unwrap(), "--results", "res"];
    args.extend_from_slice(extra);
    let out = arlab(work.path(), &args);
    (work, out)
}

#[test]
fn a_model_too_large_for_memory_is_refused_before_it_is_built() {
    let spec = spec_text(
        "huge",
        4,
        "  - type: gated_pixelcnn\n    hidden: 100000\n",
        "[raster]",
        "",
    );
    let (work, out) = run_spec(&spec, &["--quiet"]);
    fails(
        out,
        &[
            "the gated_pixelcnn model has",
            "illion parameters; training it needs about",
            "available of this machine's memory",
            "use a smaller model",
        ],
    );
    // Refused before its run directory was made.
    let run = work.path().join("res/huge");
    let made: Vec<_> = std::fs::read_dir(&run)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        made.iter()
            .all(|n| !n.to_string_lossy().starts_with("gated")),
        "{made:?}"
    );
}

#[test]
fn image_sizes_beyond_the_limit_are_refused_before_any_image_is_made() {
    let base = spec_text("big", 4, NADE8, "[raster]", "");
    // data.size on any source, photos and image folders included.
    for source in ["synthetic", "photos", "\"images:/nonexistent\""] {
        let spec = base.replace(
            "  source: synthetic\n",
            &format!("  source: {source}\n  size: 100000x100000\n"),
        );
        let spec = if source == "synthetic" {
            spec
        } else {
            spec.replace("  synthetic:", "  pixels: rgb\n  synthetic:")
        };
        fails(
            run_spec(&spec, &["--quiet"]).1,
            &["data.size: 100000x100000 is too large", "1024"],
        );
    }
    let spec = base.replace("height: 4, width: 4", "height: 100000, width: 4");
    fails(
        run_spec(&spec, &["--quiet"]).1,
        &["data.synthetic: 100000x4 is too large"],
    );
    let spec = base.replace("train: 200,", "train: 100000000000,");
    fails(
        run_spec(&spec, &["--quiet"]).1,
        &[
            "data.synthetic",
            "images of 4x4 need about",
            "ask for fewer",
        ],
    );
}

/// A PNG file that says it is `w`×`h` (RGB) and holds one zlib-compressed
/// row: enough for a decoder to read its header.
fn png_header_only(path: &Path, w: u32, h: u32) {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &[0u8; 64]).unwrap();
    let idat = z.finish().unwrap();
    let mut png = PNG_SIGNATURE.to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

/// A spec on the image folder `folder`, cut to 4×4.
fn folder_spec(folder: &Path) -> String {
    spec_text("imgs", 4, "  - type: independent\n", "[raster]", "").replace(
        "  source: synthetic\n",
        &format!("  source: \"images:{}\"\n  size: 4x4\n", folder.display()),
    )
}

#[test]
fn an_image_file_too_large_to_decode_is_refused_from_its_header() {
    let work = tmp();
    let folder = work.path().join("imgs");
    std::fs::create_dir(&folder).unwrap();
    png_header_only(&folder.join("a_huge.png"), 20000, 20000);
    for name in ["b.png", "c.png"] {
        image::RgbImage::from_pixel(5, 5, image::Rgb([10, 200, 10]))
            .save(folder.join(name))
            .unwrap();
    }
    let spec = write_spec(
        work.path(),
        "imgs.yaml",
        &folder_spec(&folder).replace("  source:", "  pixels: rgb\n  source:"),
    );
    fails(
        arlab(work.path(), &["inspect", spec.to_str().unwrap()]),
        &["a_huge.png", "20000×20000", "100 million"],
    );
}

#[test]
fn skipped_files_of_an_image_folder_are_listed() {
    let work = tmp();
    let folder = work.path().join("imgs");
    std::fs::create_dir(&folder).unwrap();
    for name in ["a.png", "b.png", "c.png"] {
        image::RgbImage::from_pixel(5, 5, image::Rgb([200, 10, 10]))
            .save(folder.join(name))
            .unwrap();
    }
    std::os::unix::fs::symlink("loop.png", folder.join("loop.png")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x.png", folder.join("dangling.png")).unwrap();
    let spec = write_spec(
        work.path(),
        "imgs.yaml",
        &folder_spec(&folder).replace("  source:", "  pixels: rgb\n  source:"),
    );
    let out = ok(arlab(work.path(), &["inspect", spec.to_str().unwrap()]));
    let err = text(&out.stderr);
    for needle in ["2 file(s) skipped", "loop.png", "dangling.png"] {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

#[test]
fn jobs_are_capped_at_the_runs_of_the_plan() {
    let spec = spec_text("one", 4, NADE8, "[raster]", "  sample_every: 0\n");
    let (work, out) = run_spec(&spec, &["--jobs", "64"]);
    let out = ok(out);
    let err = text(&out.stderr);
    assert!(
        err.contains("--jobs 64: capped at 1 worker(s), one per run of the plan"),
        "{err}"
    );
    assert!(work
        .path()
        .join("res/one/nade-h8-raster-s1/summary.json")
        .is_file());
}

#[test]
fn sample_counts_are_drawn_in_batches_or_refused_when_the_grid_cannot_fit() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let run = run.to_str().unwrap();
    // More than one batch of 256.
    ok(arlab(
        work.path(),
        &["sample", run, "--count", "300", "--out", "s.png"],
    ));
    assert_png(&work.path().join("s.png"));
    fails(
        arlab(
            work.path(),
            &["sample", run, "--count", "100000000000", "--out", "x.png"],
        ),
        &[
            "--count 100000000000",
            "needs about",
            "ask for fewer samples",
        ],
    );
    assert!(!work.path().join("x.png").exists());
}

#[test]
fn orderings_drawings_have_a_size_limit() {
    let work = tmp();
    fails(
        arlab(
            work.path(),
            &["orderings", "--size", "5000x5000", "--out", "o"],
        ),
        &["--size 5000x5000", "at most 256x256"],
    );
    assert!(!work.path().join("o").exists());
}
