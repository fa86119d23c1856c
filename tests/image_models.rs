//! The image models end to end: gray and colour runs write their results
//! (colour sample grids included), eval reproduces the test NLL, inspect
//! lists the convolutional models, receptive-field draws its maps, and
//! colour sources fail clearly on bad folders.
mod common;

use std::path::Path;

use common::*;

const CONV: &str = "  - type: pixelcnn\n    blocks: 1\n    hidden: 4\n    output_hidden: 8\n  - type: gated_pixelcnn\n    layers: 2\n    hidden: 4\n    output_hidden: 8\n  - type: independent\n";

/// A spec on 6×6 synthetic data with the given pixel form.
fn image_spec(name: &str, pixels: &str) -> String {
    spec_text(
        name,
        6,
        CONV,
        "[raster, column+hflip]",
        "  sample_every: 0\n",
    )
    .replace(
        "  source: synthetic\n",
        &format!("  source: synthetic\n  pixels: {pixels}\n"),
    )
}

fn run(work: &Path, spec: &Path) {
    ok(arlab(
        work,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
}

#[test]
fn gray_and_rgb_runs_write_results_and_eval_reproduces_them() {
    let work = tmp();
    for (pixels, channels) in [("gray256", 1), ("rgb", 3)] {
        let name = format!("img-{pixels}");
        let spec = write_spec(work.path(), "img.yaml", &image_spec(&name, pixels));
        run(work.path(), &spec);
        let exp = work.path().join("res").join(&name);
        let (_, rows) = read_csv(&exp.join("comparison.csv"));
        assert_eq!(rows.len(), 6, "{pixels}: {rows:?}");
        let dir = exp.join("pixelcnn-b1-h4-o8-column+hflip-s1");
        let summary = read_json(&dir.join("summary.json"));
        assert_eq!(summary["pixels"], pixels);
        assert_eq!(summary["channels"], channels);
        assert_eq!(summary["binarization"], "none (8-bit)");
        // bits/dim divides by C·H·W.
        let nll = summary["test_nll"].as_f64().unwrap();
        let bpd = summary["test_bits_per_dim"].as_f64().unwrap();
        let dims = (channels * 36) as f64;
        assert!((bpd - nll / (dims * std::f64::consts::LN_2)).abs() < 1e-9);
        assert!(bpd.is_finite() && bpd > 0.1, "{pixels}: {bpd} bits/dim");
        let grid = image::open(dir.join("samples/epoch-0002.png"))
            .unwrap()
            .to_rgb8();
        let coloured = grid.pixels().any(|p| p[0] != p[1] || p[1] != p[2]);
        assert_eq!(
            coloured,
            pixels == "rgb",
            "{pixels}: colour in the sample grid"
        );
        let out = ok(arlab(work.path(), &["eval", dir.to_str().unwrap()]));
        let shown = format!("{nll:.4}");
        assert!(text(&out.stdout).contains(&shown), "{}", text(&out.stdout));
        assert_png(&exp.join("samples.png"));
    }
}

#[test]
fn inspect_lists_the_image_models_and_receptive_field_draws_them() {
    let work = tmp();
    let spec = write_spec(work.path(), "rf.yaml", &image_spec("rf", "rgb"));
    let out = ok(arlab(work.path(), &["inspect", spec.to_str().unwrap()]));
    let stdout = text(&out.stdout);
    for needle in [
        "pixelcnn-b1-h4-o8",
        "gated_pixelcnn-l2-h4-k3-o8",
        "256^3 - 1 = 16777215",
        "3×6×6",
    ] {
        assert!(stdout.contains(needle), "inspect lacks {needle}:\n{stdout}");
    }
    let png = work.path().join("rf.png");
    let out = ok(arlab(
        work.path(),
        &[
            "receptive-field",
            spec.to_str().unwrap(),
            "--pixel",
            "4,2",
            "--channel",
            "2",
            "--out",
            png.to_str().unwrap(),
        ],
    ));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("gated_pixelcnn-l2-h4-k3-o8: sees"),
        "{stdout}"
    );
    assert!(
        stdout.contains("independent: sees 0 of the 26 pixels"),
        "{stdout}"
    );
    assert_png(&png);
    fails(
        arlab(
            work.path(),
            &["receptive-field", spec.to_str().unwrap(), "--pixel", "9,9"],
        ),
        &["--pixel", "6×6"],
    );
}

#[test]
fn image_folders_fail_clearly() {
    let work = tmp();
    let folder = work.path().join("imgs");
    std::fs::create_dir(&folder).unwrap();
    let spec_for = |name: &str| {
        image_spec(name, "rgb").replace(
            "  source: synthetic\n",
            &format!("  source: \"images:{}\"\n  size: 4x4\n", folder.display()),
        )
    };
    let spec = write_spec(work.path(), "f.yaml", &spec_for("f"));
    let args = ["run", spec.to_str().unwrap(), "--quiet", "--results", "res"];
    fails(arlab(work.path(), &args), &["imgs", "png"]);
    for name in ["a.png", "b.png"] {
        image::RgbImage::from_pixel(5, 5, image::Rgb([200, 10, 10]))
            .save(folder.join(name))
            .unwrap();
    }
    std::fs::write(folder.join("broken.png"), b"not a png at all").unwrap();
    fails(arlab(work.path(), &args), &["broken.png"]);
    // Gray pixels from a colour source are refused before any loading.
    let gray = spec_for("g").replace("pixels: rgb", "pixels: gray256");
    let spec = write_spec(work.path(), "g.yaml", &gray);
    fails(
        arlab(work.path(), &["run", spec.to_str().unwrap(), "--quiet"]),
        &["data.pixels", "colour", "pixels: rgb"],
    );
}
