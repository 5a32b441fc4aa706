//! What gen prints, as a user sees it: errors that show the place, in colour on a terminal and
//! plain otherwise, and the README's own hooks. Terminal tests run gen under a real pty
//! (`script` from util-linux), since only a terminal shows whether colour is chosen right.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::tool_runs;

const ESC: char = '\u{1b}';

fn gen_binary() -> &'static str {
    env!("CARGO_BIN_EXE_gen")
}

fn case_site(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden-tests").join(case).join("site.toml")
}

/// `gen` with `args` and `env`, stdout and stderr pipes (not a terminal); returns stderr.
fn stderr_of(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(gen_binary());
    command.args(args);
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    (output.status.code().unwrap(), String::from_utf8(output.stderr).unwrap())
}

/// `gen` with `args` under a pty, as on a terminal: everything it wrote to the terminal.
/// `None` (SKIPPED, or a failure with `CI` set) without util-linux's `script`.
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    if !tool_runs("script", "--version", "the terminal test", "util-linux") {
        return None;
    }
    let line = std::iter::once(gen_binary())
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new("script");
    command.args(["-qec", &line, "/dev/null"]).env("TERM", "xterm-256color");
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "PAGER", "GIT_PAGER", "LESS"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    Some(String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"))
}

#[test]
fn an_error_shows_the_line_with_a_caret_under_the_value() {
    let site = case_site("error-unknown-role");
    let (code, stderr) = stderr_of(&["--site", site.to_str().unwrap(), "check"], &[]);
    assert_eq!(code, 2, "{stderr}");
    let place = format!("  --> {}:28:8\n", site.display());
    assert!(stderr.contains(&place), "{stderr}");
    assert!(stderr.contains("28 | role = \"master\"\n   |        ^^^^^^^^\n"), "{stderr}");
    assert!(!stderr.contains(ESC), "colour in a pipe: {stderr:?}");
}

#[test]
fn colour_follows_the_flag_then_no_color_clicolor_and_clicolor_force() {
    let site = case_site("error-unknown-role");
    let site = site.to_str().unwrap();
    let coloured = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--site", site, "check"];
        all.extend_from_slice(args);
        let (code, stderr) = stderr_of(&all, env);
        assert_eq!(code, 2, "{stderr}");
        stderr.contains(ESC)
    };
    assert!(!coloured(&[], &[]), "a pipe is plain");
    assert!(coloured(&["--color", "always"], &[]));
    assert!(coloured(&["--color=always"], &[("NO_COLOR", "1")]), "the flag wins");
    assert!(!coloured(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(coloured(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), "NO_COLOR wins");
}

#[test]
fn on_a_terminal_errors_are_in_colour_unless_no_color_or_clicolor_0() {
    let site = case_site("error-unknown-role");
    let args = ["--site", site.to_str().unwrap(), "check"];
    let Some(plain_env) = on_a_terminal(&args, &[("NO_COLOR", "1")]) else { return };
    assert!(plain_env.contains("28 | role = \"master\""), "{plain_env}");
    assert!(!plain_env.contains(ESC), "NO_COLOR on a terminal: {plain_env:?}");
    let clicolor_0 = on_a_terminal(&args, &[("CLICOLOR", "0")]).unwrap();
    assert!(!clicolor_0.contains(ESC), "CLICOLOR=0 on a terminal: {clicolor_0:?}");
    let coloured = on_a_terminal(&args, &[]).unwrap();
    // The caret line is styled as cargo styles it: bright red, bold.
    assert!(coloured.contains("\u{1b}[1m\u{1b}[91m^^^^^^^^"), "{coloured:?}");
    assert!(coloured.contains("\u{1b}[1m\u{1b}[91merror"), "{coloured:?}");
}

#[test]
fn a_site_that_is_not_utf8_is_refused_at_its_line_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    fs::write(&site, b"[cluster]\nname = \"caf\xe9\"\n").unwrap();
    let (code, stderr) = stderr_of(&["--site", site.to_str().unwrap(), "build"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not UTF-8 text: the byte at offset 21 (0xe9)"), "{stderr}");
    assert!(stderr.contains(&format!("{}:2:12", site.display())), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

#[test]
fn a_misspelt_host_on_the_command_line_gets_a_did_you_mean() {
    let error = labgen::Error::UnknownHost {
        name: "vmhots1".into(),
        known: vec!["vmhost1".into(), "vmhost2".into()],
    };
    // One wording for a host named on the command line and a node's `host`.
    assert_eq!(
        error.to_string(),
        "error: no host `vmhots1` in `[hosts]`\n  fix: did you mean `vmhost1`?"
    );
}

/// The fenced block that follows `<!-- marker -->` in the README.
fn readme_block(marker: &str) -> String {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let readme = readme.unwrap();
    let after = &readme[readme.find(&format!("<!-- {marker} -->")).expect("marker in README")..];
    let body = &after[after.find("```").unwrap()..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn the_readmes_pre_commit_hook_refuses_a_stale_out_and_accepts_a_fresh_one() {
    if !tool_runs("git", "--version", "the pre-commit hook test", "git") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path();
    fs::copy(case_site("one-server"), lab.join("site.toml")).unwrap();
    let bin = Path::new(gen_binary()).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let git = |args: &[&str]| {
        Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(lab)
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    let hook = lab.join(".git/hooks/pre-commit");
    fs::write(&hook, readme_block("pre-commit-hook")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();

    // No out/ yet: the commit is refused.
    git(&["add", "site.toml"]);
    let refused = git(&["commit", "-qm", "lab"]);
    assert!(!refused.status.success(), "a commit without out/ passed the hook");
    // git sends a hook's output to its stderr.
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("fix: run `gen build`"), "{said}");

    let built = Command::new(gen_binary()).arg("build").current_dir(lab).output().unwrap();
    assert!(built.status.success());
    git(&["add", "-A"]);
    let accepted = git(&["commit", "-qm", "lab"]);
    assert!(accepted.status.success(), "{}", String::from_utf8_lossy(&accepted.stderr));
}

#[test]
fn the_readmes_github_actions_job_runs_gen_check() {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&readme_block("github-actions"))
        .expect("the README's workflow is YAML");
    let steps = yaml["jobs"]["check"]["steps"].as_sequence().expect("a job with steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(runs.last(), Some(&"gen check"), "{runs:?}");
    assert!(runs.iter().any(|r| r.starts_with("cargo install --locked")), "{runs:?}");
}

#[test]
fn on_a_terminal_diff_is_in_colour_through_the_pager_unless_no_pager() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path();
    fs::copy(case_site("one-server"), lab.join("site.toml")).unwrap();
    let site = lab.join("site.toml");
    let site = site.to_str().unwrap();
    assert!(Command::new(gen_binary()).args(["--site", site, "build"]).status().unwrap().success());
    let apply = lab.join("out/hosts").read_dir().unwrap().next().unwrap().unwrap().path();
    let apply = apply.join("apply.sh");
    let original = fs::read_to_string(&apply).unwrap();
    fs::write(&apply, format!("{original}# a hand edit\n")).unwrap();
    // A pager that marks what it was given, so the test sees that it ran.
    let pager = lab.join("pager");
    fs::write(&pager, "#!/bin/sh\necho '[paged]'; cat\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&pager, fs::Permissions::from_mode(0o755)).unwrap();
    let env = [("PAGER", pager.to_str().unwrap())];

    let Some(paged) = on_a_terminal(&["--site", site, "diff"], &env) else { return };
    assert!(paged.starts_with("[paged]\n"), "{paged:?}");
    assert!(paged.contains("\u{1b}[31m-# a hand edit\u{1b}[0m"), "{paged:?}");
    assert!(paged.contains("\u{1b}[1m--- a/"), "{paged:?}");

    let direct = on_a_terminal(&["--site", site, "diff", "--no-pager"], &env).unwrap();
    assert!(!direct.contains("[paged]") && direct.contains("-# a hand edit"), "{direct:?}");
    let mut piped = Command::new(gen_binary());
    let piped = piped.args(["--site", site, "diff"]).env("PAGER", &pager).output().unwrap();
    let piped = String::from_utf8(piped.stdout).unwrap();
    assert!(!piped.contains("[paged]") && !piped.contains(ESC), "a pipe is plain: {piped:?}");
}
