//! Quoting for each language gen writes, used by the templates' filters.
//!
//! Validation already holds every value to a safe alphabet (`site.rs`); these quote anyway, so
//! that no template depends on that alone. Each function is named for the context it writes
//! into, not for the data.

/// A POSIX shell word: single quotes, `'` as `'\''`.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A Ruby string literal that interpolates nothing: single quotes, escaping `\` and `'`. Ruby
/// reads a raw `\r\n` in its source as `\n`, so text with a control character is written
/// double-quoted instead, with `"`, `\`, `#` and every control character escaped.
pub fn ruby(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar (JSON string rules, which YAML 1.2 reads the same). What YAML
/// does not take raw is escaped: control characters (C1 too: PyYAML refuses them), the line
/// separators YAML 1.1 folds into a space (NEL, LS, PS; ansible reads YAML 1.1) and the BOM.
pub fn yaml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str(r#"\""#),
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML basic string. TOML's escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\uXXXX`) are the JSON
/// ones `yaml` writes, and TOML refuses raw control characters, which `yaml` escapes.
pub fn toml(s: &str) -> String {
    yaml(s)
}

/// A value in a systemd unit that is not parsed as a command line (`Description=`, the value of
/// `Environment=`): specifiers start with `%`, so it is doubled. Newlines cannot be represented
/// and never get here: validation rejects control characters in every single-line field.
pub fn systemd(s: &str) -> String {
    debug_assert!(!s.contains('\n'));
    s.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_quotes_and_substitutions() {
        assert_eq!(sh("it's $(x)"), r"'it'\''s $(x)'");
    }

    #[test]
    fn ruby_strings_do_not_interpolate() {
        assert_eq!(ruby(r"#{x}\'"), r"'#{x}\\\''");
        assert_eq!(ruby("#{x}\r\n\"\\"), r#""\#{x}\u{d}\u{a}\"\\""#);
    }

    #[test]
    fn yaml_scalars_escape_quotes_and_controls() {
        assert_eq!(yaml("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(yaml("\u{85}\u{90}\u{2028}\u{feff}é"), r#""\u0085\u0090\u2028\ufeffé""#);
    }

    #[test]
    fn systemd_values_escape_specifiers() {
        assert_eq!(systemd("100%"), "100%%");
    }
}
