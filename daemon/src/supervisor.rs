//! Starting and stopping the whole daemon: the engine's thread, a task per
//! peer, the listeners, the control socket, the order of shutdown, and
//! reloads ([`crate::reload`]) in between.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::config::{Config, PeerIds, PeerSettings};
use crate::control::query::ReloadRequest;
use crate::control::{Daemon, View};
use crate::peer::{Command, PeerHandle};
use crate::rde::RdeMsg;

/// The running daemon, as a reload changes it.
pub struct Node {
    pub(crate) cfg: Config,
    /// The file the configuration came from (what `configure` reads again).
    pub(crate) path: PathBuf,
    pub(crate) ids: PeerIds,
    pub(crate) peers: Arc<RwLock<Vec<PeerHandle>>>,
    pub(crate) listeners: Vec<JoinHandle<()>>,
    pub(crate) rde: mpsc::UnboundedSender<RdeMsg>,
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    pub(crate) restarted: bool,
    pub(crate) daemon: Arc<Daemon>,
    /// The configuration comes from Calico's datastore, not `path`.
    pub(crate) datastore: bool,
}

impl Node {
    /// Starts a peer's task under its stable number.
    pub(crate) fn spawn_peer(&mut self, p: &PeerSettings) -> PeerHandle {
        let id = self.ids.id(&p.name);
        let seed = u64::from(u32::from(self.cfg.router_id.0)) << 16 ^ u64::from(id.0);
        let mut f = self.cfg.fsm_config(p);
        // RFC 4724 §3. R: this process started after a restart (`-R`);
        // only the peers configured at start are told. F: our routes stay
        // in the kernel through a restart or a session reset (`persist`),
        // or there is no kernel table whose routes could go.
        f.restarting = self.restarted;
        f.forwarding_preserved = self.cfg.kernel.as_ref().is_none_or(|k| k.persist);
        crate::peer::task::spawn(id, p.clone(), f, seed, self.rde.clone(), self.in_flight.clone())
    }

    /// The peers' names by number, for the engine.
    pub(crate) fn names(&self) -> HashMap<rib::PeerId, String> {
        self.peers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|p| (p.id, p.name.clone()))
            .collect()
    }

    /// Binds the configuration's listen addresses and serves them.
    pub(crate) async fn listen(&mut self) -> std::io::Result<()> {
        // The old sockets close only once their tasks are gone: wait, or
        // binding the same address again fails.
        for l in self.listeners.drain(..) {
            l.abort();
            let _ = l.await;
        }
        for l in crate::peer::listener::bind(&self.cfg)? {
            self.listeners
                .push(tokio::spawn(crate::peer::listener::serve(l, self.peers.clone())));
        }
        Ok(())
    }
}

/// How `ternd` was started, besides its configuration.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-R`: we restarted and kept our forwarding state, so peers are told
    /// so (RFC 4724) and recovery waits for them.
    pub restarted: bool,
    /// `--ctl-dir DIR`: also serve `DIR/bird.ctl` (the IPv4 view) and
    /// `DIR/bird6.ctl` (the IPv6 view), where calico-node's tools look for
    /// BIRD and BIRD6.
    pub ctl_dir: Option<PathBuf>,
    /// `--metrics-listen`: serve metrics here, over the file's `metrics_listen`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Runs `ternd` with a checked configuration, read from `path`, until
/// SIGTERM or SIGINT; SIGHUP reloads it.
pub async fn run(path: PathBuf, cfg: Config, opts: Options) -> std::io::Result<()> {
    run_with(path, cfg, opts, None).await
}

/// As [`run`]; with `updates`, every configuration received is applied
/// as a reload would (Calico's datastore), and the file is not read.
pub async fn run_with(
    path: PathBuf,
    cfg: Config,
    opts: Options,
    mut updates: Option<mpsc::UnboundedReceiver<Config>>,
) -> std::io::Result<()> {
    let datastore = updates.is_some();
    let restarted = opts.restarted;
    let mut ids = PeerIds::default();
    let names: HashMap<_, _> = cfg.peers.iter().map(|p| (ids.id(&p.name), p.name.clone())).collect();
    let in_flight = crate::rde::in_flight();
    let rde = crate::rde::spawn(&cfg, names, in_flight.clone(), restarted)?;
    let now = SystemTime::now();
    let (down_tx, mut down_rx) = mpsc::unbounded_channel();
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<ReloadRequest>();
    let peers = Arc::new(RwLock::new(Vec::new()));
    let daemon = Arc::new(Daemon {
        router_id: std::sync::Mutex::new(cfg.router_id),
        started: now,
        reconfigured: std::sync::Mutex::new(now),
        peers: peers.clone(),
        down: down_tx,
        reload: reload_tx,
        rde: rde.clone(),
    });
    let mut node = Node {
        cfg,
        path,
        ids,
        peers,
        listeners: Vec::new(),
        rde,
        in_flight,
        restarted,
        daemon: daemon.clone(),
        datastore,
    };
    let configured = node.cfg.peers.clone();
    for p in &configured {
        let h = node.spawn_peer(p);
        node.peers.write().unwrap_or_else(|e| e.into_inner()).push(h);
    }
    // Peers added by a reload later are not told we restarted.
    node.restarted = false;
    node.listen().await?;
    let mut sockets = vec![(node.cfg.ctl_socket.clone(), View::All)];
    if let Some(dir) = &opts.ctl_dir {
        sockets.push((dir.join("bird.ctl"), View::V4));
        sockets.push((dir.join("bird6.ctl"), View::V6));
    }
    let ctl: Vec<_> = sockets
        .iter()
        .cloned()
        .map(|(path, view)| {
            let d = daemon.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::control::serve(&path, d, view).await {
                    error!("control socket {}: {e}", path.display());
                }
            })
        })
        .collect();
    if let Some(addr) = opts.metrics_listen.or(node.cfg.metrics_listen) {
        tokio::spawn(crate::metrics::serve(addr, daemon.clone()));
    }
    info!(
        "ternd started: router id {}, AS {}, {} peers",
        node.cfg.router_id,
        node.cfg.asn,
        node.cfg.peers.len()
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    // SIGTERM is a restart or an upgrade: graceful-restart peers keep our
    // routes (RFC 4724). `down` decommissions: everyone gets a Cease.
    let how = loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: shutting down"); break Command::Shutdown }
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: shutting down"); break Command::Shutdown }
            _ = down_rx.recv() => {
                info!("down requested on the control socket: shutting down");
                break Command::Decommission
            }
            _ = hup.recv() => {
                info!("SIGHUP: reading the configuration again");
                node.reload(false, None).await;
            }
            Some(r) = reload_rx.recv() => {
                let outcome = node.reload(r.check, r.file).await;
                let _ = r.reply.send(outcome);
            }
            Some(c) = async {
                match updates.as_mut() {
                    Some(u) => u.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                node.reconfigure(c, "the datastore").await;
            }
        }
    };
    // All peers at once: each waits up to 2 s for its peer to close.
    let decommission = matches!(how, Command::Decommission);
    let stops: Vec<_> = node
        .peers
        .read()
        .unwrap_or_else(|e| e.into_inner())
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
    if node.cfg.kernel.as_ref().is_some_and(|k| !k.persist) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if node.rde.send(RdeMsg::FlushKernel(tx)).is_ok() {
            let _ = rx.await;
        }
    }
    for c in ctl {
        c.abort();
    }
    for (path, _) in &sockets {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
