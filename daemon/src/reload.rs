//! Reloading the configuration (SIGHUP, as confd sends, or `configure` on
//! the control socket): the new file is read and checked, compared with
//! the running configuration ([`crate::config::diff`]), and only the
//! difference is applied. A bad file changes nothing.
//!
//! - A new peer starts; a removed one gets Cease / Peer De-configured
//!   (RFC 4486); one whose session depends on what changed (address, AS,
//!   timers, capabilities, the node's identity) gets Cease / Other
//!   Configuration Change and a new session; one whose rules changed
//!   (reflection client, next hop, description) keeps its session and is
//!   sent what it should now hold.
//! - Static routes, pools and export rules change in the engine: every
//!   session is told the difference, none restarts; the kernel is given
//!   every prefix again when its rules changed.
//! - New listen addresses (or MD5 keys, which live on the listening
//!   sockets) are bound without a restart (calico#5279).

use std::path::PathBuf;
use std::time::SystemTime;

use bgp_wire::CeaseSubcode;
use tracing::{info, warn};

use crate::config::diff::{diff, Change};
use crate::config::{self, Config};
use crate::control::query::ReloadOutcome;
use crate::peer::Command;
use crate::rde::RdeMsg;
use crate::supervisor::Node;

impl Node {
    /// Reads `file` (the running configuration's by default) and applies
    /// it, or with `check` only checks it.
    pub async fn reload(&mut self, check: bool, file: Option<PathBuf>) -> ReloadOutcome {
        if self.datastore {
            let why = "the configuration comes from Calico's datastore, and every change there applies by itself";
            warn!("reload refused: {why}");
            return ReloadOutcome::Invalid {
                file: "datastore".into(),
                errors: vec![why.into()],
            };
        }
        let path = file.unwrap_or_else(|| self.path.clone());
        let shown = path.display().to_string();
        let new = match config::load(&path) {
            Ok(c) => c,
            Err(errs) => {
                let errors: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                warn!("reload refused, the running configuration stays: {}", errors.join("; "));
                return ReloadOutcome::Invalid { file: shown, errors };
            }
        };
        if check {
            return ReloadOutcome::Checked { file: shown };
        }
        self.path = path;
        let words = self.reconfigure(new, &shown).await;
        ReloadOutcome::Reconfigured {
            file: shown,
            changes: words,
        }
    }

    /// Applies `new` (from `from`, for the log): only the difference
    /// with the running configuration changes.
    pub async fn reconfigure(&mut self, new: Config, from: &str) -> Vec<String> {
        let changes = diff(&self.cfg, &new);
        let words = self.apply(new, &changes).await;
        *self.daemon.reconfigured.lock().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
        info!(
            "reconfigured from {from}: {}",
            if words.is_empty() {
                "nothing changed".to_string()
            } else {
                words.join("; ")
            }
        );
        words
    }

    async fn apply(&mut self, new: Config, changes: &[Change]) -> Vec<String> {
        let old = std::mem::replace(&mut self.cfg, new);
        let mut words = Vec::new();
        let identity = changes.contains(&Change::Identity);
        if identity {
            *self.daemon.router_id.lock().unwrap_or_else(|e| e.into_inner()) = self.cfg.router_id;
            words.push("router ID, AS or cluster ID: every session restarts".to_string());
        }
        let mut soft = Vec::new();
        for c in changes {
            match c {
                Change::PeerRemoved(name) => {
                    self.stop_peer(name, CeaseSubcode::PeerDeconfigured).await;
                    crate::metrics::metrics().forget_peer(name);
                    words.push(format!("{name} removed"));
                }
                Change::PeerAdded(p) => {
                    let h = self.spawn_peer(p);
                    self.peers.write().unwrap_or_else(|e| e.into_inner()).push(h);
                    words.push(format!("{} added", p.name));
                }
                Change::PeerChanged(pc) if pc.restart || identity => {
                    self.stop_peer(&pc.name, CeaseSubcode::OtherConfigurationChange).await;
                    let h = self.spawn_peer(&pc.new);
                    self.peers.write().unwrap_or_else(|e| e.into_inner()).push(h);
                    words.push(format!("{} restarted ({})", pc.name, pc.fields.join(", ")));
                }
                Change::PeerChanged(pc) => {
                    if let Some(h) = self.handle(&pc.name) {
                        let _ = h.command(Command::Update(Box::new(pc.new.clone()))).await;
                        let p = &pc.new;
                        soft.push((
                            h.id,
                            rib::PeerPolicy {
                                rr_client: p.rr_client,
                                next_hop_self: p.next_hop_self,
                                allow_local_as: p.allow_local_as,
                                local_address6: p.local_address6,
                                local_address4: p.local_address4,
                                export: p.export.clone(),
                            },
                        ));
                    }
                    words.push(format!("{} changed ({}), session kept", pc.name, pc.fields.join(", ")));
                }
                Change::Identity => {}
                Change::StaticAdded(s) => words.push(format!("static {} added", s.prefix)),
                Change::StaticRemoved(p) => words.push(format!("static {p} removed")),
                Change::StaticChanged(s) => words.push(format!("static {} changed", s.prefix)),
                Change::Pools => words.push("pools changed".to_string()),
                Change::Advertise => words.push("advertised communities changed".to_string()),
                Change::Listen => words.push("listen addresses changed".to_string()),
                Change::CtlSocket => {
                    warn!("a new control socket path takes effect at the next start");
                    words.push("control socket: at the next start".to_string());
                }
                Change::Kernel => {
                    if (&old.kernel, &self.cfg.kernel) != (&None, &None)
                        && old.kernel.as_ref().map(|k| (k.table, k.protocol, k.learn, k.persist))
                            != self
                                .cfg
                                .kernel
                                .as_ref()
                                .map(|k| (k.table, k.protocol, k.learn, k.persist))
                    {
                        warn!("the kernel table, protocol, learn and persist take effect at the next start");
                    }
                    words.push("kernel settings changed".to_string());
                }
            }
        }
        if identity {
            // Every session carries the old identity: all restart.
            let unchanged: Vec<_> = self
                .cfg
                .peers
                .clone()
                .into_iter()
                .filter(|p| {
                    !changes.iter().any(|c| match c {
                        Change::PeerAdded(q) => q.name == p.name,
                        Change::PeerChanged(q) => q.name == p.name,
                        _ => false,
                    })
                })
                .collect();
            for p in unchanged {
                self.stop_peer(&p.name, CeaseSubcode::OtherConfigurationChange).await;
                let h = self.spawn_peer(&p);
                self.peers.write().unwrap_or_else(|e| e.into_inner()).push(h);
            }
        }
        let keys = |c: &Config| -> Vec<_> { c.peers.iter().map(|p| (p.address, p.password.clone())).collect() };
        if changes.contains(&Change::Listen) || keys(&old) != keys(&self.cfg) {
            if let Err(e) = self.listen().await {
                warn!("cannot listen on the new addresses: {e}");
                words.push(format!("listen failed: {e}"));
            }
        }
        let _ = self.rde.send(RdeMsg::Reconfigure {
            cfg: Box::new(self.cfg.clone()),
            names: self.names(),
            peers: soft,
        });
        words
    }

    fn handle(&self, name: &str) -> Option<crate::peer::PeerHandle> {
        self.peers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }

    /// Ends a peer's task with a Cease of `subcode`; it answers once its
    /// NOTIFICATION is out and the engine has been told the session went.
    async fn stop_peer(&mut self, name: &str, subcode: CeaseSubcode) {
        let Some(h) = self.handle(name) else { return };
        self.peers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p.name != name);
        let _ = h.command(Command::Deconfigure { subcode }).await;
    }
}
