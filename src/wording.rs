//! How messages count things and list names, written one way for every message gen prints.
//!
//! `Count` says "1 file" and "2 files"; `List` says "`a`, `b` or `c`". Messages format these
//! instead of choosing an `s` or joining names themselves, so every count and every list of
//! names reads alike. (The idea is casey/just's `Count` and `List`.)

use std::fmt;

/// A number and a noun that agrees with it: `Count::new(2, "file")` shows `2 files`.
///
/// The plural adds `s` to the whole phrase (`more value` → `more values`): every noun gen counts
/// is regular.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<T> {
    n: usize,
    noun: T,
    numbered: bool,
}

impl<T: fmt::Display> Count<T> {
    /// `n` and the noun: `3 files`.
    pub fn new(n: usize, noun: T) -> Count<T> {
        Count { n, noun, numbered: true }
    }

    /// Only the noun, agreeing with `n`: `files` (for "{n} temporary files").
    pub fn noun(n: usize, noun: T) -> Count<T> {
        Count { n, noun, numbered: false }
    }
}

impl<T: fmt::Display> fmt::Display for Count<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numbered {
            write!(f, "{} ", self.n)?;
        }
        write!(f, "{}", self.noun)?;
        if self.n != 1 {
            f.write_str("s")?;
        }
        Ok(())
    }
}

/// How the last two items of a `List` are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// `a, b and c`: every one of them.
    And,
    /// `a, b or c`: any one of them.
    Or,
    /// `a, b, c`: an enumeration, as after a colon.
    Comma,
}

/// Names in a message: `` `a`, `b` or `c` ``. Ticked lists put each name in backticks, as
/// every name from `site.toml` or a command line is shown.
#[derive(Debug, Clone)]
pub struct List<I> {
    items: I,
    join: Join,
    ticked: bool,
}

impl<I> List<I>
where
    I: Iterator + Clone,
    I::Item: fmt::Display,
{
    fn of(items: impl IntoIterator<IntoIter = I>, join: Join, ticked: bool) -> List<I> {
        List { items: items.into_iter(), join, ticked }
    }

    /// `a, b and c`.
    pub fn and(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::And, false)
    }

    /// `` `a`, `b` and `c` ``.
    pub fn and_ticked(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::And, true)
    }

    /// `a, b or c`.
    pub fn or(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::Or, false)
    }

    /// `` `a`, `b` or `c` ``.
    pub fn or_ticked(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::Or, true)
    }

    /// `a, b, c`.
    pub fn comma(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::Comma, false)
    }

    /// `` `a`, `b`, `c` ``.
    pub fn comma_ticked(items: impl IntoIterator<IntoIter = I>) -> List<I> {
        List::of(items, Join::Comma, true)
    }
}

impl<I> fmt::Display for List<I>
where
    I: Iterator + Clone,
    I::Item: fmt::Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = self.items.clone().peekable();
        let mut first = true;
        while let Some(item) = items.next() {
            if !first {
                f.write_str(match (self.join, items.peek().is_none()) {
                    (Join::And, true) => " and ",
                    (Join::Or, true) => " or ",
                    _ => ", ",
                })?;
            }
            first = false;
            if self.ticked {
                write!(f, "`{item}`")?;
            } else {
                write!(f, "{item}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(Count::new(0, "file").to_string(), "0 files");
        assert_eq!(Count::new(1, "file").to_string(), "1 file");
        assert_eq!(Count::new(2, "more value").to_string(), "2 more values");
        assert_eq!(Count::noun(1, "file").to_string(), "file");
        assert_eq!(Count::noun(3, "file").to_string(), "files");
    }

    #[test]
    fn lists_read_as_english() {
        let none: [&str; 0] = [];
        assert_eq!(List::or(none).to_string(), "");
        assert_eq!(List::or(["a"]).to_string(), "a");
        assert_eq!(List::or(["a", "b"]).to_string(), "a or b");
        assert_eq!(List::or(["a", "b", "c"]).to_string(), "a, b or c");
        assert_eq!(List::and(["a", "b", "c"]).to_string(), "a, b and c");
        assert_eq!(List::comma(["a", "b", "c"]).to_string(), "a, b, c");
        assert_eq!(List::or_ticked(["a", "b"]).to_string(), "`a` or `b`");
        assert_eq!(List::and_ticked(["a"]).to_string(), "`a`");
        assert_eq!(List::comma_ticked(["a", "b"]).to_string(), "`a`, `b`");
    }
}
