//! gen: a reproducible generator for a home-lab Kubernetes cluster spread over VM servers.
//!
//! `site.toml` → [`parse`] (raw, spanned values) → [`site`] (validated, typed model) →
//! [`render`] (askama templates into a [`tree::Tree`]) → [`write`] / [`diff`] (the tree on disk).
//! The binary in `main.rs` only calls [`cli::main`]. The library API carries no semver promise.

pub mod apply;
pub mod cli;
pub mod diff;
pub mod draft;
pub mod error;
pub mod import;
pub mod init;
pub mod kubespray;
pub mod manifest;
pub mod parse;
pub mod problem;
pub mod quote;
pub mod render;
pub mod schema;
pub mod site;
pub mod source;
pub mod tree;
pub mod write;

pub use error::{Error, Result};
pub use tree::Tree;

/// Version recorded in every manifest: output depends on `site.toml` and this, nothing else.
pub const GENERATOR: &str = concat!("gen ", env!("CARGO_PKG_VERSION"));

/// The pure build: the text of a site file to the whole output tree, manifest included.
/// `file` is only used to name the file in error messages.
pub fn build(text: &str, file: &str) -> Result<Tree> {
    let site = site::Site::from_toml(text, file)?;
    Ok(render::render(&site, text))
}
