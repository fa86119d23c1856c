//! The test ensemble's finished members, kept in the run directory
//! (`ensemble/<member>.npy`: log p_k(x) per test image, float64 nats), so
//! that an ensemble stopped part-way (a signal, a crash, the end of a Slurm
//! job) goes on from where it stopped: an ensemble of 128 orderings can
//! take an hour on a CPU.
//!
//! The members belong to the best checkpoint: training clears them before
//! it writes a new one (a run started over with `--force` too, at its
//! first validation), so a kept member is never another network's.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::npy;

/// The directory of one run's kept ensemble members.
#[derive(Clone, Debug)]
pub struct MemberStore {
    dir: PathBuf,
}

impl MemberStore {
    pub fn new(dir: impl Into<PathBuf>) -> MemberStore {
        MemberStore { dir: dir.into() }
    }

    /// The kept log-likelihoods of `member` when they are there and cover
    /// `images` images; `None` otherwise (not kept yet, or unreadable: then
    /// it is evaluated again and written over).
    pub fn load(&self, member: &str, images: usize) -> Option<Vec<f64>> {
        let path = self.path(member);
        if !path.is_file() {
            return None;
        }
        match npy::read_f64(&path) {
            Ok(v) if v.len() == images => Some(v),
            Ok(v) => {
                tracing::warn!(
                    "`{}` holds {} values for {images} images: evaluating `{member}` again",
                    path.display(),
                    v.len()
                );
                None
            }
            Err(e) => {
                tracing::warn!("{e:#}: evaluating `{member}` again");
                None
            }
        }
    }

    /// Keeps `member`'s log-likelihoods (atomically: a reader never sees half a file).
    pub fn save(&self, member: &str, log_probs: &[f64]) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create `{}`", self.dir.display()))?;
        npy::write_f64(&self.path(member), log_probs)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets every kept member (the network they belong to is replaced).
    pub fn clear(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove `{}`", self.dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// `<dir>/<member>.npy`, the name escaped so that every member has its
    /// own file: characters other than ASCII letters, digits, `-`, `_` and
    /// `.` become `%XX` (`random:3` → `random%3A3.npy`).
    fn path(&self, member: &str) -> PathBuf {
        let mut name = String::new();
        for b in member.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    name.push(b as char)
                }
                _ => name.push_str(&format!("%{b:02X}")),
            }
        }
        self.dir.join(format!("{name}.npy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_member_reads_back_and_clearing_forgets_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = MemberStore::new(tmp.path().join("ensemble"));
        assert_eq!(store.load("random:3", 2), None);
        store.clear().unwrap(); // nothing to clear is fine
        store.save("random:3", &[-1.5, -2.25]).unwrap();
        assert_eq!(store.load("random:3", 2), Some(vec![-1.5, -2.25]));
        // Another test set size: not this member's values.
        assert_eq!(store.load("random:3", 3), None);
        store.clear().unwrap();
        assert_eq!(store.load("random:3", 2), None);
    }

    #[test]
    fn every_member_has_its_own_file() {
        let store = MemberStore::new("e");
        let names = [
            "random:3",
            "random_3",
            "random%3A3",
            "mask-0",
            "snake+transpose",
        ];
        let paths: std::collections::HashSet<PathBuf> =
            names.iter().map(|n| store.path(n)).collect();
        assert_eq!(paths.len(), names.len());
        assert_eq!(store.path("random:3"), Path::new("e/random%3A3.npy"));
        assert_eq!(store.path("mask-0"), Path::new("e/mask-0.npy"));
    }

    #[test]
    fn an_unreadable_member_is_evaluated_again() {
        let tmp = tempfile::tempdir().unwrap();
        let store = MemberStore::new(tmp.path());
        std::fs::write(store.path("raster"), b"not npy").unwrap();
        assert_eq!(store.load("raster", 4), None);
    }
}
