//! `gen rollback`: the previous generation made current again, and its VMs brought back to it.

use crate::error::{Error, Result, exit};
use crate::layout;
use std::fmt::Write as _;

use super::plan;
use super::plan::{Server, Step, Wanted};
use super::server::short;
use super::session::{Call, Link};
use super::{Context, Output, check_sudo, listing, open_remote, say, seen_of, select};

/// `gen rollback HOST`: the previous generation, applied by the same plan as any other.
pub fn rollback(ctx: &Context, host: &str) -> Result<u8> {
    let hosts = select(ctx.site, Some(host))?;
    let host = hosts[0];
    let name = host.name.as_str();
    let link = Link::new(host)?;
    let mut remote = open_remote(&link, true, &ctx.site.cluster)?;
    let state = remote.state.clone();
    let (Some(current), Some(previous)) = (&state.current, &state.previous) else {
        return Err(Error::NoPrevious { host: name.to_string() });
    };
    if previous == current || !state.has(previous) {
        return Err(Error::NoPrevious { host: name.to_string() });
    }
    let found = listing(&mut remote.session, &format!("generations/{previous}"))?;
    if &found.hash() != previous {
        return Err(Error::Corrupt {
            host: name.to_string(),
            expected: previous.clone(),
            actual: found.hash(),
        });
    }
    let text = remote.session.must(&Call::Facts(previous))?.join("\n");
    let machines = plan::parse_machines(&text)
        .map_err(|reason| Error::Apply { host: name.to_string(), reason })?;
    let unit = found.sha(&layout::unit_file(&ctx.site.cluster)).map(String::from);
    let mut seen = seen_of(&state, host)?;
    seen.current = Some(current.clone());
    let server = Server {
        name: name.to_string(),
        seen: Some(seen),
        wanted: Wanted { hash: previous.clone(), machines, unit },
        applied: true,
    };
    let servers = vec![server];
    let plan = plan::plan(&servers).map_err(|r| Error::Refused { reason: r.reason, fix: r.fix })?;
    check_sudo(ctx, host, &mut remote, plan.on(0))?;
    let mut output = Output::new(Some("    ".to_string()));
    remote.session.must(&Call::Begin)?;
    for p in &plan.steps {
        say(&format!("{}\n", plan::step_line(&servers[0], &p.step, "")));
        match &p.step {
            Step::Send => {}
            Step::Switch => {
                remote.session.must(&Call::Switch(previous))?;
            }
            Step::Finish => {
                remote.session.must(&Call::Finish { hash: previous, commit: None })?;
            }
            step => {
                let (word, node) = step.entrypoint().expect("run by apply.sh");
                let call = Call::Step { hash: previous, step: word, node };
                let reply = remote.session.call(&call, &mut |line| output.line(line))?;
                if reply.status != 0 {
                    return Err(Error::Step {
                        host: name.to_string(),
                        step: plan::step_line(&servers[0], step, ""),
                        output: output.tail(),
                    });
                }
            }
        }
    }
    remote.session.close();
    let mut text = format!("{name}: rolled back to {} (was {})\n", short(previous), short(current));
    if *current == ctx.tree.host_hash(name) {
        let _ = writeln!(
            text,
            "{name}: out/ still holds {}: `gen apply {name}` would make it current again",
            short(current)
        );
    }
    say(&text);
    Ok(exit::OK)
}
