//! What gen prints of `site.toml` cannot steer the terminal (issue 22): every control, format,
//! line and paragraph separator character (Unicode Cc, Cf, Zl, Zp) is shown escaped, in titles,
//! excerpts, fix lines, suggestions and lists; values are cut by display width and by bytes; a
//! suggestion is never a name the same report refuses; and a corrupt record in `out/` is refused
//! with a fix that gets the user to a green build.

use std::fs;
use std::path::Path;
use std::process::Command;

use labgen::escape;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::support::{gen_output, run_gen, tool_runs};

/// The example site, with `edit` applied to its text.
fn example(edit: impl Fn(String) -> String) -> String {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml")).unwrap();
    edit(text)
}

/// `text` as a TOML basic string (also a quoted key).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// What `gen build` prints to stderr for the site `text`, as bytes, with its exit code.
fn build_stderr(text: &str) -> (i32, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("site.toml"), text).unwrap();
    let output = gen_output(dir.path(), &["build"]);
    (output.status.code().unwrap_or(-1), output.stderr)
}

/// The hidden characters `printed` holds raw (a newline ends a line and is not one).
fn raw_hidden(printed: &str) -> Vec<char> {
    printed.chars().filter(|&c| escape::is_hidden(c) && c != '\n').collect()
}

#[test]
fn the_escaped_characters_are_unicodes_cc_cf_zl_and_zp() {
    if !tool_runs("python3", "--version", "the Unicode table check", "python3") {
        return;
    }
    // python3 writes, for every code point, 1 when its category is Cc, Cf, Zl or Zp.
    let script = "import sys, unicodedata as u\n\
                  print(u.unidata_version)\n\
                  sys.stdout.write(''.join('1' if u.category(chr(c)) in ('Cc', 'Cf', 'Zl', 'Zp') \
                  else '0' for c in range(0x110000)))\n";
    let output = Command::new("python3").args(["-c", script]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let (version, flags) = text.split_once('\n').unwrap();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert_eq!(flags.len(), 0x11_0000);
    let mut differences = Vec::new();
    for (c, flag) in flags.bytes().enumerate() {
        let escaped = char::from_u32(c as u32).is_some_and(escape::is_hidden);
        if escaped != (flag == b'1') {
            differences.push(c as u32);
        }
    }
    // The table is Unicode 16.0's. Since Unicode 14.0 only the Egyptian hieroglyph format
    // controls U+13439..U+1343F (15.0) became Cf; they were unassigned before.
    let later: Vec<u32> = if major < 15 { (0x13439..=0x1343f).collect() } else { Vec::new() };
    assert_eq!(differences, later, "python3's Unicode {version} and gen's table differ");
}

#[test]
fn a_suggestion_is_never_a_name_the_report_refuses() {
    for hidden in ["\u{1b}", "\u{0}", "\u{85}", "\u{2066}"] {
        let name = format!("vmhost{hidden}2");
        let text = example(|t| t.replace("[hosts.vmhost2]", &format!("[hosts.{}]", quoted(&name))));
        let (code, stderr) = build_stderr(&text);
        let stderr = String::from_utf8(stderr).unwrap();
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(raw_hidden(&stderr), [], "{stderr:?}");
        let escaped = escape::value(&name);
        assert!(stderr.contains(&format!("`{escaped}` is not a valid name")), "{stderr}");
        // The node on `vmhost2` is told of the valid host only.
        assert!(stderr.contains("no host `vmhost2` in `[hosts]`"), "{stderr}");
        assert!(stderr.contains("fix: did you mean `vmhost1`?"), "{stderr}");
        assert!(!stderr.contains(&format!("did you mean `{escaped}`")), "{stderr}");
    }
}

#[test]
fn bidi_and_format_characters_are_escaped_in_titles_excerpts_and_fixes() {
    let role = "\u{200e}control\u{200f}-plane\u{61c}\u{202d}\u{2066}\u{feff}\u{ad}\u{2028}";
    let host = "vm\u{202e}host\u{2067}9";
    let text = example(|t| {
        t.replacen("role = \"control-plane\"", &format!("role = {}", quoted(role)), 1)
            .replace("[hosts.vmhost2]", &format!("[hosts.{}]", quoted(host)))
            .replace("[addons]\n", &format!("[addons]\n{} = 1\n", quoted(host)))
    });
    let (code, stderr) = build_stderr(&text);
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(raw_hidden(&stderr), [], "{stderr:?}");
    let role_shown = r"\u{200e}control\u{200f}-plane\u{61c}\u{202d}\u{2066}\u{feff}\u{ad}\u{2028}";
    let host_shown = r"vm\u{202e}host\u{2067}9";
    for expected in [
        // The title, and the line under it with the caret under the whole escaped value.
        format!("unknown role `{role_shown}`"),
        format!("role = \"{role_shown}\""),
        format!("        {}\n", "^".repeat(role_shown.len() + 2)),
        format!("`hosts.\"{host_shown}\"`: `{host_shown}` is not a valid name"),
        format!("`addons.\"{host_shown}\"`: unknown key"),
        // No host is told of the invalid one: the nodes on vmhost2 get the list of valid ones.
        String::from("fix: did you mean `vmhost1`?"),
    ] {
        assert!(stderr.contains(&expected), "no {expected:?} in:\n{stderr}");
    }
}

#[test]
fn long_values_are_cut_by_display_width_and_by_bytes() {
    let ascii = build_stderr(&example(|t| {
        t.replacen("role = \"control-plane\"", &format!("role = \"{}\"", "x".repeat(10_000)), 1)
    }));
    let reference = ascii.1.len();
    assert!(reference < 500, "ASCII: {reference} bytes");
    for (what, value) in [
        ("10,000 × U+4E00", "\u{4e00}".repeat(10_000)),
        ("1 MiB of emoji", "\u{1f600}".repeat(1 << 18)),
        ("10,000 combining marks", format!("a{}", "\u{301}".repeat(10_000))),
        ("10,000 ESC", "\u{1b}".repeat(10_000)),
    ] {
        let text = example(|t| {
            t.replacen("role = \"control-plane\"", &format!("role = {}", quoted(&value)), 1)
        });
        let (code, stderr) = build_stderr(&text);
        let stderr = String::from_utf8(stderr).unwrap();
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.len() < 2 * reference, "{what}: {} bytes, ASCII {reference}", stderr.len());
        assert!(stderr.lines().all(|l| l.len() <= 400), "{what}:\n{stderr}");
        assert!(stderr.contains('…'), "{what}: not marked as cut:\n{stderr}");
        assert_eq!(raw_hidden(&stderr), [], "{what}");
    }
}

#[test]
fn a_record_that_is_not_utf8_is_refused_with_a_fix_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let site = example(|t| t);
    fs::write(dir.path().join("site.toml"), &site).unwrap();
    let git = Command::new("git").arg("--version").output().is_ok();
    run_gen(dir.path(), &["build"]).ok();
    let record = dir.path().join("out/kubespray/cluster.toml");
    if git {
        for args in [
            &["init", "-q"][..],
            &["add", "."],
            &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lab"],
        ] {
            assert!(
                Command::new("git").args(args).current_dir(dir.path()).status().unwrap().success()
            );
        }
    }
    for way_out in ["git", "delete"] {
        if way_out == "git" && !git {
            continue;
        }
        fs::write(&record, b"release = \"v2.31.0\xff\"\n").unwrap();
        let said = "`out/kubespray/cluster.toml` is not a record gen wrote (it is not UTF-8)";
        for command in ["build", "check"] {
            run_gen(dir.path(), &[command]).code(2).stderr_has(said).stderr_has("fix: restore it");
        }
        if way_out == "git" {
            // The fix's own command, as it says it.
            let stderr = run_gen(dir.path(), &["build"]).stderr;
            let command = stderr.split("(`git ").nth(1).unwrap().split('`').next().unwrap();
            let args: Vec<&str> = command.split(' ').collect();
            assert_eq!(args, ["checkout", "--", "out/kubespray/cluster.toml"]);
            assert!(
                Command::new("git").args(&args).current_dir(dir.path()).status().unwrap().success()
            );
        } else {
            fs::remove_file(&record).unwrap();
        }
        run_gen(dir.path(), &["build"]).ok();
        run_gen(dir.path(), &["check"]).ok();
    }
}

/// A string of what breaks terminals and layouts: ASCII, controls, bidi and format characters,
/// separators, wide characters, emoji and combining marks, short or very long.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::char::range(' ', '~').prop_map(String::from),
        2 => proptest::char::range('\u{0}', '\u{1f}').prop_map(String::from),
        1 => proptest::char::range('\u{7f}', '\u{9f}').prop_map(String::from),
        2 => prop::sample::select(&[
            '\u{ad}', '\u{61c}', '\u{180e}', '\u{200b}', '\u{200d}', '\u{200e}', '\u{200f}',
            '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
            '\u{2060}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{206f}', '\u{feff}',
            '\u{fff9}', '\u{e0001}', '\u{e0041}', '\u{1d173}',
        ][..])
        .prop_map(String::from),
        2 => proptest::char::range('\u{4e00}', '\u{9fff}').prop_map(String::from),
        2 => proptest::char::range('\u{1f300}', '\u{1f6ff}').prop_map(String::from),
        1 => Just(String::from("\u{301}")),
    ];
    let short = prop::collection::vec(piece.clone(), 1..40).prop_map(|v| v.concat());
    let long = (piece, 500usize..20_000).prop_map(|(p, n)| p.repeat(n));
    prop_oneof![3 => short, 1 => long]
}

#[test]
fn whatever_the_text_what_gen_prints_holds_no_hidden_character_and_is_bounded() {
    let config = Config { cases: 300, failure_persistence: None, ..Config::default() };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, b"gen: escaping of messages, 00001");
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&(hostile_text(), hostile_text()), |(a, b)| {
            // Into a value (title, excerpt, fix), a table key, an unknown key and a host a node
            // names (title, and the list of hosts in its fix).
            let text = example(|t| {
                t.replacen("role = \"control-plane\"", &format!("role = {}", quoted(&a)), 1)
                    .replace("[hosts.vmhost2]", &format!("[hosts.{}]", quoted(&b)))
                    .replace("[addons]\n", &format!("[addons]\n{} = 1\n", quoted(&a)))
                    .replacen("host = \"vmhost1\"", &format!("host = {}", quoted(&b)), 1)
            });
            let Err(err) = labgen::build(&text, "site.toml") else {
                return Err(TestCaseError::fail("a hostile site was accepted"));
            };
            let printed = err.to_string();
            let raw = raw_hidden(&printed);
            prop_assert!(raw.is_empty(), "raw {raw:?} in:\n{printed}");
            let longest = printed.lines().map(str::len).max().unwrap_or(0);
            // A title holds at most two values (a key and its value) of 80 columns and 320 bytes.
            prop_assert!(longest <= 1_000, "a line of {longest} bytes:\n{printed}");
            Ok(())
        })
        .unwrap();
}
