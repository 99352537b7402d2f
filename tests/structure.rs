//! The shape of the code, checked: which file imports which (no circle
//! between files of `src/`, no module importing one above it in the stage
//! order), how long functions are, and how much the command layer holds.
//! `cargo test --test structure -- --nocapture` prints the module graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The library's top-level modules, lowest first: a module may import its
/// own rank or below, never above. Vocabulary and clients at the bottom,
/// then the pipeline's stages in the order a build runs them, then the
/// commands that wire stages together.
const RANKS: &[&[&str]] = &[
    // Vocabulary and small tools.
    &[
        "lib", "digest", "glob", "limits", "walk", "platform", "progress", "parallel", "config",
        "watch",
    ],
    &["cache", "http"],
    &["oci", "python"],
    // Clients and formats: registries, package indexes, the Debian archive,
    // bills of materials, one wheel's installation.
    &["registry", "index", "debian", "sbom"],
    &["registry_cache", "inspect", "wheel"],
    // What the native library audit knows of ELF files and base trees.
    &["audit"],
    // An image run on this machine without an engine.
    &["sandbox"],
    // The stages, in the order a build needs them: the base (which the
    // plan's choice of recipe reads), the app's plan, the resolution, the
    // venv's installation, the steps run in the builder, publishing.
    &["base"],
    &["project"],
    &["resolve"],
    &["install"],
    &["builder"],
    &["publish"],
    // The pipeline that runs the stages, and the commands built on it.
    &["build"],
    &["rebase", "serve", "tidy"],
];

/// Longest function anywhere in `src/`, and in the command layer.
const MAX_FUNCTION_LINES: usize = 120;
const MAX_CLI_FUNCTION_LINES: usize = 60;
/// The command layer (`src/cli.rs` + `src/cli/`) only turns flags into
/// requests and reports into lines. Issue 25 asks for under 700 lines; the
/// flags with their help text are about 300 of today's 1,042, and this
/// bound holds what has been reached while the rest moves out (lower it as
/// code leaves the CLI; raised once, by 12 lines, for issue 27's `prune`
/// and `cache info` commands after the sbom look-up moved out).
const MAX_CLI_LINES: usize = 1_060;

/// One source file: its module path (`build::start`) and what it imports.
struct SourceFile {
    module: String,
    path: PathBuf,
    /// Module paths this file names (`crate::x::y` resolved to the longest
    /// module that exists), itself excluded.
    imports: BTreeSet<String>,
    /// (function name, lines) of every function with a body.
    functions: Vec<(String, usize)>,
    lines: usize,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `src/build/mod.rs` → `build`, `src/build/start.rs` → `build::start`,
/// `src/lib.rs` → `lib`.
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") && parts.len() > 1 {
        parts.pop();
    }
    parts.join("::")
}

/// Every path a file names, as segments, with `crate`/`super`/`self`
/// still in front, plus the functions' lengths.
#[derive(Default)]
struct Names {
    /// Paths, each with how many inline modules (`mod tests { … }`) deep
    /// it was written: a `super` there first leaves those.
    paths: Vec<(Vec<String>, usize)>,
    depth: usize,
    functions: Vec<(String, usize)>,
    /// Modules declared inline (`mod tests { … }`): paths into them stay in the file.
    inline_modules: BTreeSet<String>,
}

impl Names {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                self.paths.push((path, self.depth));
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.to_string());
                self.paths.push((path, self.depth));
            }
            syn::UseTree::Glob(_) => self.paths.push((prefix.clone(), self.depth)),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }

    fn function(&mut self, name: &syn::Ident, fn_token: &syn::token::Fn, block: &syn::Block) {
        let start = fn_token.span.start().line;
        let end = block.brace_token.span.close().end().line;
        self.functions.push((name.to_string(), end + 1 - start));
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.paths.push((segments, self.depth));
        syn::visit::visit_path(self, path);
    }
    /// `pub(super)` says who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.inline_modules.insert(item.ident.to_string());
            // A file's tests may use what the code may not (its parent's
            // test helpers): their paths are not the file's imports.
            let kept = self.paths.len();
            self.depth += 1;
            syn::visit::visit_item_mod(self, item);
            self.depth -= 1;
            if is_cfg_test(&item.attrs) {
                self.paths.truncate(kept);
            }
        }
    }
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.function(&item.sig.ident, &item.sig.fn_token, &item.block);
        syn::visit::visit_item_fn(self, item);
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.function(&item.sig.ident, &item.sig.fn_token, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.function(&item.sig.ident, &item.sig.fn_token, block);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

/// The longest module of `modules` that `path` (absolute, without
/// `crate`) starts with.
fn longest_module(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// `path` as written in `module` → an absolute module path, if it names
/// something of this crate.
fn absolute(
    (path, depth): &(Vec<String>, usize),
    module: &str,
    is_dir_module: bool,
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let here: Vec<String> = match module {
        "lib" => Vec::new(),
        m => m.split("::").map(String::from).collect(),
    };
    let first = path.first()?.as_str();
    match first {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some(
            here.iter()
                .cloned()
                .chain(path[1..].iter().cloned())
                .collect(),
        ),
        "super" => {
            let mut base = here.clone();
            let mut rest = &path[..];
            // Out of the inline modules first: they are this file.
            let mut inline = *depth;
            while rest.first().is_some_and(|s| s == "super") {
                match inline {
                    0 => drop(base.pop()),
                    _ => inline -= 1,
                }
                rest = &rest[1..];
            }
            Some(base.into_iter().chain(rest.iter().cloned()).collect())
        }
        // A child module named without `self::` (`mod start; … start::x`).
        name if *depth == 0 && children.contains(name) && (is_dir_module || module == "lib") => {
            Some(here.iter().cloned().chain(path.iter().cloned()).collect())
        }
        _ => None,
    }
}

/// `build::start` is a child (`start`) of `build`; every top-level module is `lib`'s.
fn child_of(parent: &str, module: &str) -> Option<String> {
    let rest = match parent {
        "lib" => module,
        parent => module.strip_prefix(parent)?.strip_prefix("::")?,
    };
    (!rest.contains("::") && rest != "lib").then(|| rest.to_string())
}

/// Every file of `src/`, read and parsed once for all the tests.
fn read_sources() -> &'static [SourceFile] {
    static SOURCES: std::sync::OnceLock<Vec<SourceFile>> = std::sync::OnceLock::new();
    SOURCES.get_or_init(parse_sources)
}

fn parse_sources() -> Vec<SourceFile> {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    let modules: BTreeSet<String> = paths.iter().map(|p| module_of(p)).collect();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut names = Names::default();
            names.visit_file(&file);
            let module = module_of(path);
            let is_dir_module = path.ends_with("mod.rs");
            let children: BTreeSet<String> = modules
                .iter()
                .filter_map(|m| child_of(&module, m))
                .filter(|c| !names.inline_modules.contains(c))
                .collect();
            let imports = names
                .paths
                .iter()
                .filter_map(|p| absolute(p, &module, is_dir_module, &children))
                .filter_map(|p| longest_module(&p, &modules))
                .filter(|m| *m != module)
                .collect();
            SourceFile {
                module,
                path: path.clone(),
                imports,
                functions: names.functions,
                lines: text.lines().count(),
            }
        })
        .collect()
}

fn is_command_layer(file: &SourceFile) -> bool {
    let relative = file.path.strip_prefix(src()).unwrap();
    relative == Path::new("cli.rs")
        || relative.starts_with("cli")
        || relative == Path::new("main.rs")
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

fn rank(module: &str) -> Option<usize> {
    RANKS.iter().position(|r| r.contains(&top(module)))
}

/// The library's files (the binary's `main.rs` and `cli` import the
/// library by name, not `crate::`).
fn library(files: &[SourceFile]) -> Vec<&SourceFile> {
    files.iter().filter(|f| !is_command_layer(f)).collect()
}

#[test]
fn every_top_level_module_has_a_rank() {
    let files = read_sources();
    let unranked: BTreeSet<&str> = library(files)
        .iter()
        .map(|f| top(&f.module))
        .filter(|m| rank(m).is_none())
        .collect();
    assert!(
        unranked.is_empty(),
        "give these modules a place in RANKS: {unranked:?}"
    );
}

/// Also prints (with `--nocapture`) the graph between top-level modules:
/// the picture the README's Architecture section describes.
#[test]
fn no_module_imports_one_above_it_in_the_stage_order() {
    let files = read_sources();
    print_module_graph(files);
    let mut upward = Vec::new();
    for file in library(files) {
        for import in &file.imports {
            if let (Some(from), Some(to)) = (rank(&file.module), rank(import))
                && to > from
            {
                upward.push(format!("{} → {import}", file.module));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run back up the stage order:\n{}",
        upward.join("\n")
    );
}

/// Strongly connected groups of more than one file (Tarjan's algorithm).
fn circles(edges: &BTreeMap<&str, Vec<&str>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for &next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    group.push(top.to_string());
                    if top == node {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for &node in edges.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn no_import_circle_between_files() {
    let files = read_sources();
    let library = library(files);
    let edges: BTreeMap<&str, Vec<&str>> = library
        .iter()
        .map(|f| {
            (
                f.module.as_str(),
                f.imports.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let found: Vec<String> = circles(&edges)
        .iter()
        .map(|group| {
            let inside = |m: &str| group.iter().any(|g| g == m);
            let arrows: Vec<String> = group
                .iter()
                .flat_map(|from| {
                    edges[from.as_str()]
                        .iter()
                        .filter(|to| inside(to))
                        .map(move |to| format!("  {from} → {to}"))
                })
                .collect();
            arrows.join("\n")
        })
        .collect();
    assert!(
        found.is_empty(),
        "files that import each other (directly or round a circle), by their imports:\n{}",
        found.join("\n\n")
    );
}

#[test]
fn circles_are_found() {
    let edges: BTreeMap<&str, Vec<&str>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into();
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
}

#[test]
fn no_function_is_longer_than_a_screen_or_two() {
    let files = read_sources();
    let mut long = Vec::new();
    for file in files {
        let limit = match is_command_layer(file) {
            true => MAX_CLI_FUNCTION_LINES,
            false => MAX_FUNCTION_LINES,
        };
        for (name, lines) in &file.functions {
            if *lines > limit {
                long.push(format!(
                    "{} {name}: {lines} lines (limit {limit})",
                    file.path.display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "functions to split:\n{}", long.join("\n"));
}

#[test]
fn the_command_layer_is_thin() {
    let files = read_sources();
    let lines: usize = files
        .iter()
        .filter(|f| is_command_layer(f) && !f.path.ends_with("main.rs"))
        .map(|f| f.lines)
        .sum();
    assert!(
        lines < MAX_CLI_LINES,
        "src/cli.rs + src/cli/ hold {lines} lines (under {MAX_CLI_LINES} wanted)"
    );
}

fn print_module_graph(files: &[SourceFile]) {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for file in library(files) {
        let entry = graph.entry(top(&file.module)).or_default();
        for import in &file.imports {
            if top(import) != top(&file.module) {
                entry.insert(top(import));
            }
        }
    }
    for (module, imports) in &graph {
        let imports: Vec<&str> = imports.iter().copied().collect();
        println!("{module:>15} → {}", imports.join(", "));
    }
}
