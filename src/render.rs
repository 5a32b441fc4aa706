//! From a validated `Site` to the output tree: one view per template, every decision named here.
//!
//! Templates (in `templates/`) only print what a view holds and loop over its lists. Anything
//! that is a choice — a derived name, a MAC address, a timeout, whether a variable is emitted for
//! a release — is a function or constant in this module with a comment saying why:
//! `render/host.rs` for the files of a VM server, `render/kubespray.rs` for the files kubespray
//! runs from.

mod host;
mod kubespray;

use std::collections::BTreeMap;

use askama::Template;

use crate::site::{Node, Site};
use crate::tree::Tree;

use host::render_host;
use kubespray::render_kubespray;

/// The user Vagrant boxes log in as; kubespray connects as this user and becomes root.
pub const GUEST_USER: &str = "vagrant";

/// Every file of the output except the manifest, which `crate::build` makes from this tree.
pub fn render(site: &Site) -> Tree {
    let mut tree = Tree::new();
    // Nodes by host, once: looking them up per host would cost hosts × nodes.
    let mut nodes_of: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    for node in &site.nodes {
        nodes_of.entry(node.host.as_str()).or_default().push(node);
    }
    for host in &site.hosts {
        let nodes = nodes_of.get(host.name.as_str()).map_or(&[][..], Vec::as_slice);
        render_host(site, host, nodes, &mut tree);
    }
    render_kubespray(site, &mut tree);
    crate::picture::render(site, &mut tree);
    tree
}

fn text(template: &impl Template) -> String {
    template.render().expect("templates only print validated values")
}

// askama's `filter_fn` expands each filter into a `pub` item with its own `execute` (inlined,
// returning askama's `Result`): what it generates is askama's style, not ours.
#[allow(unreachable_pub, clippy::inline_always, clippy::unused_self, clippy::unnecessary_wraps)]
mod filters {
    #[askama::filter_fn]
    pub fn sh(s: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::quote::sh(&s.to_string()))
    }

    #[askama::filter_fn]
    pub fn rb(s: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::quote::ruby(&s.to_string()))
    }

    #[askama::filter_fn]
    pub fn yaml(s: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::quote::yaml(&s.to_string()))
    }

    #[askama::filter_fn]
    pub fn toml(s: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::quote::toml(&s.to_string()))
    }

    #[askama::filter_fn]
    pub fn systemd(s: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::quote::systemd(&s.to_string()))
    }
}
