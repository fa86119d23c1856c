//! The layering of docs/architecture.md, checked: a module of `src/` may use
//! only modules of lower layers (`use crate::…` and `crate::…` paths in its
//! code; comments and `#[cfg(test)]` code are not counted, since a test may
//! reach up to check its module against another).
use std::collections::BTreeMap;
use std::path::Path;

/// The layers, lowest first. Keep in step with docs/architecture.md.
const LAYERS: &[&[&str]] = &[
    &["rng", "device", "runtime", "autocast"],
    &["order"],
    &["data"],
    &["models"],
    &["spec"],
    &["results"],
    &["eval"],
    &["train"],
    &["score", "bench"],
    &["sweep"],
    &["report", "slurm"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file of `src/` belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn is_test_file(rel: &Path) -> bool {
    rel.components().any(|c| c.as_os_str() == "tests")
        || rel
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("tests"))
}

/// The code of a file without comments and without its `#[cfg(test)]` tail.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::name` in `code`, and the names inside `use crate::{a, b::c}`.
fn uses(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(inner) = rest.strip_prefix('{') {
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            for part in inner.split(',') {
                let name = part.trim().split("::").next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.push(name.to_string());
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_dependency_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = module_of(rel);
        if module == "lib" || module == "main" || is_test_file(rel) {
            continue;
        }
        let own = layer_of(&module)
            .unwrap_or_else(|| panic!("src/{}: module `{module}` has no layer", rel.display()));
        let text = std::fs::read_to_string(file).unwrap();
        for used in uses(&code(&text)) {
            if used == module {
                continue;
            }
            let Some(theirs) = layer_of(&used) else {
                panic!(
                    "src/{}: uses `crate::{used}`, which has no layer",
                    rel.display()
                );
            };
            if theirs >= own {
                wrong
                    .entry(format!("src/{}", rel.display()))
                    .or_default()
                    .push(format!(
                        "{module} (layer {own}) uses {used} (layer {theirs})"
                    ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that do not point down: {wrong:#?}"
    );
}

#[test]
fn the_checker_sees_braced_and_plain_paths() {
    let found = uses("use crate::{data::Split, models};\nlet x = crate::eval::mean_nll(&v);");
    assert_eq!(found, ["data", "models", "eval"]);
    assert!(
        code("// crate::cli\nfn f() {}\n#[cfg(test)]\nmod t { use crate::cli; }")
            .find("cli")
            .is_none()
    );
}
