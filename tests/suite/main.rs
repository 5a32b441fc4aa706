//! gen's integration tests, in one binary (one link, one place to look): a module per feature.
//! `tests/README.md` says which module proves what and how to run one of them.

// Tests count small things (sizes, milliseconds, seeds) and build tables of optional values;
// the lints against truncating casts and always-`Some` helpers guard nothing here.
#![allow(clippy::cast_possible_truncation, clippy::unnecessary_wraps, clippy::unused_self)]

mod all_errors;
mod apply;
mod change;
mod cli;
mod completions;
mod concurrent;
mod crash;
mod escaping;
mod golden;
mod guest;
mod hostile;
mod hosts;
mod import;
mod init;
mod io_failure;
mod laptop;
mod layers;
mod libvirt;
mod messages;
mod model;
mod output;
mod picture;
mod review;
mod schema;
mod scripting;
mod sudo;
mod support;
mod validators;
mod version;
mod walkthrough;
