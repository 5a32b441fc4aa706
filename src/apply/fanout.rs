//! One piece of work on many servers at once (`--jobs`), and the summary line and exit
//! status of the whole.

use crate::error::{Error, Result, exit};
use crate::site::{Host, Site};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::say;

/// The results of the target servers, in their order.
pub(super) fn collect(
    all: &[&Host],
    targets: &[&Host],
    results: Vec<Option<Result<String>>>,
) -> Vec<Result<()>> {
    let mut by_name: Vec<(String, Option<Result<String>>)> =
        all.iter().map(|h| h.name.to_string()).zip(results).collect();
    targets
        .iter()
        .map(|t| {
            let slot =
                by_name.iter_mut().find(|(n, _)| n == t.name.as_str()).expect("a target is a host");
            match slot.1.take() {
                Some(Err(e)) => Err(e),
                _ => Ok(()),
            }
        })
        .collect()
}

/// The hosts a command is about: the one named, or all.
pub(super) fn select<'s>(site: &'s Site, name: Option<&str>) -> Result<Vec<&'s Host>> {
    match name {
        None => Ok(site.hosts.iter().collect()),
        Some(name) => match site.hosts.iter().find(|h| h.name.as_str() == name) {
            Some(host) => Ok(vec![host]),
            None => Err(Error::UnknownHost {
                name: name.to_string(),
                known: site.hosts.iter().map(|h| h.name.to_string()).collect(),
            }),
        },
    }
}

/// Runs `work` for each item on up to `jobs` threads, each taking the next item as it is free;
/// the results in the order of `items`.
pub(super) fn each<'a, I: Sync, T: Send>(
    items: &'a [I],
    jobs: usize,
    work: impl Fn(&'a I) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = work(item);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] =
                        Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.into_iter().map(|r| r.expect("every item was worked on")).collect()
}

/// Reports failures (each in full, on stderr) and, given the `verb` for it, a summary line.
pub(super) fn finish(hosts: &[&Host], results: Vec<Result<()>>, summary: Option<&str>) -> u8 {
    let mut failed = Vec::new();
    let mut ok = 0;
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                let name = host.name.as_str();
                if summary.is_some() {
                    say(&format!("{name}: failed\n"));
                }
                eprintln!("{e}");
                failed.push(name);
            }
        }
    }
    if let Some(verb) = summary {
        let mut text = format!("{verb} {ok} of {} servers", hosts.len());
        if !failed.is_empty() {
            let _ = write!(text, "; failed: {}", failed.join(", "));
        }
        say(&format!("{text}\n"));
    }
    if failed.is_empty() { exit::OK } else { exit::DIFFERS }
}
