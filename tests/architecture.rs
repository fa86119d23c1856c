//! The layering of docs/architecture.md, checked: a module of `src/` may use
//! only modules of lower layers (`use crate::…` and `crate::…` paths in its
//! code; comments and `#[cfg(test)]` code are not counted, since a test may
//! reach up to check its module against another).
use std::collections::BTreeMap;
use std::path::Path;

/// The layers, lowest first. Keep in step with docs/architecture.md.
const LAYERS: &[&[&str]] = &[
    &["rng", "device", "runtime", "autocast", "stats"],
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

/// The longest a function of `src/` may be, in lines from `fn` to its
/// closing brace (docs/architecture.md: "No function over about 80 lines").
const MAX_FN_LINES: usize = 80;

/// Every function with a body in `text` (up to its `#[cfg(test)]` tail):
/// (name, first line, lines from `fn` to the closing brace). Braces are
/// counted on code only: comments, strings and char literals are skipped.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let (mut i, mut line) = (0, 1);
    let mut pending: Option<(String, usize)> = None;
    let mut open: Vec<Option<(String, usize)>> = Vec::new();
    let mut found = Vec::new();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        let skip_to = |i: usize, end: &str| text[i..].find(end).map_or(b.len(), |j| i + j);
        let next = match c {
            b'\n' => {
                line += 1;
                i + 1
            }
            b'/' if b.get(i + 1) == Some(&b'/') => skip_to(i, "\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => skip_to(i + 2, "*/") + 2,
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                j + 1
            }
            b'r' if (i == 0 || !is_ident(b[i - 1]))
                && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) =>
            {
                let hashes = text[i + 1..].bytes().take_while(|&c| c == b'#').count();
                let close = format!("\"{}", "#".repeat(hashes));
                skip_to(i + 2 + hashes, &close) + close.len()
            }
            // A char literal ('x', '\n', '{'); a lifetime ('a) is left alone.
            b'\'' if b.get(i + 1) == Some(&b'\\') => skip_to(i + 2, "'") + 1,
            b'\'' => {
                let mut chars = text[i + 1..].chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), Some('\'')) => i + 1 + ch.len_utf8() + 1,
                    _ => i + 1,
                }
            }
            b'f' if text[i..].starts_with("fn ") && (i == 0 || !is_ident(b[i - 1])) => {
                let name: String = text[i + 3..]
                    .trim_start()
                    .bytes()
                    .take_while(|&c| is_ident(c))
                    .map(char::from)
                    .collect();
                if !name.is_empty() {
                    pending = Some((name, line));
                }
                i + 3
            }
            b';' => {
                pending = None;
                i + 1
            }
            b'{' => {
                open.push(pending.take());
                i + 1
            }
            b'}' => {
                if let Some(Some((name, start))) = open.pop() {
                    found.push((name, start, line - start + 1));
                }
                i + 1
            }
            _ => i + 1,
        };
        // Newlines skipped over inside comments and strings still count.
        line += text.as_bytes()[i + 1..next.min(b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        i = next;
    }
    found
}

#[test]
fn no_function_is_over_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut long = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if is_test_file(rel) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (name, start, lines) in function_lengths(&text) {
            if lines > MAX_FN_LINES {
                long.push(format!(
                    "src/{}:{start}: `{name}` is {lines} lines",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them where a reader would want a name): {long:#?}"
    );
}

#[test]
fn the_length_check_counts_bodies_not_strings_or_comments() {
    let text =
        "fn a() {\n    let s = \"}{\";\n    // }\n    let c = '}';\n    let d = ['×', '{'];\n}\n\
                trait T { fn decl(&self); fn b<'a>(x: &'a str) -> &'a str { x } }\n\
                fn c() {\n    let r = r#\"{\"#;\n    let f: fn(u8) = |_| {};\n}\n\
                #[cfg(test)]\nmod tests { fn t() {} }";
    let found = function_lengths(text);
    let found: Vec<(&str, usize, usize)> =
        found.iter().map(|(n, s, l)| (n.as_str(), *s, *l)).collect();
    assert_eq!(found, [("a", 1, 6), ("b", 7, 1), ("c", 8, 4)]);
}
