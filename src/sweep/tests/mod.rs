use super::*;

const BASE: &str = "name: sw
data:
  source: synthetic
  synthetic: {height: 4, width: 4, train: 20, val: 10, test: 10}
models:
  - type: nade
    hidden: 8
  - type: fvsbn
orderings: [raster, column]
train:
  epochs: 1
  device: cpu
";

fn plan(sweep: &str) -> Result<Plan> {
    Plan::parse(&format!("{BASE}{sweep}"), "t.yaml", &[])
}

#[test]
fn a_spec_without_sweep_plans_its_cross_product() {
    let p = plan("").unwrap();
    let names: Vec<String> = p.runs.iter().map(PlannedRun::name).collect();
    assert_eq!(
        names,
        [
            "nade-h8-raster-s0",
            "nade-h8-column-s0",
            "fvsbn-raster-s0",
            "fvsbn-column-s0"
        ]
    );
    assert!(p.axes.is_empty());
}

#[test]
fn swept_values_cross_the_runs_and_name_them() {
    let p = plan("sweep:\n  train.lr: [0.001, 0.003]\n  models.0.hidden: [8, 16]\n").unwrap();
    // nade: 2 lr × 2 hidden × 2 orderings; fvsbn, untouched by the width:
    // 2 lr × 2 orderings, planned once each (under hidden 8).
    assert_eq!(p.runs.len(), 12);
    let r = &p.runs[11];
    assert_eq!(r.name(), "nade-h16-column-s0-lr0.003-hidden16");
    assert!(p
        .runs
        .iter()
        .any(|r| r.name() == "fvsbn-column-s0-lr0.003-hidden8"));
    assert_eq!(r.run.spec.train.lr, 0.003);
    // Model 0 got the swept width; its label shows it too.
    assert!(p
        .runs
        .iter()
        .any(|r| r.name() == "nade-h16-raster-s0-lr0.001-hidden16"));
    // The run's spec reproduces it alone: no sweep, the values applied.
    let yaml = r.run.spec.to_yaml();
    assert!(!yaml.contains("sweep"), "{yaml}");
    let again = Spec::parse(&yaml, "run", &[]).unwrap();
    assert_eq!(again.train.lr, 0.003);
    assert_eq!(again.runs().len(), 1);
    // Hashes tell runs apart and are stable.
    let q = plan("sweep:\n  train.lr: [0.001, 0.003]\n  models.0.hidden: [8, 16]\n").unwrap();
    assert_eq!(p.manifest(), q.manifest());
    let hashes: HashSet<&str> = p.runs.iter().map(|r| r.hash.as_str()).collect();
    assert_eq!(hashes.len(), 12);
}

#[test]
fn bad_sweeps_are_refused_with_the_path() {
    let e = plan("sweep:\n  train.lrr: [1]\n").unwrap_err();
    assert!(format!("{e:#}").contains("lrr"), "{e:#}");
    let e = plan("sweep:\n  train.lr: 0.1\n").unwrap_err();
    assert!(format!("{e:#}").contains("non-empty list"), "{e:#}");
    let e = plan("sweep:\n  train.lr: [-1]\n").unwrap_err();
    assert!(format!("{e:#}").contains("train.lr=-1"), "{e:#}");
    let e = plan("sweep:\n  description: [\"a:b\", \"a/b\"]\n").unwrap_err();
    assert!(format!("{e:#}").contains("share the directory"), "{e:#}");
    // A repeated value plans its runs once.
    assert_eq!(
        plan("sweep:\n  train.lr: [0.1, 0.1]\n").unwrap().runs.len(),
        4
    );
}

#[test]
fn indices_survive_replanning_and_spec_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = plan("sweep:\n  train.lr: [0.001, 0.003]\n").unwrap();
    p.sync_manifest(dir.path()).unwrap();
    let first = read_manifest(&dir.path().join("runs.jsonl")).unwrap();
    assert_eq!(first.len(), 8);
    assert_eq!(first[5].overrides["train.lr"], "0.003");
    // A new value: old runs keep their indices, new ones come after.
    let mut q = plan("sweep:\n  train.lr: [0.01, 0.001, 0.003]\n").unwrap();
    q.sync_manifest(dir.path()).unwrap();
    for old in &first {
        let now = q.runs.iter().find(|r| r.name() == old.name).unwrap();
        assert_eq!(now.index, old.index, "{}", old.name);
    }
    assert_eq!(q.runs.iter().map(|r| r.index).max(), Some(11));
    assert_eq!(q.get(9).unwrap().run.spec.train.lr, 0.01);
    assert!(q.get(12).is_err());
}

#[test]
fn sweep_errors_point_at_the_sweep_line_never_at_a_set_not_given() {
    // BASE has 12 lines: `sweep:` is line 13, its key line 14.
    let e = format!("{:#}", plan("sweep:\n  train.lr: [0.1, -1]\n").unwrap_err());
    assert!(e.contains("train.lr=-1 (line 14)"), "{e}");
    assert!(e.contains("lr: must be a positive number"), "{e}");
    let e = format!("{:#}", plan("sweep:\n  train.epochs: [one]\n").unwrap_err());
    assert!(e.contains("(line 14)") && !e.contains("line 2"), "{e}");
    let e = format!(
        "{:#}",
        plan("sweep:\n  models.5.hidden: [4]\n").unwrap_err()
    );
    assert!(e.contains("sweep: `models.5.hidden` (line 14)"), "{e}");
    assert!(e.contains("index 5 is out of range"), "{e}");
    assert!(!e.contains("--set") && !e.contains("\\n"), "{e}");
}
