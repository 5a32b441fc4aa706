//! Reading an ansible INI inventory, as ansible's own parser reads it.

use std::path::Path;

use super::Inventory;
use crate::error::{Error, Result};

/// Ansible's INI inventory: `[group]` sections of host lines (`name var=value …`),
/// `[group:children]` of group names, `[group:vars]` of `var=value`; hosts before any section
/// are ungrouped. A `#` that starts a word starts a comment, as ansible's shlex split has it,
/// so `node1 ansible_host=1.2.3.4  # ip=10.3.0.1` sets no `ip`.
pub fn parse_ini(text: &str, path: &Path) -> Result<Inventory> {
    let mut inventory = Inventory::default();
    enum State {
        Hosts(String),
        Children(String),
        Vars,
    }
    let mut state = State::Hosts("ungrouped".into());
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let bad =
            |reason: String| Error::Inventory { path: path.to_path_buf(), line: line_no, reason };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let Some(header) = header.split(']').next().filter(|_| header.contains(']')) else {
                return Err(bad(format!("`{line}` opens a section but does not close it")));
            };
            state = match header.split_once(':') {
                None => {
                    inventory.group(header);
                    State::Hosts(header.to_string())
                }
                Some((group, "children")) => {
                    inventory.group(group);
                    State::Children(group.to_string())
                }
                Some((_, "vars")) => State::Vars,
                Some((_, kind)) => {
                    return Err(bad(format!("unknown section kind `:{kind}`")));
                }
            };
            continue;
        }
        let words = split_words(line).map_err(bad)?;
        let Some((first, rest)) = words.split_first() else { continue };
        match &state {
            State::Vars => {}
            State::Children(group) => {
                let child = first.clone();
                inventory.group(&child);
                inventory.group(group).children.insert(child);
            }
            State::Hosts(group) => {
                for name in expand_range(first).map_err(bad)? {
                    let name = name.split(':').next().unwrap_or(&name).to_string();
                    let vars = inventory.host(&name);
                    for word in rest {
                        let Some((k, v)) = word.split_once('=') else {
                            return Err(bad(format!(
                                "`{word}` after host `{name}` is not `variable=value`"
                            )));
                        };
                        vars.insert(k.to_string(), v.to_string());
                    }
                    inventory.group(group).hosts.insert(name);
                }
            }
        }
    }
    Ok(inventory)
}

/// Words as a POSIX shell splits them, with `#` at the start of a word beginning a comment.
fn split_words(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = vec![];
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a `'` is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => w.push(c),
                            None => return Err("a `\"` is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a `\"` is not closed".into()),
                    }
                }
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Ansible's numeric host ranges: `node[1:3]` is node1, node2, node3; `n[01:10]` keeps the
/// width.
fn expand_range(pattern: &str) -> std::result::Result<Vec<String>, String> {
    let Some((head, rest)) = pattern.split_once('[') else { return Ok(vec![pattern.to_string()]) };
    let Some((range, tail)) = rest.split_once(']') else {
        return Err(format!("`{pattern}`: a `[` is not closed"));
    };
    let unsupported = || format!("`{pattern}`: only numeric host ranges `[1:3]` are read");
    let (a, b) = range.split_once(':').ok_or_else(unsupported)?;
    let (start, end): (u32, u32) =
        (a.parse().map_err(|_| unsupported())?, b.parse().map_err(|_| unsupported())?);
    if start > end || end - start > 10_000 {
        return Err(unsupported());
    }
    let width = if a.starts_with('0') { a.len() } else { 0 };
    let mut out = vec![];
    for n in start..=end {
        for rest in expand_range(tail)? {
            out.push(format!("{head}{n:0width$}{rest}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_ansible_with_comments_and_quotes() {
        let w = split_words("node1 ansible_host=95.54.0.12  # ip=10.3.0.1").unwrap();
        assert_eq!(w, ["node1", "ansible_host=95.54.0.12"]);
        let w = split_words(r#"n a="b c" d='e#f' g=h#i"#).unwrap();
        assert_eq!(w, ["n", "a=b c", "d=e#f", "g=h#i"]);
        assert!(split_words("n a=\"b").is_err());
    }

    #[test]
    fn numeric_ranges_expand_and_keep_their_width() {
        assert_eq!(expand_range("node[1:3]").unwrap(), ["node1", "node2", "node3"]);
        assert_eq!(expand_range("n[08:10].lan").unwrap(), ["n08.lan", "n09.lan", "n10.lan"]);
        assert!(expand_range("n[a:c]").is_err());
    }
}
