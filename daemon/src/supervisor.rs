//! Starting and stopping the whole daemon: the engine's thread, a task per
//! peer, the listeners, the control socket, and the order of shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{error, info};

use crate::config::{Config, PeerIds};
use crate::control::Daemon;
use crate::peer::Command;

/// Runs `ternd` with a checked configuration until SIGTERM or SIGINT.
/// `restarted` (`ternd -R`): we restarted and kept our forwarding state,
/// so peers are told so (RFC 4724) and recovery waits for them.
pub async fn run(cfg: Config, restarted: bool) -> std::io::Result<()> {
    let listeners = crate::peer::listener::bind(&cfg)?;
    let mut ids = PeerIds::default();
    let named: Vec<_> = cfg.peers.iter().map(|p| (ids.id(&p.name), p)).collect();
    let names: HashMap<_, _> = named.iter().map(|(id, p)| (*id, p.name.clone())).collect();
    let in_flight = crate::rde::in_flight();
    let rde = crate::rde::spawn(&cfg, names, in_flight.clone(), restarted)?;
    let mut peers = Vec::new();
    for (id, p) in named {
        let seed = u64::from(u32::from(cfg.router_id.0)) << 16 ^ u64::from(id.0);
        peers.push(crate::peer::task::spawn(
            id,
            p.clone(),
            {
                let mut f = cfg.fsm_config(p);
                // The R bit, and the F bit for each family: our routes
                // stayed in the kernel (RFC 4724 §3).
                f.restarting = restarted && cfg.kernel.as_ref().is_some_and(|k| k.persist);
                f
            },
            seed,
            rde.clone(),
            in_flight.clone(),
        ));
    }
    let now = SystemTime::now();
    let (down_tx, mut down_rx) = tokio::sync::mpsc::unbounded_channel();
    let daemon = Arc::new(Daemon {
        router_id: cfg.router_id,
        started: now,
        reconfigured: now,
        peers: peers.clone(),
        down: down_tx,
        rde: rde.clone(),
    });
    let shared = Arc::new(peers);
    for l in listeners {
        tokio::spawn(crate::peer::listener::serve(l, shared.clone()));
    }
    let ctl_path = cfg.ctl_socket.clone();
    let ctl = {
        let d = daemon.clone();
        let path = ctl_path.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::control::serve(&path, d).await {
                error!("control socket {}: {e}", path.display());
            }
        })
    };
    info!(
        "ternd started: router id {}, AS {}, {} peers",
        cfg.router_id,
        cfg.asn,
        cfg.peers.len()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // SIGTERM is a restart or an upgrade: graceful-restart peers keep our
    // routes (RFC 4724). `down` decommissions: everyone gets a Cease.
    let how = tokio::select! {
        _ = term.recv() => { info!("SIGTERM: shutting down"); Command::Shutdown }
        _ = tokio::signal::ctrl_c() => { info!("SIGINT: shutting down"); Command::Shutdown }
        _ = down_rx.recv() => { info!("down requested on the control socket: shutting down"); Command::Decommission }
    };
    // All peers at once: each waits up to 2 s for its peer to close.
    let decommission = matches!(how, Command::Decommission);
    let stops: Vec<_> = shared
        .iter()
        .cloned()
        .map(|p| {
            tokio::spawn(async move {
                let c = if decommission {
                    Command::Decommission
                } else {
                    Command::Shutdown
                };
                p.command(c).await
            })
        })
        .collect();
    for s in stops {
        let _ = s.await;
    }
    if cfg.kernel.as_ref().is_some_and(|k| !k.persist) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if rde.send(crate::rde::RdeMsg::FlushKernel(tx)).is_ok() {
            let _ = rx.await;
        }
    }
    ctl.abort();
    let _ = std::fs::remove_file(&ctl_path);
    Ok(())
}
