//! `gen completions SHELL` and `gen man`: the bash script loaded into a real bash completes
//! commands and flags as a user's Tab would, and every manual page renders with groff without a
//! warning and shows what `gen --help` lists.

use std::path::Path;
use std::process::Command;

use crate::support::tool_runs;

fn gen_output(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_gen")).args(args).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// What bash's Tab offers after `line` (the cursor at its end), with gen's script loaded as
/// `source <(gen completions bash)` loads it: COMP_WORDS and COMP_CWORD set as readline sets
/// them, then the function `complete -p gen` names.
fn bash_offers(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{script}' || exit 9\n\
         spec=$(complete -p gen) || exit 8\n\
         function=${{spec#*-F }}; function=${{function%% *}}\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={point}\n\
         \"$function\" gen '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
        point = line.len(),
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let output = Command::new("bash").args(["--norc", "--noprofile", "-c", &program]).output();
    let output = output.unwrap();
    assert!(output.status.success(), "bash: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::trim).map(String::from).collect()
}

#[test]
fn bash_completes_commands_flags_and_choices() {
    if !tool_runs("bash", "--version", "the completion test", "bash") {
        return;
    }
    let (code, script, stderr) = gen_output(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.bash");
    std::fs::write(&file, script).unwrap();
    assert_eq!(bash_offers(&file, "gen ap"), ["apply"]);
    assert_eq!(bash_offers(&file, "gen st"), ["status"]);
    assert_eq!(bash_offers(&file, "gen apply --dr"), ["--dry-run"]);
    assert_eq!(bash_offers(&file, "gen completions z"), ["zsh"]);
    let all = bash_offers(&file, "gen ");
    for command in ["build", "check", "diff", "apply", "status", "rollback", "man", "completions"] {
        assert!(all.iter().any(|w| w == command), "`gen <Tab>` offers {command}: {all:?}");
    }
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_refused() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, script, stderr) = gen_output(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("apply") && script.contains("dry-run"), "{shell}: {script}");
    }
    let (code, _, stderr) = gen_output(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tcsh") && stderr.contains("bash"), "{stderr}");
}

/// A page as `man` shows it, plain: groff's man macros, every warning on, no overstriking.
fn render(page: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.1");
    std::fs::write(&file, page).unwrap();
    let output = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbu", "-ww"])
        .arg(&file)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "groff: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// groff breaks and hyphenates lines (with U+2010): compare words, not layout.
fn words(text: &str) -> String {
    let mut joined = String::new();
    for line in text.lines() {
        let line = if joined.ends_with('\u{2010}') {
            joined.pop();
            line.trim_start()
        } else {
            joined.push(' ');
            line
        };
        joined += line;
    }
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_manual_pages_render_and_name_every_command_and_flag() {
    if !tool_runs("groff", "--version", "the manual test", "groff-base") {
        return;
    }
    let (code, page, stderr) = gen_output(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    let text = words(&render(&page));
    assert!(text.starts_with("gen(1) General Commands Manual gen(1)"), "{text}");
    let (_, version, _) = gen_output(&["--version"]);
    assert!(text.contains(version.trim()), "the page's footer is `gen --version`: {text}");
    let commands = ["build", "check", "diff", "apply", "status", "rollback", "schema", "init"];
    let commands = commands.iter().chain(&["import", "completions", "man"]);
    for command in commands {
        assert!(text.contains(&format!("gen-{command}(1)")), "gen(1) names gen-{command}(1)");
        let (code, page, stderr) = gen_output(&["man", command]);
        assert_eq!(code, 0, "{stderr}");
        let sub = words(&render(&page));
        let title = format!("gen-{command}(1) General Commands Manual gen-{command}(1)");
        assert!(sub.starts_with(&title), "{sub}");
        assert!(sub.contains(&format!("SYNOPSIS gen {command}")), "{sub}");
    }
    let (_, page, _) = gen_output(&["man", "apply"]);
    let apply = words(&render(&page));
    for flag in ["--all", "--jobs <N>", "--dry-run", "--allow-dirty", "--keep <N>"] {
        assert!(apply.contains(flag), "gen-apply(1) shows {flag}: {apply}");
    }
    let (code, _, stderr) = gen_output(&["man", "aply"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no command `aply`") && stderr.contains("apply"), "{stderr}");
}
