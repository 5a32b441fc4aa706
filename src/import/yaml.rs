//! Reading an ansible YAML inventory.

use std::path::Path;

use super::Inventory;
use crate::error::{Error, Result};

/// Ansible's YAML inventory: groups (starting at `all`) with `hosts` (each with its variables),
/// `children` (groups, recursively) and `vars`.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Inventory> {
    use serde_yaml_ng::Value;
    let bad =
        |line: usize, reason: String| Error::Inventory { path: path.to_path_buf(), line, reason };
    let document: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| bad(e.location().map_or(1, |l| l.line()), format!("not YAML: {e}")))?;
    let Value::Mapping(top) = document else {
        return Err(bad(1, "the inventory is not a mapping of groups (`all:`)".into()));
    };
    let mut inventory = Inventory::default();
    fn group(
        inventory: &mut Inventory,
        name: &str,
        body: &Value,
        depth: usize,
    ) -> std::result::Result<(), String> {
        if depth > 64 {
            return Err("groups nest deeper than 64".into());
        }
        inventory.group(name);
        let Value::Mapping(body) = body else {
            return match body {
                Value::Null => Ok(()),
                _ => Err(format!("group `{name}` is not a mapping")),
            };
        };
        for (key, value) in body {
            match key.as_str() {
                Some("hosts") => {
                    let Value::Mapping(hosts) = value else {
                        if value.is_null() {
                            continue;
                        }
                        return Err(format!("`hosts` of group `{name}` is not a mapping"));
                    };
                    for (host, vars) in hosts {
                        let host = scalar(host).ok_or(format!("a host of `{name}` has no name"))?;
                        let entry = inventory.host(&host);
                        if let Value::Mapping(vars) = vars {
                            for (k, v) in vars {
                                if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                                    entry.insert(k, v);
                                }
                            }
                        }
                        inventory.group(name).hosts.insert(host);
                    }
                }
                Some("children") => {
                    let Value::Mapping(children) = value else {
                        if value.is_null() {
                            continue;
                        }
                        return Err(format!("`children` of group `{name}` is not a mapping"));
                    };
                    for (child, child_body) in children {
                        let child =
                            scalar(child).ok_or(format!("a child of `{name}` has no name"))?;
                        inventory.group(name).children.insert(child.clone());
                        group(inventory, &child, child_body, depth + 1)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    for (name, body) in &top {
        let name = scalar(name).ok_or_else(|| bad(1, "a top-level group has no name".into()))?;
        group(&mut inventory, &name, body, 0).map_err(|reason| bad(1, reason))?;
    }
    Ok(inventory)
}
