//! The layering of `src/` (README "Layout"): a module imports only from layers below it
//! (or its own), so the dependency graph has no cycle; the binary's `cli` reaches the
//! library only through its public API; no comment cites an issue number.

use std::path::{Path, PathBuf};

/// The library's top-level modules by layer, lowest first (the table in `src/lib.rs`): a
/// module may use the modules of lower layers, and `error` (everyone's).
const LAYERS: &[&[&str]] = &[
    &["error", "tensor"],
    &["model", "channel"],
    &["cpu", "link"],
    &["gpu"],
    &["compress", "data"],
    &["eval"],
    &["report"],
    &["plan", "train", "net"],
    &["study"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/architecture.rs"))
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// The code of a file without its comments (line comments only: the crate has no block
/// comments).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments after `prefix` in `code`: `prefix::a::X` and the grouped
/// `prefix::{a::X, b}` both count (`a`, `b`).
fn segments_after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, m) in code.match_indices(prefix) {
        let rest = &code[i + m.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let (mut depth, mut start) = (0, 0);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out.sort();
    out.dedup();
    out
}

/// The top-level modules a file names as `crate::<module>`.
fn uses(code: &str) -> Vec<String> {
    let mut out = segments_after(code, "crate::");
    out.retain(|m| m != "Error" && m != "Result");
    out
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for f in files(&src) {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if ["lib", "main", "cli"].contains(&top.as_str()) {
            continue;
        }
        let me = layer(&top);
        for m in uses(&code(&f)) {
            if layer(&m) > me {
                wrong.push(format!(
                    "{}: `{top}` uses `crate::{m}` (a layer above)",
                    rel.display()
                ));
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} files checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_cli_uses_the_library_through_its_public_api() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    for f in files(&cli) {
        let code = code(&f);
        assert!(
            !code.contains("crate::") || code.contains("use crate::cli"),
            "{}: the binary reaches the library as `splitbench::`",
            f.display()
        );
    }
}

#[test]
fn no_comment_cites_an_issue_number() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        for f in files(&root.join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let Some((_, comment)) = line.split_once("//") else {
                    continue;
                };
                let lower = comment.to_ascii_lowercase();
                let cites = lower.match_indices("issue ").any(|(i, m)| {
                    lower[i + m.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '#')
                });
                if cites {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The modules of `gpu/` in their one-way order: each uses only those before it.
const GPU_ORDER: &[&str] = &[
    "shaders",
    "tiling",
    "tilecache",
    "pipelines",
    "context",
    "dispatch",
    "buffers",
    "clock",
    "launch",
    "autotune",
    "executor",
    "timing",
    "pass_timer",
    "codec",
];

#[test]
fn gpu_modules_depend_one_way() {
    let gpu = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gpu");
    let mut wrong = Vec::new();
    for f in files(&gpu) {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        if name == "mod" {
            continue;
        }
        let me = GPU_ORDER
            .iter()
            .position(|m| *m == name)
            .unwrap_or_else(|| panic!("src/gpu/{name}.rs is not in GPU_ORDER"));
        let code = code(&f);
        let used = segments_after(&code, "super::")
            .into_iter()
            .chain(segments_after(&code, "crate::gpu::"));
        for m in used {
            match GPU_ORDER.iter().position(|o| *o == m) {
                Some(i) if i >= me => wrong.push(format!("gpu/{name}.rs uses gpu::{m}")),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn grouped_imports_are_seen() {
    let code = "use crate::{plan::X, study::{a, b}};\nlet y = crate::model::Shape::new(1, 1, 1);";
    assert_eq!(uses(code), ["model", "plan", "study"]);
}
