//! Where the site file and the output folder are: reading the site file safely, and making sure
//! the output folder cannot hold it.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result, SiteFileProblem};

/// The site file is refused unless it is a regular file: `/dev/zero` would be read forever.
const SITE_LIMIT: u64 = 16 << 20;

/// Reads the bytes of the site file, refusing what is not a regular file of at most `SITE_LIMIT` bytes
/// before reading a byte. It is opened non-blocking, so a FIFO with no writer cannot hang the
/// open, and the limit also holds for a file that grows while it is read.
pub(super) fn read_site(path: &Path) -> Result<Vec<u8>> {
    use rustix::fs::{FileType, OFlags};
    use std::io::Read as _;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, rustix::fs::Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::NOENT) => {
            return Err(Error::SiteFile { path: path.into(), problem: SiteFileProblem::Missing });
        }
        Err(e) => return Err(Error::io(path, "read", e.into())),
    };
    let io = |e| Error::io(path, "read", e);
    use SiteFileProblem::{NotAFile, TooLarge};
    let meta = file.metadata().map_err(io)?;
    let not_a_file = |what| Err(Error::SiteFile { path: path.into(), problem: NotAFile(what) });
    match FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&meta)) {
        FileType::RegularFile => {}
        FileType::Directory => return not_a_file("a folder"),
        FileType::Fifo => return not_a_file("a FIFO"),
        FileType::Socket => return not_a_file("a socket"),
        FileType::CharacterDevice | FileType::BlockDevice => return not_a_file("a device"),
        _ => return not_a_file("not a file"),
    }
    let too_large = || Error::SiteFile { path: path.into(), problem: TooLarge(SITE_LIMIT) };
    if meta.len() > SITE_LIMIT {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(SITE_LIMIT + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > SITE_LIMIT {
        return Err(too_large());
    }
    Ok(bytes)
}

pub(super) struct Paths {
    pub(super) site: PathBuf,
    pub(super) out: PathBuf,
}

impl Paths {
    /// `out` defaults to the folder beside the site file, not the current one, so that
    /// `gen --site lab/site.toml build` run from anywhere writes `lab/out`.
    pub(super) fn resolve(site: PathBuf, out: Option<PathBuf>) -> Paths {
        let out = out.unwrap_or_else(|| site_folder(&site).join("out"));
        Paths { site, out }
    }

    /// `build` prunes and `--out` is free text: an output folder that holds the site file could
    /// turn a typo into a deleted input. A site file that is a symlink is in two folders, the
    /// one it is named in and the one it really is in: neither may be below `out`.
    pub(super) fn refuse_out_containing_site(&self) -> Result<()> {
        let folder = site_folder(&self.site);
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        let named_in = folder.canonicalize().map_err(|e| Error::io(folder, "read", e))?;
        let real = self.site.canonicalize().map_err(|e| Error::io(&self.site, "read", e))?;
        let real_in = real.parent().unwrap_or(Path::new("/"));
        let out = resolve_lexically_below_existing(&self.out)?;
        if named_in.starts_with(&out) || real_in.starts_with(&out) {
            return Err(Error::OutContainsSite { out: self.out.clone(), site: self.site.clone() });
        }
        Ok(())
    }

    pub(super) fn out_label(&self) -> String {
        self.out.display().to_string()
    }
}

fn site_folder(site: &Path) -> &Path {
    site.parent().unwrap_or(Path::new(""))
}

/// The absolute form of a path that may not exist yet: its longest existing ancestor with
/// symlinks resolved, then the rest. The rest does not exist, so it holds no symlink and `..`
/// in it can be taken lexically.
fn resolve_lexically_below_existing(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, "read", e))?;
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let head: PathBuf = components[..existing].iter().collect();
        let Ok(mut resolved) = head.canonicalize() else { continue };
        for component in &components[existing..] {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => resolved.push(name),
                _ => {}
            }
        }
        return Ok(resolved);
    }
    Ok(absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_defaults_to_the_site_files_folder() {
        let paths = Paths::resolve("lab/site.toml".into(), None);
        assert_eq!(paths.out, Path::new("lab/out"));
        let paths = Paths::resolve("site.toml".into(), None);
        assert_eq!(paths.out, Path::new("out"));
    }

    #[test]
    fn paths_that_do_not_exist_yet_resolve_lexically() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let path = root.join("new/deeper/../../other");
        assert_eq!(resolve_lexically_below_existing(&path).unwrap(), root.join("other"));
        assert_eq!(resolve_lexically_below_existing(&root.join("new/..")).unwrap(), root);
    }
}
