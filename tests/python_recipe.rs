//! docs/python.md is a recipe and a test: every ```python block runs with
//! the venv's Python and every `arlab …` line of a ```sh block with this
//! binary, in order, in a fresh directory holding the recipe's spec. The
//! recipe's own asserts check what it claims (per-image log-likelihoods,
//! the score table, one image's log-likelihood recomputed in numpy).
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

enum Step {
    Python(String),
    Arlab(Vec<String>),
}

/// The fenced ```python and ```sh blocks of `markdown`, in order.
fn steps(markdown: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let lang = match line.trim_end() {
            "```python" => "python",
            "```sh" => "sh",
            _ => continue,
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        if lang == "python" {
            steps.push(Step::Python(body.join("\n")));
            continue;
        }
        for cmd in body {
            let cmd = cmd.split('#').next().unwrap().trim();
            let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            assert_eq!(
                args.first().map(String::as_str),
                Some("arlab"),
                "a ```sh line that is not `arlab …`: {cmd}"
            );
            steps.push(Step::Arlab(args[1..].to_vec()));
        }
    }
    steps
}

fn run_python(py: &Path, cwd: &Path, code: &str) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(code)
        .current_dir(cwd)
        .output()
        .expect("python starts");
    assert!(
        out.status.success(),
        "a python block of docs/python.md failed:\n{code}\n{}",
        describe(&out)
    );
    text(&out.stdout)
}

#[test]
fn the_python_recipe_runs_as_written() {
    let Some(py) = venv_python(&["numpy", "pandas", "safetensors"]) else {
        return;
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(repo.join("docs/python.md")).unwrap();
    let dir = tmp();
    std::fs::create_dir_all(dir.path().join("experiments")).unwrap();
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    std::fs::copy(
        repo.join("experiments/python_demo.yaml"),
        dir.path().join("experiments/python_demo.yaml"),
    )
    .unwrap();
    let steps = steps(&doc);
    assert!(steps.len() >= 6, "docs/python.md lost its blocks");
    // Python blocks share one namespace, as in a notebook: each runs with
    // the blocks before it.
    let mut program = String::new();
    let mut last_stdout = String::new();
    for step in &steps {
        match step {
            Step::Python(code) => {
                program.push_str(code);
                program.push('\n');
                last_stdout = run_python(&py, dir.path(), &program);
            }
            Step::Arlab(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ok(arlab(dir.path(), &args));
            }
        }
    }
    assert!(last_stdout.contains("image 0: numpy"), "{last_stdout}");
}
