//! Property-based fuzzing of the two parsers that read user files: the YAML
//! spec (with `--set` overrides) and the IDX reader (raw and gzip). Whatever
//! the input, they return `Ok` or an error: they never panic.
//!
//! CI runs a few hundred cases each; fuzz longer with e.g.
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz`.
use std::io::Write;

use arlab::data::idx;
use arlab::spec::Spec;
use proptest::prelude::*;

const VALID_SPEC: &str = "name: fuzz
data:
  source: synthetic
  synthetic: {height: 4, width: 4, train: 10, val: 5, test: 5, seed: 0}
models:
  - type: nade
    hidden: 4
  - {type: markov, k: 2, lr: 0.1}
orderings: [raster, \"random:3\", snake+reverse]
seeds: [0, 1]
train: {epochs: 2, batch_size: 5, schedule: cosine, patience: 1, device: cpu}
";

/// A small valid IDX images file.
fn valid_idx() -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    v.extend((0..12u8).map(|i| i * 20));
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Applies byte edits (position, value) and a truncation to `base`.
fn mutate(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(at, byte) in edits {
        if !v.is_empty() {
            let i = at % v.len();
            v[i] = byte;
        }
    }
    v.truncate(cut.min(v.len()));
    v
}

fn read_idx_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.idx");
    std::fs::write(&path, bytes).unwrap();
    let _ = idx::read_images(&path);
    let _ = idx::read_labels(&path);
    let _ = idx::load_source(&path);
}

proptest! {
    #[test]
    fn spec_parser_never_panics_on_any_text(text in "\\PC{0,400}") {
        let _ = Spec::parse(&text, "fuzz.yaml", &[]);
    }

    #[test]
    fn spec_parser_never_panics_on_mutated_specs(edits in prop::collection::vec((0usize..2000, 0x20u8..0x7f), 1..6), cut in 0usize..2000) {
        let bytes = mutate(VALID_SPEC.as_bytes(), &edits, cut);
        let text = String::from_utf8_lossy(&bytes);
        let _ = Spec::parse(&text, "fuzz.yaml", &[]);
    }

    #[test]
    fn overrides_never_panic(key in "[a-z_.\\[\\]0-9]{0,30}", value in "\\PC{0,30}") {
        let _ = Spec::parse(VALID_SPEC, "fuzz.yaml", &[format!("{key}={value}")]);
        let _ = Spec::parse(VALID_SPEC, "fuzz.yaml", &[key]);
    }

    #[test]
    fn idx_reader_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        read_idx_bytes(&bytes);
    }

    #[test]
    fn idx_reader_never_panics_on_mutated_files(edits in prop::collection::vec((0usize..64, any::<u8>()), 0..4), cut in 0usize..64, zipped in any::<bool>()) {
        let raw = mutate(&valid_idx(), &edits, cut);
        read_idx_bytes(&raw);
        if zipped {
            let gz = gzip(&valid_idx());
            let len = gz.len();
            read_idx_bytes(&gzip(&raw));
            read_idx_bytes(&mutate(&gz, &edits, cut % (len + 1)));
        }
    }
}

/// The mutations do reach the interesting paths: the unmutated inputs parse.
#[test]
fn the_seeds_of_the_fuzzers_are_valid() {
    Spec::parse(VALID_SPEC, "fuzz.yaml", &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.idx.gz");
    std::fs::write(&path, gzip(&valid_idx())).unwrap();
    assert_eq!(idx::read_images(&path).unwrap().len(), 3);
}
