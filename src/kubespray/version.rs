//! Ordering of dotted version numbers, as kubespray and Kubernetes write them.

use std::cmp::Ordering;

/// Compares dotted versions such as `1.35.10` and `1.35.9` component by component, numerically
/// (so `1.35.10 > 1.35.9`, `1.9 < 1.10`). A missing component counts as `0` (`1.2 == 1.2.0`). A
/// component that is not a plain decimal number is compared as text, after all numeric ones. No
/// leading `v` is stripped: callers pass `X.Y.Z`.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let mut xs = a.split('.');
    let mut ys = b.split('.');
    loop {
        let (x, y) = match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let ord = match (numeric(x), numeric(y)) {
            (Some(m), Some(n)) => m.cmp(&n),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// A version component as a number, if it is one (digits only; leading zeros allowed).
pub(super) fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.is_empty() { Some(0) } else { digits.parse().ok() }
}
