//! The layers hold: each crate uses only those below it, no front end
//! imports another's internals, and the server's modules never import
//! each other in a circle. Read from `cargo metadata` and the sources, so
//! a new dependency or `use` that breaks a rule fails here.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each workspace crate and the workspace crates it depends on (normal
/// dependencies only: tests may use anything).
fn crate_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"].as_array().into_iter().flatten();
            let local = deps
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), local)
        })
        .collect()
}

#[test]
fn each_crate_uses_only_the_layers_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("lectern-core", &[][..]),
        ("lectern-demo", &[][..]),
        // Throwaway PostgreSQL databases for tests (a dev-dependency only).
        ("lectern-testdb", &[][..]),
        ("lectern-store", &["lectern-core"][..]),
        ("lectern-scanner", &["lectern-core", "lectern-store"][..]),
        ("lectern-backup", &["lectern-core", "lectern-store"][..]),
        // Delivers alerts; when to send is the application's.
        ("lectern-alerts", &["lectern-core"][..]),
        (
            "lectern-app",
            &[
                "lectern-core",
                "lectern-store",
                "lectern-scanner",
                "lectern-backup",
                "lectern-alerts",
            ][..],
        ),
        (
            "lectern-server",
            &[
                "lectern-app",
                "lectern-core",
                "lectern-store",
                "lectern-scanner",
                "lectern-backup",
            ][..],
        ),
        // The binary runs the server (`lectern serve`) through its public
        // entry point only; see the next test.
        (
            "lectern",
            &[
                "lectern-app",
                "lectern-core",
                "lectern-store",
                "lectern-scanner",
                "lectern-backup",
                "lectern-demo",
                "lectern-server",
            ][..],
        ),
    ]);
    let graph = crate_graph();
    for (name, deps) in &graph {
        let Some(ok) = allowed.get(name.as_str()) else {
            panic!("{name} is a new crate: give it a layer in this test");
        };
        for dep in deps {
            assert!(
                ok.contains(&dep.as_str()),
                "{name} must not depend on {dep}"
            );
        }
    }
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                found.push((path, text));
            }
        }
    }
    found
}

#[test]
fn the_command_line_uses_only_the_servers_entry_point() {
    let cli = workspace().join("crates/lectern/src");
    for (path, text) in sources(&cli) {
        for (at, _) in text.match_indices("lectern_server::") {
            let rest = &text[at + "lectern_server::".len()..];
            let item: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
                .collect();
            assert!(
                !item.contains("::"),
                "{}: `lectern_server::{item}` reaches into the server's modules",
                path.display()
            );
        }
    }
    let server = workspace().join("crates/server/src");
    for (path, text) in sources(&server) {
        assert!(
            !text.contains("lectern::"),
            "{}: the server must not use the command line",
            path.display()
        );
    }
}

/// The server's top-level modules and which of them each one uses.
fn server_modules() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("crates/server/src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources(&src) {
        let relative = path.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue; // the root wires every module together
        }
        let used = graph.entry(top.clone()).or_default();
        // Code only: a comment may name any module.
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let is_module = name.chars().next().is_some_and(|c| c.is_lowercase());
            if is_module && name != top {
                used.insert(name);
            }
        }
    }
    graph
}

/// A circle of modules, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_servers_modules_never_import_each_other_in_a_circle() {
    let graph = server_modules();
    assert!(
        graph.contains_key("api") && graph.contains_key("pages"),
        "{graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the server's modules import each other in a circle: {}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("d".to_owned(), BTreeSet::new()),
    ]);
    let cycle = find_cycle(&graph).expect("a → b → c → a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    let line = BTreeMap::from([("a".to_owned(), BTreeSet::from(["b".to_owned()]))]);
    assert_eq!(find_cycle(&line), None);
}

/// The audit log is written from events: apart from the store that keeps
/// it, only the app's audit listener writes entries. Neither the server
/// nor the command line writes one itself; each tells of a refusal by
/// emitting `Event::Refused`.
#[test]
fn audit_entries_are_written_only_by_the_listener_of_events() {
    let writers = ["record_audit(", "record_audit_counted("];
    let allowed = ["crates/app/src/audit.rs"];
    for folder in ["crates/app/src", "crates/server/src", "crates/lectern/src"] {
        for (path, text) in sources(&workspace().join(folder)) {
            let relative = path
                .strip_prefix(workspace())
                .expect("inside the workspace");
            let relative = relative.to_string_lossy();
            let writes = writers.iter().any(|w| text.contains(w));
            assert!(
                !writes || allowed.contains(&relative.as_ref()),
                "{relative} writes audit entries itself instead of emitting an event"
            );
        }
    }
}

/// The API and the pages are two front ends over the same use cases:
/// neither imports the other.
#[test]
fn the_api_and_the_pages_do_not_import_each_other() {
    let graph = server_modules();
    for (from, to) in [("pages", "api"), ("api", "pages")] {
        assert!(
            !graph[from].contains(to),
            "the server's {from} import its {to}: {:?}",
            graph[from]
        );
    }
}
