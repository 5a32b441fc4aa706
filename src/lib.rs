//! gen: a reproducible generator for a home-lab Kubernetes cluster spread over VM servers.
//!
//! `site.toml` → [`parse`] (raw, spanned values) → [`site`] (validated, typed model) →
//! [`render`] (askama templates into a [`tree::Tree`]) → [`write`] / [`diff`] (the tree on disk).
//! The binary in `main.rs` only calls [`cli::main`]. The library API carries no semver promise.

pub mod apply;
pub mod change;
pub mod cli;
pub mod colour;
pub mod diff;
pub mod draft;
pub mod error;
pub mod escape;
pub mod import;
pub mod init;
pub mod kubespray;
pub mod layout;
pub mod libvirt;
pub mod lock;
pub mod manifest;
pub mod parse;
pub mod picture;
pub mod problem;
pub mod quote;
pub mod record;
pub mod render;
pub mod review;
pub mod schema;
pub mod site;
pub mod snippet;
pub mod source;
pub mod sudo;
pub mod suggest;
pub mod syntax;
pub mod tree;
pub mod verbosity;
pub mod wording;
pub mod write;

pub use error::{Error, Result};
pub use tree::Tree;

/// What one pure build of a site file gives: the validated site, the output tree and its
/// manifest. Every command starts from one, so the site is validated once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The site the tree was rendered from.
    pub site: site::Site,
    /// Every file of `out/`, `manifest.toml` included (rendered from `manifest`).
    pub tree: Tree,
    /// The manifest as a value, for whatever needs its contents (pruning, apply).
    pub manifest: manifest::Manifest,
}

/// The pure build: the text of a site file to the whole output. `file` is only used to name the
/// file in error messages.
pub fn build(text: &str, file: &str) -> Result<Built> {
    let site = site::Site::from_toml(text, file)?;
    let mut tree = render::render(&site);
    let hosts: Vec<&str> = site.hosts.iter().map(|h| h.name.as_str()).collect();
    let manifest = manifest::Manifest::of(&tree, text, &hosts);
    tree.insert_text(tree::MANIFEST, &manifest.to_toml());
    Ok(Built { site, tree, manifest })
}
