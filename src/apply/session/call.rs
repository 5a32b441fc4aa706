//! What gen asks of `remote.sh`: each function it defines, with its arguments, typed, and what
//! each one does in an error's words.

/// A request to `remote.sh`: each function it defines, with its arguments, typed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'c> {
    /// Fails naming the tools the server lacks.
    Hello(&'c [&'c str]),
    /// Links, generations and VMs; the argument is the unit prefix (`<cluster>-vm@`).
    State(&'c str),
    /// Says `busy` while another session holds the lock.
    Busy,
    /// `MODE SHA256  ./PATH` for each file of a folder under the root.
    Listing(&'c str),
    /// The `machines.toml` of a generation.
    Facts(&'c str),
    /// An empty staging folder for this id.
    Stage(&'c str),
    /// The staged folder `id` becomes the generation `hash`.
    Commit { id: &'c str, hash: &'c str },
    /// The generation becomes current.
    Switch(&'c str),
    /// Marks the apply as under way.
    Begin,
    /// One step of the plan, run by the generation's `apply.sh`.
    Step { hash: &'c str, step: &'c str, node: Option<&'c str> },
    /// Records the generation as applied, from this git commit.
    Finish { hash: &'c str, commit: Option<&'c str> },
    /// Removes generations.
    Drop(&'c [&'c str]),
    /// Asks sudo whether each command line may run as root without a password.
    May(&'c [&'c str]),
}

impl Call<'_> {
    pub(super) fn function(&self) -> &'static str {
        match self {
            Call::Hello(_) => "hello",
            Call::State(_) => "state",
            Call::Busy => "busy",
            Call::Listing(_) => "listing",
            Call::Facts(_) => "facts",
            Call::Stage(_) => "stage",
            Call::Commit { .. } => "commit",
            Call::Switch(_) => "switch",
            Call::Begin => "begin",
            Call::Step { .. } => "step",
            Call::Finish { .. } => "finish",
            Call::Drop(_) => "drop",
            Call::May(_) => "may",
        }
    }

    pub(super) fn args(&self) -> Vec<&str> {
        match *self {
            Call::Hello(tools) | Call::Drop(tools) | Call::May(tools) => tools.to_vec(),
            Call::State(a)
            | Call::Listing(a)
            | Call::Facts(a)
            | Call::Stage(a)
            | Call::Switch(a) => {
                vec![a]
            }
            Call::Busy | Call::Begin => Vec::new(),
            Call::Commit { id, hash } => vec![id, hash],
            Call::Step { hash, step, node } => {
                [Some(hash), Some(step), node].into_iter().flatten().collect()
            }
            Call::Finish { hash, commit } => [Some(hash), commit].into_iter().flatten().collect(),
        }
    }

    /// What the call does, in an error's words.
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Call::Hello(_) => "checking the server's tools",
            Call::State(_) => "reading the generations",
            Call::Busy => "asking about the lock",
            Call::Listing(_) => "listing a generation",
            Call::Facts(_) => "reading a generation's machines.toml",
            Call::Stage(_) => "preparing a staging folder",
            Call::Commit { .. } => "naming the new generation",
            Call::Switch(_) => "making the generation current",
            Call::Begin => "marking the apply as under way",
            Call::Step { .. } => "running a step of the plan",
            Call::Finish { .. } => "recording the generation as applied",
            Call::Drop(_) => "removing old generations",
            Call::May(_) => "asking sudo what this user may run as root",
        }
    }
}
