//! The modules form layers and every `use` points down (issue 21; issue 14, point 4): the
//! module graph is read from `src/` itself and checked against the layers ARCHITECTURE.md
//! declares, so the drawing and the code cannot disagree and no cycle can come back.
//!
//! An arrow is any path to another module: `use crate::x`, `use crate::{x, y::z}`, a
//! `crate::x::...` path written inline, `super::...` resolved to the module it names, `pub use`
//! re-exports, a `crate::x` in an askama template (counted for the module that declares the
//! template), and, in the crate root, `x::...`. Comments, strings and character literals are
//! blanked out first, so a path inside them is not an arrow. The root's own items (`build`,
//! `Built`) are the module `lib`; a root re-export (`crate::Error`) is an arrow to the module it
//! comes from. `main.rs` is the binary, another crate, and names gen only as `labgen::`.
//!
//! Checked: every top-level module is in exactly one layer; each arrow between top-level
//! modules goes to the same layer or a lower one; no top-level modules form a cycle; and the
//! submodules of any one module (`apply::plan::check` and `apply::plan::order`) form none either
//! (a module and its own submodules may use each other, as Rust's parent and child do).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// A module by its path from the crate root (`["apply", "plan", "check"]`); the root is `[]`.
type ModPath = Vec<String>;

/// The crate's sources as text: `src/`-relative path → contents, and the templates by their
/// path in `templates/`.
#[derive(Default, Clone)]
struct Sources {
    files: BTreeMap<String, String>,
    templates: BTreeMap<String, String>,
}

impl Sources {
    fn read(root: &Path) -> Sources {
        let mut sources = Sources::default();
        walk(&root.join("src"), "", &mut sources.files, ".rs");
        walk(&root.join("templates"), "", &mut sources.templates, "");
        sources
    }
}

fn walk(dir: &Path, prefix: &str, into: &mut BTreeMap<String, String>, ext: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        if entry.file_type().unwrap().is_dir() {
            walk(&entry.path(), &rel, into, ext);
        } else if name.ends_with(ext) {
            // A file that is not text (a release's lock is text; nothing else is kept here).
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                into.insert(rel, text);
            }
        }
    }
}

/// Where an arrow was seen: `src/`-relative file and line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    file: String,
    line: usize,
}

/// The arrows among the children of each module: parent → (from → (to → first place)).
#[derive(Debug, Default)]
struct Graph {
    arrows: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, Place>>>,
    /// Every module there is, by path (file modules and inline `mod x { ... }`).
    modules: BTreeSet<ModPath>,
}

/// The name of the crate root's own items as a top-level module.
const ROOT: &str = "lib";

impl Graph {
    fn of(sources: &Sources) -> Graph {
        let mut graph = Graph::default();
        let mut parsed = Vec::new();
        for (file, text) in &sources.files {
            let Some(module) = file_module(file) else { continue };
            let tokens = tokens(&blank(text));
            let scopes = scopes(&tokens);
            for i in 1..=module.len() {
                graph.modules.insert(module[..i].to_vec());
            }
            for inline in scopes.iter().collect::<BTreeSet<_>>() {
                let mut path = module.clone();
                path.extend(inline.iter().cloned());
                for i in 1..=path.len() {
                    graph.modules.insert(path[..i].to_vec());
                }
            }
            parsed.push((file, text, module, tokens, scopes));
        }
        let reexports = sources.files.get("lib.rs").map(|t| root_reexports(t)).unwrap_or_default();
        for (file, text, module, tokens, scopes) in parsed {
            let is_root = module.is_empty();
            for (at, line, path) in paths(&tokens, is_root, &graph) {
                let mut here = module.clone();
                here.extend(scopes[at].iter().cloned());
                if let Some(target) = resolve(&path, &here) {
                    graph.add(&here, &target, &reexports, Place { file: file.clone(), line });
                }
            }
            for (line, template) in templates(text) {
                let Some(body) = sources.templates.get(&template) else { continue };
                for (_, _, path) in paths(&tokens_of_template(body), false, &graph) {
                    if let Some(target) = resolve(&path, &module) {
                        let place = Place { file: format!("{file} (templates/{template})"), line };
                        graph.add(&module, &target, &reexports, place);
                    }
                }
            }
        }
        graph
    }

    /// The arrow a path from module `here` to `target` makes, if it crosses between siblings.
    fn add(
        &mut self,
        here: &[String],
        target: &[String],
        reexports: &BTreeMap<String, String>,
        place: Place,
    ) {
        let common = here.iter().zip(target).take_while(|(a, b)| a == b).count();
        let parent = here[..common].to_vec();
        let from = if common < here.len() {
            here[common].clone()
        } else if here.is_empty() {
            // The root's own code naming a top-level module.
            ROOT.to_string()
        } else {
            return; // A module using its own submodule.
        };
        let Some(next) = target.get(common) else { return }; // An ancestor's item.
        let mut child = parent.clone();
        child.push(next.clone());
        let to = if self.modules.contains(&child) {
            next.clone()
        } else if parent.is_empty() {
            // An item of the root: its own (`lib`), or one it re-exports from a module.
            reexports.get(next).cloned().unwrap_or_else(|| ROOT.to_string())
        } else {
            return; // An item of the parent.
        };
        if from != to {
            let entry = self.arrows.entry(parent).or_default().entry(from).or_default();
            entry.entry(to).or_insert(place);
        }
    }

    fn top(&self) -> BTreeMap<String, BTreeMap<String, Place>> {
        self.arrows.get(&Vec::new()).cloned().unwrap_or_default()
    }

    /// Every top-level module, `lib` (the root's own items) included.
    fn top_modules(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> =
            self.modules.iter().filter(|m| m.len() == 1).map(|m| m[0].clone()).collect();
        names.insert(ROOT.to_string());
        names
    }
}

/// A file's module: `a/b.rs` and `a/b/mod.rs` are `["a", "b"]`; `lib.rs` is the root; `main.rs`
/// (the binary) is not part of the library.
fn file_module(file: &str) -> Option<ModPath> {
    let stem = file.strip_suffix(".rs")?;
    if stem == "main" {
        return None;
    }
    let mut parts: ModPath = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") || stem == "lib" {
        parts.pop();
    }
    Some(parts)
}

/// The text with every comment, string and character literal replaced by spaces (newlines
/// kept, so lines still count): only code is left.
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let keep = |c: char, out: &mut String| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let before = i.checked_sub(1).map(|j| chars[j]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    keep(chars[i], &mut out);
                    i += 1;
                }
            }
        } else if let Some(len) = raw_string_start(&chars, i).filter(|_| !before.is_some_and(ident))
        {
            // r"...", r#"..."#, br"...": ends at a quote followed by as many #.
            let hashes = len - 2 - usize::from(c == 'b');
            for _ in 0..len {
                out.push(' ');
            }
            i += len;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..].iter().take(hashes).filter(|h| **h == '#').count() == hashes
                {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                keep(chars[i], &mut out);
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    keep(chars[i], &mut out);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // '\n', '\'', '\u{1b}': to the closing quote.
            out.push_str("  ");
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            // A lifetime's quote, or code.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The length of the opening of a raw string at `i` (`r"`, `r#"`, `br##"`), if one starts there.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some(j + 1 - i)
}

/// A token of code and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers, `::` and single punctuation, with their lines.
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token { text: chars[start..i].iter().collect(), line });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token { text: "::".to_string(), line });
            i += 2;
        } else {
            out.push(Token { text: c.to_string(), line });
            i += 1;
        }
    }
    out
}

/// The code of an askama template: what is inside `{{ }}` and `{% %}`.
fn tokens_of_template(body: &str) -> Vec<Token> {
    let mut code = String::new();
    let mut rest = body;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let Some(end) = after.find(close) else { break };
        code.push_str(&after[1..end]);
        code.push('\n');
        rest = &after[end + 2..];
    }
    tokens(&code)
}

/// For each token, the inline modules (`mod tests { ... }`) it is in, outermost first.
fn scopes(tokens: &[Token]) -> Vec<Vec<String>> {
    let mut open: Vec<Option<String>> = Vec::new(); // Each open `{`: the module it opens, if any.
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        out.push(open.iter().flatten().cloned().collect());
        match t.text.as_str() {
            "{" => {
                let opens_module = i >= 2 && tokens[i - 2].text == "mod";
                open.push(opens_module.then(|| tokens[i - 1].text.clone()));
            }
            "}" => {
                open.pop();
            }
            _ => {}
        }
    }
    out
}

/// Every path to a module in the code: those of `use` trees, expanded, and those written
/// inline, that start with `crate`, `super` or `self` (in the root, also a module's name).
/// Each with the token it starts at and its line.
fn paths(tokens: &[Token], is_root: bool, graph: &Graph) -> Vec<(usize, usize, Vec<String>)> {
    let mut out = Vec::new();
    let word = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    let starts = |i: usize| {
        let w = word(i);
        let anchored = matches!(w, "crate" | "super" | "self")
            || (is_root && word(i + 1) == "::" && graph.modules.contains(&vec![w.to_string()]));
        anchored && word(i.wrapping_sub(1)) != "::" && (i == 0 || word(i - 1) != ".")
    };
    let mut i = 0;
    while i < tokens.len() {
        if word(i) == "use" {
            let mut j = i + 1;
            let mut trees = Vec::new();
            use_tree(tokens, &mut j, Vec::new(), &mut trees);
            for path in trees {
                if path.first().is_some_and(|_| starts(i + 1)) {
                    out.push((i, tokens[i].line, path));
                }
            }
            i = j;
        } else if starts(i) {
            let mut path = vec![word(i).to_string()];
            let mut j = i + 1;
            while word(j) == "::" && tokens.get(j + 1).is_some_and(|t| is_ident(&t.text)) {
                path.push(word(j + 1).to_string());
                j += 2;
            }
            out.push((i, tokens[i].line, path));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// One `use` tree from `tokens[*at]`, each path it names pushed to `out` (`a::{b, c::d}` is
/// `a::b` and `a::c::d`; `a::{self}` is `a`; a glob ends in `*`).
fn use_tree(tokens: &[Token], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let word = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    let mut path = prefix;
    if word(*at) == "::" {
        *at += 1;
    }
    loop {
        match word(*at) {
            "{" => {
                *at += 1;
                while !matches!(word(*at), "}" | "") {
                    use_tree(tokens, at, path.clone(), out);
                    if word(*at) == "," {
                        *at += 1;
                    }
                }
                *at += 1;
                return;
            }
            "*" => {
                *at += 1;
                path.push("*".to_string());
                break;
            }
            w if is_ident(w) => {
                if w != "self" || path.is_empty() {
                    path.push(w.to_string());
                }
                *at += 1;
                if word(*at) == "::" {
                    *at += 1;
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    if word(*at) == "as" {
        *at += 2;
    }
    out.push(path);
}

/// A path from module `here` as a path from the root, if it names something of this crate.
fn resolve(path: &[String], here: &[String]) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let ups = 1 + rest.iter().take_while(|s| *s == "super").count();
            let mut base = here.to_vec();
            base.truncate(here.len().checked_sub(ups)?);
            base.extend(rest[ups - 1..].iter().cloned());
            return Some(base);
        }
        // In the root, a top-level module by its name.
        _ => vec![first.clone()],
    };
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

/// What the root re-exports, by name: `pub use error::{Error, Result};` is `Error` and
/// `Result` from `error`.
fn root_reexports(text: &str) -> BTreeMap<String, String> {
    let tokens = tokens(&blank(text));
    let mut out = BTreeMap::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.text == "use" && i > 0 && tokens[i - 1].text == "pub" {
            let mut at = i + 1;
            let mut trees = Vec::new();
            use_tree(&tokens, &mut at, Vec::new(), &mut trees);
            for path in trees {
                if let (Some(module), Some(name)) = (path.first(), path.last()) {
                    out.insert(name.clone(), module.clone());
                }
            }
        }
    }
    out
}

/// The templates a file declares (`#[template(path = "x")]`), with the line of each.
fn templates(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(at) = line.find("#[template(path = \"") else { continue };
        let rest = &line[at + "#[template(path = \"".len()..];
        if let Some(end) = rest.find('"') {
            out.push((n + 1, rest[..end].to_string()));
        }
    }
    out
}

/// The layers of ARCHITECTURE.md, top to bottom: each one's name and its modules, from the
/// table between `<!-- layers -->` and `<!-- /layers -->` (a row per layer, its modules in
/// backticks in the second column).
fn layers(architecture: &str) -> Vec<(String, Vec<String>)> {
    let table = architecture
        .split("<!-- layers -->")
        .nth(1)
        .and_then(|t| t.split("<!-- /layers -->").next())
        .expect(
            "ARCHITECTURE.md marks its table of layers with <!-- layers --> and <!-- /layers -->",
        );
    let mut out = Vec::new();
    for row in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('*').to_string();
        let modules = cells[2].split('`').skip(1).step_by(2).map(str::to_string).collect();
        out.push((name, modules));
    }
    out
}

/// What is wrong with the graph against the layers: one line each, empty when all holds.
fn check(graph: &Graph, layers: &[(String, Vec<String>)]) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut layer_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, (name, modules)) in layers.iter().enumerate() {
        for m in modules {
            if let Some(other) = layer_of.insert(m, index) {
                wrong.push(format!("`{m}` is in two layers, {} and {name}", layers[other].0));
            }
        }
    }
    let modules = graph.top_modules();
    for m in &modules {
        if !layer_of.contains_key(m.as_str()) {
            wrong.push(format!("`{m}` is in no layer of ARCHITECTURE.md"));
        }
    }
    for m in layer_of.keys() {
        if !modules.contains(*m) {
            wrong.push(format!("ARCHITECTURE.md's layers name `{m}`, which is not a module"));
        }
    }
    for (from, tos) in graph.top() {
        for (to, place) in tos {
            let (Some(&a), Some(&b)) = (layer_of.get(from.as_str()), layer_of.get(to.as_str()))
            else {
                continue;
            };
            if b < a {
                wrong.push(format!(
                    "`{from}` ({}) uses `{to}` ({}), a higher layer: src/{}:{}",
                    layers[a].0, layers[b].0, place.file, place.line
                ));
            }
        }
    }
    for (parent, arrows) in &graph.arrows {
        let among = if parent.is_empty() {
            "the top-level modules".to_string()
        } else {
            format!("the modules of `{}`", parent.join("::"))
        };
        for cycle in cycles(arrows) {
            let mut text = format!("a cycle among {among}: {}", cycle.join(" → "));
            for pair in cycle.windows(2) {
                let place = &arrows[&pair[0]][&pair[1]];
                let _ = write!(
                    text,
                    "; `{}` → `{}` at src/{}:{}",
                    pair[0], pair[1], place.file, place.line
                );
            }
            wrong.push(text);
        }
    }
    wrong
}

/// One cycle through each strongly connected set of two or more modules, as the modules in
/// arrow order with the first repeated at the end: the shortest from the first in name order.
fn cycles(arrows: &BTreeMap<String, BTreeMap<String, Place>>) -> Vec<Vec<String>> {
    let next = |m: &str| arrows.get(m).into_iter().flat_map(BTreeMap::keys);
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for n in next(&m) {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let mut nodes: BTreeSet<String> = arrows.keys().cloned().collect();
    nodes.extend(arrows.values().flat_map(|t| t.keys().cloned()));
    let reached: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (n, reach(n))).collect();
    let mut done: BTreeSet<&String> = BTreeSet::new();
    let mut out = Vec::new();
    for start in &nodes {
        if done.contains(start) || !reached[start].contains(start) {
            continue;
        }
        done.extend(
            nodes.iter().filter(|m| reached[start].contains(*m) && reached[*m].contains(start)),
        );
        // Breadth first from `start` until an arrow leads back to it.
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        while let Some(m) = queue.pop_front() {
            if next(&m).any(|n| n == start) {
                let mut cycle = vec![start.clone(), m.clone()];
                while let Some(before) = came_from.get(cycle.last().unwrap()) {
                    cycle.push(before.clone());
                }
                // start, m, ..., start's successor, start: put the middle in arrow order.
                cycle.pop();
                cycle[1..].reverse();
                cycle.push(start.clone());
                out.push(cycle);
                break;
            }
            for n in next(&m) {
                if n != start && !came_from.contains_key(n) {
                    came_from.insert(n.clone(), m.clone());
                    queue.push_back(n.clone());
                }
            }
        }
    }
    out
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn architecture() -> String {
    std::fs::read_to_string(repository().join("ARCHITECTURE.md")).unwrap()
}

#[test]
fn every_use_points_to_the_same_layer_or_a_lower_one_and_no_modules_form_a_cycle() {
    let graph = Graph::of(&Sources::read(repository()));
    let layers = layers(&architecture());
    assert!(layers.len() >= 5, "{layers:?}");
    let wrong = check(&graph, &layers);
    assert!(wrong.is_empty(), "the module graph breaks its layers:\n{}", wrong.join("\n"));
}

/// A test that cannot fail proves nothing: one upward `use` planted in a copy of the real
/// sources (the leaf `layout` naming `render`) is reported as an arrow to a higher layer and as
/// the cycle it closes, with the modules on it and where.
#[test]
fn an_upward_use_planted_in_a_copy_of_the_sources_is_refused_with_its_cycle() {
    let mut sources = Sources::read(repository());
    let layout = sources.files.get_mut("layout.rs").unwrap();
    layout.push_str("\nuse crate::render::GUEST_USER;\n");
    let line = layout.lines().count();
    let wrong = check(&Graph::of(&sources), &layers(&architecture()));
    let upward =
        format!("`layout` (leaves) uses `render` (outputs), a higher layer: src/layout.rs:{line}");
    assert!(wrong.contains(&upward), "{wrong:#?}");
    let cycle = wrong
        .iter()
        .find(|w| w.starts_with("a cycle among the top-level modules: layout → render"));
    let cycle = cycle.unwrap_or_else(|| panic!("no cycle reported: {wrong:#?}"));
    assert!(cycle.contains(&format!("; `layout` → `render` at src/layout.rs:{line};")), "{cycle}");
    assert_eq!(wrong.len(), 2, "{wrong:#?}");
}

fn synthetic(files: &[(&str, &str)]) -> Graph {
    let files = files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    let templates = [("page.txt".to_string(), "{{ crate::c::X }} {# a note #}".to_string())];
    Graph::of(&Sources { files, templates: templates.into_iter().collect() })
}

/// Layers as ARCHITECTURE.md's table gives them, top to bottom.
fn declared(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    rows.iter()
        .map(|(name, modules)| {
            ((*name).to_string(), modules.iter().map(|m| (*m).to_string()).collect())
        })
        .collect()
}

fn arrows(graph: &Graph, parent: &[&str]) -> Vec<String> {
    let parent: ModPath = parent.iter().map(|p| (*p).to_string()).collect();
    let mut out = Vec::new();
    for (from, tos) in graph.arrows.get(&parent).into_iter().flatten() {
        for (to, place) in tos {
            out.push(format!("{from}→{to}@{}:{}", place.file, place.line));
        }
    }
    out
}

#[test]
fn arrows_come_from_use_trees_inline_paths_super_templates_and_the_root_but_not_from_text() {
    let graph = synthetic(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub use c::Thing;\npub fn f() { b::g() }\n",
        ),
        (
            "a.rs",
            "// crate::b in a comment\n/* crate::b /* nested */ crate::b */\n\
             const S: &str = \"crate::b\"; const R: &str = r#\"crate::b\"#;\n\
             fn f<'x>(_: &'x str) -> char { '\"' }\n\
             use crate::{c::{self, X}};\n\
             fn g() { crate::Thing; super::f(); }\n\
             #[template(path = \"page.txt\")]\nstruct P;\n\
             mod tests { use super::*; }\n",
        ),
        ("b/mod.rs", "mod x;\nmod y;\nmod z;\n"),
        ("b/x.rs", "use super::y::Y;\nuse super::Parent;\n"),
        ("b/y.rs", "pub(crate) fn f() { super::super::c::h(); super::x::X; }\n"),
        ("b/z.rs", "pub(super) fn f() { super::super::a::A; }\n"),
        ("c.rs", "use crate::b;\n"),
        ("main.rs", "fn main() { labgen::a::f() }\n"),
    ]);
    assert_eq!(
        arrows(&graph, &[]),
        [
            "a→c@a.rs:5",
            "a→lib@a.rs:6",
            "b→a@b/z.rs:1",
            "b→c@b/y.rs:1",
            "c→b@c.rs:1",
            "lib→b@lib.rs:5",
            "lib→c@lib.rs:4",
        ]
    );
    assert_eq!(arrows(&graph, &["b"]), ["x→y@b/x.rs:1", "y→x@b/y.rs:1"]);
    assert_eq!(
        check(&graph, &declared(&[("top", &["lib", "a"]), ("low", &["b", "c"])])),
        [
            "`b` (low) uses `a` (top), a higher layer: src/b/z.rs:1",
            "a cycle among the top-level modules: a → c → b → a; `a` → `c` at src/a.rs:5; \
             `c` → `b` at src/c.rs:1; `b` → `a` at src/b/z.rs:1",
            "a cycle among the modules of `b`: x → y → x; `x` → `y` at src/b/x.rs:1; \
             `y` → `x` at src/b/y.rs:1",
        ]
    );
}

#[test]
fn a_module_left_out_of_the_layers_or_named_twice_is_reported() {
    let graph = synthetic(&[("lib.rs", "pub mod a;\npub mod b;\n"), ("a.rs", ""), ("b.rs", "")]);
    assert_eq!(
        check(&graph, &declared(&[("one", &["lib", "a"]), ("two", &["a", "gone"])])),
        [
            "`a` is in two layers, one and two",
            "`b` is in no layer of ARCHITECTURE.md",
            "ARCHITECTURE.md's layers name `gone`, which is not a module",
        ]
    );
}
