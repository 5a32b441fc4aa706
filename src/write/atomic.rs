//! One file into `out/` at a time, whole or not at all: a temporary file beside the target,
//! renamed over it; and how gen's temporary files are named, so that a later build finds them.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tree::{MANIFEST, Mode};

/// Temporary files are `.gen-` + this many letters and digits + `.tmp`.
const TEMPORARY_PREFIX: &str = ".gen-";
const TEMPORARY_RANDOM: usize = 6;
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Whether `path` is named like one of gen's temporary files. A build killed while writing one
/// leaves it behind, unlisted anywhere; the next build recognises it by this name and deletes
/// it. gen never writes a path of its tree under such a name (its files are not dotfiles).
pub fn is_temporary(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix(TEMPORARY_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMPORARY_SUFFIX))
        .is_some_and(|random| {
            random.len() == TEMPORARY_RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// The output folder as the user named it (in messages) and as an absolute path.
pub(super) struct Out<'a> {
    pub(super) named: &'a Path,
    pub(super) absolute: PathBuf,
}

/// The manifest, durably: its bytes reach the disk before the rename, and the rename before
/// anything else is written (see the module doc).
pub(super) fn write_manifest(out: &Out, bytes: &[u8], mode: Mode) -> Result<()> {
    write_file(out, MANIFEST, bytes, mode, true)?;
    let folder = fs::File::open(out.named).map_err(|e| Error::io(out.named, "read", e))?;
    folder.sync_all().map_err(|e| Error::io(out.named, "flush", e))
}

/// Writes a temporary file beside the target, gives it its mode, flushes it to disk if `flush`,
/// and renames it over the target: a reader sees the old file or the new one, never a part.
pub(super) fn write_file(
    out: &Out,
    path: &str,
    bytes: &[u8],
    mode: Mode,
    flush: bool,
) -> Result<()> {
    let target = out.named.join(path);
    let folder = target.parent().expect("a path below out/");
    let absolute_folder = out.absolute.join(path);
    let absolute_folder = absolute_folder.parent().expect("a path below out/");
    let temporary = || {
        tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .rand_bytes(TEMPORARY_RANDOM)
            .suffix(TEMPORARY_SUFFIX)
            .tempfile_in(absolute_folder)
    };
    // The folder is made only when it is missing, which the first file in it finds out: making
    // it before every file would cost a mkdir and a stat per file.
    let mut temp = match temporary() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(folder).map_err(|e| Error::io(folder, "create", e))?;
            temporary()
        }
        made => made,
    }
    .map_err(|e| Error::io(folder, "create a file in", e))?;
    let io = |e| Error::io(temp_path(folder), "write", e);
    temp.write_all(bytes).map_err(io)?;
    temp.as_file().set_permissions(fs::Permissions::from_mode(mode.bits())).map_err(io)?;
    if flush {
        temp.as_file().sync_all().map_err(io)?;
    }
    temp.persist(&target).map_err(|e| Error::io(&target, "replace", e.error))?;
    Ok(())
}

/// The temporary name is random; errors name the folder with the pattern instead.
fn temp_path(folder: &Path) -> std::path::PathBuf {
    folder.join(format!("{TEMPORARY_PREFIX}*{TEMPORARY_SUFFIX}"))
}
