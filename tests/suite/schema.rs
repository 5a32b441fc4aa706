//! `gen schema` against the validation it describes: for every table of `labgen::schema::SITE`,
//! the keys it allows, which of them are required, every integer's bounds and every value's type
//! agree with what `Site::from_toml` accepts and refuses; and a real JSON Schema validator
//! (python3-jsonschema, draft 4, over each file read with Python's own `tomllib`) accepts every
//! valid golden site and every variant the validation accepts, and refuses every unknown-key and
//! wrong-type golden case and every variant the validation refuses for its key or type.
//!
//! Without python3-jsonschema the validator half prints SKIPPED (and fails when `CI` is set).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use labgen::problem::Problem;
use labgen::schema::{Key, Kind, SITE};
use toml::{Table, Value};

use crate::support::{site_problems, skip};

const BASE: &str = "site.toml";
/// Golden error cases that are about a key's name or a value's type: the schema must refuse them.
const SCHEMA_ERROR_CASES: &[&str] = &["error-unknown-key", "error-wrong-type"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn base() -> Table {
    fs::read_to_string(root().join(BASE)).unwrap().parse().unwrap()
}

/// A table of the schema at a concrete place of the base site: `["hosts", "vmhost1"]`.
struct Place {
    path: Vec<String>,
    keys: &'static [Key],
}

fn places() -> Vec<Place> {
    let site = base();
    let mut out = vec![Place { path: vec![], keys: SITE }];
    let mut i = 0;
    while i < out.len() {
        let (path, keys) = (out[i].path.clone(), out[i].keys);
        for key in keys {
            let mut child = path.clone();
            child.push(key.name.to_string());
            match &key.kind {
                Kind::Table(keys) => out.push(Place { path: child, keys }),
                Kind::Named(keys) => {
                    let first = table_at(&site, &child).keys().next().unwrap().clone();
                    child.push(first);
                    out.push(Place { path: child, keys });
                }
                _ => {}
            }
        }
        i += 1;
    }
    out
}

fn table_at<'t>(site: &'t Table, path: &[String]) -> &'t Table {
    path.iter().fold(site, |t, k| t[k.as_str()].as_table().unwrap())
}

fn table_at_mut<'t>(site: &'t mut Table, path: &[String]) -> &'t mut Table {
    path.iter().fold(site, |t, k| t.get_mut(k.as_str()).unwrap().as_table_mut().unwrap())
}

fn dotted(path: &[String], key: &str) -> String {
    path.iter().map(String::as_str).chain([key]).collect::<Vec<_>>().join(".")
}

/// The base site with one change at one place.
fn changed(place: &Place, change: impl FnOnce(&mut Table)) -> Table {
    let mut site = base();
    change(table_at_mut(&mut site, &place.path));
    site
}

/// A value of another type than the key takes.
fn wrong_value(kind: &Kind) -> Value {
    match kind {
        Kind::String | Kind::OneOf(_) | Kind::StringArray | Kind::Table(_) | Kind::Named(_) => {
            Value::Integer(7)
        }
        Kind::Integer { .. } | Kind::Boolean => Value::String("7".into()),
    }
}

/// Variants of the base site with what the schema must say of each: (name, site, valid).
type Variant = (String, Table, bool);

#[test]
fn every_table_allows_exactly_the_keys_the_validation_reads() {
    for place in places() {
        let site = changed(&place, |t| {
            t.insert("zz_not_a_key".into(), Value::String("x".into()));
        });
        let key = dotted(&place.path, "zz_not_a_key");
        let allowed = site_problems(&site).into_iter().find_map(|(k, p)| match p {
            Problem::UnknownKey { allowed, .. } if k == key => Some(allowed),
            _ => None,
        });
        let mut names: Vec<&str> = place.keys.iter().map(|k| k.name).collect();
        names.sort_unstable();
        assert_eq!(allowed, Some(names), "the keys of `{}`", place.path.join("."));
    }
}

#[test]
fn a_key_is_required_exactly_when_the_validation_requires_it() {
    for place in places() {
        for key in place.keys {
            // A key the base site leaves out is tried as it is.
            let site = changed(&place, |t| {
                t.remove(key.name);
            });
            let refused = !site_problems(&site).is_empty();
            let name = dotted(&place.path, key.name);
            assert_eq!(refused, key.required, "`{name}` without it: {:?}", site_problems(&site));
        }
    }
}

#[test]
fn integer_bounds_and_types_are_the_validations() {
    for place in places() {
        for key in place.keys {
            let name = dotted(&place.path, key.name);
            let site = changed(&place, |t| {
                t.insert(key.name.into(), wrong_value(&key.kind));
            });
            let wrong_type = site_problems(&site)
                .into_iter()
                .any(|(k, p)| k == name && matches!(p, Problem::WrongType { .. }));
            assert!(wrong_type, "`{name}` of the wrong type: {:?}", site_problems(&site));

            if let Kind::Integer { min, max } = key.kind {
                for (value, in_range) in
                    [(min, true), (max, true), (min - 1, false), (max + 1, false)]
                {
                    let site = changed(&place, |t| {
                        t.insert(key.name.into(), Value::Integer(value));
                    });
                    let out_of_range =
                        site_problems(&site).into_iter().find_map(|(k, p)| match p {
                            Problem::OutOfRange { min, max, .. } if k == name => Some((min, max)),
                            _ => None,
                        });
                    let expected = (!in_range).then_some((min, max));
                    assert_eq!(out_of_range, expected, "`{name} = {value}`");
                }
            }
        }
    }
}

#[test]
fn values_outside_a_listed_choice_are_refused_and_every_release_is_accepted() {
    for place in places() {
        for key in place.keys {
            let Kind::OneOf(values) = &key.kind else { continue };
            let name = dotted(&place.path, key.name);
            let site = changed(&place, |t| {
                t.insert(key.name.into(), Value::String("not-a-choice".into()));
            });
            assert!(
                site_problems(&site).iter().any(|(k, _)| *k == name),
                "`{name} = \"not-a-choice\"` is refused"
            );
            if key.name == "version" {
                for tag in values() {
                    let site = changed(&place, |t| {
                        t.insert(key.name.into(), Value::String(tag.into()));
                    });
                    let about_it: Vec<_> =
                        site_problems(&site).into_iter().filter(|(k, _)| *k == name).collect();
                    assert!(about_it.is_empty(), "`{name} = {tag}`: {about_it:?}");
                }
            }
        }
    }
}

/// Every variant the tests above make, with the schema's expected verdict: the validation's.
fn variants() -> Vec<Variant> {
    let mut out = vec![];
    for place in places() {
        let at = place.path.join(".");
        out.push((
            format!("unknown key in `{at}`"),
            changed(&place, |t| {
                t.insert("zz_not_a_key".into(), Value::String("x".into()));
            }),
            false,
        ));
        for key in place.keys {
            let name = dotted(&place.path, key.name);
            let without = changed(&place, |t| {
                t.remove(key.name);
            });
            out.push((format!("without `{name}`"), without, !key.required));
            let wrong = changed(&place, |t| {
                t.insert(key.name.into(), wrong_value(&key.kind));
            });
            out.push((format!("`{name}` of the wrong type"), wrong, false));
            if let Kind::Integer { min, max } = key.kind {
                for (value, valid) in [(min, true), (max, true), (min - 1, false), (max + 1, false)]
                {
                    let site = changed(&place, |t| {
                        t.insert(key.name.into(), Value::Integer(value));
                    });
                    out.push((format!("`{name} = {value}`"), site, valid));
                }
            }
            if let Kind::OneOf(_) = key.kind {
                let site = changed(&place, |t| {
                    t.insert(key.name.into(), Value::String("not-a-choice".into()));
                });
                out.push((format!("`{name} = \"not-a-choice\"`"), site, false));
            }
        }
    }
    out
}

/// Debian's python3 with python3-jsonschema, or `None` after saying SKIPPED.
fn python_with_jsonschema() -> Option<&'static str> {
    for python in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(python)
            .args(["-c", "import jsonschema, tomllib"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    skip(
        "schema validator test",
        "needs python3 (3.11+) with python3-jsonschema (.ci/install-tools)",
    );
    None
}

/// Checks each file against the schema with python's jsonschema; returns each file that got
/// the other verdict than expected, with the validator's words.
fn validate(python: &str, schema: &Path, files: &[(PathBuf, bool)]) -> Vec<String> {
    const SCRIPT: &str = r#"
import json, sys, tomllib, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft4Validator.check_schema(schema)
validator = jsonschema.Draft4Validator(schema)
for line in sys.stdin:
    expect, path = line.rstrip("\n").split(" ", 1)
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    errors = [e.message for e in validator.iter_errors(doc)]
    if (not errors) != (expect == "valid"):
        print(f"{path}: expected {expect}, got {errors or 'valid'}")
"#;
    let input: String = files
        .iter()
        .map(|(p, valid)| format!("{} {}\n", if *valid { "valid" } else { "invalid" }, p.display()))
        .collect();
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn a_real_validator_accepts_what_gen_accepts_and_refuses_unknown_keys_and_wrong_types() {
    let Some(python) = python_with_jsonschema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gen")).arg("schema").output().unwrap();
    assert!(output.status.success());
    let schema = dir.path().join("site.schema.json");
    fs::write(&schema, &output.stdout).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), labgen::schema::json());

    let mut files = vec![];
    let mut valid_cases = 0;
    for entry in fs::read_dir(root().join("golden-tests")).unwrap() {
        let case = entry.unwrap().path();
        let name = case.file_name().unwrap().to_str().unwrap().to_string();
        if case.join("expected").is_dir() {
            files.push((case.join("site.toml"), true));
            valid_cases += 1;
        } else if SCHEMA_ERROR_CASES.contains(&name.as_str()) {
            files.push((case.join("site.toml"), false));
        }
    }
    assert!(valid_cases >= 5, "the golden valid cases were found");
    files.push((root().join("site.toml"), true));
    for (i, (what, site, valid)) in variants().into_iter().enumerate() {
        let path = dir.path().join(format!("variant-{i}.toml"));
        fs::write(&path, format!("# {what}\n{}", toml::to_string(&site).unwrap())).unwrap();
        files.push((path, valid));
    }
    let wrong = validate(python, &schema, &files);
    assert!(wrong.is_empty(), "the schema disagrees:\n{}", wrong.join("\n"));
}
