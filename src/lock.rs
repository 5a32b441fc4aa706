//! A lock on the output folder, so that two gen processes never work on `out/` at once.
//!
//! Two `gen build` runs on one `out/` would each plan from what the other was changing: one
//! fails on a file the other just renamed, and the last manifest written may not list files
//! the other wrote, which then stay as orphans. So `build` holds an exclusive lock for its
//! whole plan-write-prune, and the commands that read `out/` (`check`, `diff`, `apply`,
//! `status`) hold a shared one, so that they never see a build half done. A second process
//! waits, saying so, rather than failing: the first one finishes in a moment, or an apply
//! holding a shared lock finishes its servers.
//!
//! The lock is `flock(2)` on the folder itself: no lock file shows up in `out/`, in `git
//! status` or in `gen check`, and the kernel drops it when the process ends, even by
//! `kill -9`, so nothing stale is ever left to clean up. The folder is opened without
//! following a symlink; one named as `out/` is refused later by the walk in `diff.rs`.

use std::path::Path;

use rustix::fs::{FlockOperation, Mode, OFlags};

use crate::error::{Error, Result};

/// Held until dropped: closing the descriptor releases the lock.
#[derive(Debug)]
pub struct Lock {
    _folder: std::os::fd::OwnedFd,
}

/// For `gen build`: makes `out` if it is missing (so that two first builds lock the same
/// folder), then waits for every other gen using it to finish.
pub fn exclusive(out: &Path) -> Result<Lock> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "create", e))?;
    match open(out)? {
        Some(folder) => take(out, folder, Kind::Exclusive),
        None => Err(Error::NotOurs { path: out.into(), what: "a symlink, not a folder" }),
    }
}

/// For commands that only read `out`: waits while a build writes it. A missing `out` is read
/// as empty and needs no lock.
pub fn shared(out: &Path) -> Result<Option<Lock>> {
    match open(out)? {
        Some(folder) => take(out, folder, Kind::Shared).map(Some),
        None => Ok(None),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Exclusive,
    Shared,
}

/// The folder, or `None` when it is missing or a symlink (neither can be locked; the caller
/// decides what that means). Anything else that is not a folder is an error.
fn open(out: &Path) -> Result<Option<std::os::fd::OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(out, flags, Mode::empty()) {
        Ok(folder) => Ok(Some(folder)),
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::LOOP) => Ok(None),
        // A symlink to a file is a symlink to `Disk::read`; a file is not a folder.
        Err(rustix::io::Errno::NOTDIR) => match std::fs::symlink_metadata(out) {
            Ok(meta) if meta.file_type().is_symlink() => Ok(None),
            _ => Err(Error::NotOurs { path: out.into(), what: "not a folder" }),
        },
        Err(e) => Err(Error::io(out, "open", e.into())),
    }
}

fn take(out: &Path, folder: std::os::fd::OwnedFd, kind: Kind) -> Result<Lock> {
    let (now, wait) = match kind {
        Kind::Exclusive => {
            (FlockOperation::NonBlockingLockExclusive, FlockOperation::LockExclusive)
        }
        Kind::Shared => (FlockOperation::NonBlockingLockShared, FlockOperation::LockShared),
    };
    match rustix::fs::flock(&folder, now) {
        Ok(()) => return Ok(Lock { _folder: folder }),
        Err(rustix::io::Errno::WOULDBLOCK) => {}
        Err(e) => return Err(Error::io(out, "lock", e.into())),
    }
    crate::verbosity::note(&format!("{}\n", crate::error::waiting_for_lock(out)));
    rustix::fs::flock(&folder, wait).map_err(|e| Error::io(out, "lock", e.into()))?;
    Ok(Lock { _folder: folder })
}
