//! What changed between two configurations, as a list of changes a reload
//! can apply one by one: a peer whose session parameters changed must
//! restart its session; one whose export or import rules changed only
//! needs its routes evaluated again; everyone else is left alone.

use bgp_wire::Prefix;

use super::model::{Config, PeerSettings, StaticRoute};

/// One difference between the running configuration and a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The node's identity changed (router ID, AS, cluster ID): every
    /// session restarts, since each OPEN carries it.
    Identity,
    /// Other listen addresses.
    Listen,
    /// The control socket moved.
    CtlSocket,
    PeerAdded(PeerSettings),
    PeerRemoved(String),
    PeerChanged(PeerChange),
    StaticAdded(StaticRoute),
    StaticRemoved(Prefix),
    /// Same prefix, other next hop or attributes.
    StaticChanged(StaticRoute),
    /// The pools (and so what is exported and installed) changed.
    Pools,
    /// The kernel settings, the node's subnets or the restart wait
    /// changed: the kernel's table is brought in line.
    Kernel,
    /// The communities of advertised ranges changed: routes are sent again.
    Advertise,
}

/// How a peer's settings changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerChange {
    pub name: String,
    /// The settings that differ, by their configuration key.
    pub fields: Vec<&'static str>,
    /// The session must be restarted: what it negotiated or how it
    /// connects changed. Otherwise the routes are evaluated again and the
    /// session stays up.
    pub restart: bool,
    pub new: PeerSettings,
}

/// The settings of a peer that the session itself depends on.
const SESSION_FIELDS: &[&str] = &[
    "address",
    "port",
    "asn",
    "local_asn",
    "local_address",
    "passive",
    "hold_time",
    "keepalive",
    "password",
    "ttl_security",
    "graceful_restart",
    "add_path",
    // The limit is the session's: a new one applies from a new session.
    "max_prefixes",
    // The peer's routes are needed again, unfiltered: a new session.
    "import",
];

fn peer_fields(a: &PeerSettings, b: &PeerSettings) -> Vec<&'static str> {
    let mut f = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            f.push(name);
        }
    };
    check("address", a.address != b.address);
    check("port", a.port != b.port);
    check("asn", a.asn != b.asn);
    check("local_asn", a.local_asn != b.local_asn);
    check("local_address", a.local_address != b.local_address);
    check("passive", a.passive != b.passive);
    check("hold_time", a.hold_time != b.hold_time);
    check("keepalive", a.keepalive != b.keepalive);
    check("connect_retry", a.connect_retry != b.connect_retry);
    check("error_wait", a.error_wait != b.error_wait);
    check("password", a.password != b.password);
    check("ttl_security", a.ttl_security != b.ttl_security);
    check("description", a.description != b.description);
    check("graceful_restart", a.graceful_restart != b.graceful_restart);
    check("add_path", a.add_path != b.add_path);
    check("rr_client", a.rr_client != b.rr_client);
    check("next_hop", a.next_hop_self != b.next_hop_self);
    check("allow_local_as", a.allow_local_as != b.allow_local_as);
    check("local_address6", a.local_address6 != b.local_address6);
    check("local_address4", a.local_address4 != b.local_address4);
    check("max_prefixes", a.max_prefixes != b.max_prefixes);
    check("import", a.import != b.import);
    check("export", a.export != b.export);
    f
}

/// The changes that turn `old` into `new`, peers and routes in `new`'s order.
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let mut out = Vec::new();
    if (old.router_id, old.asn, old.cluster_id) != (new.router_id, new.asn, new.cluster_id) {
        out.push(Change::Identity);
    }
    if old.listen != new.listen {
        out.push(Change::Listen);
    }
    if old.ctl_socket != new.ctl_socket {
        out.push(Change::CtlSocket);
    }
    for p in &old.peers {
        if !new.peers.iter().any(|q| q.name == p.name) {
            out.push(Change::PeerRemoved(p.name.clone()));
        }
    }
    for q in &new.peers {
        match old.peers.iter().find(|p| p.name == q.name) {
            None => out.push(Change::PeerAdded(q.clone())),
            Some(p) if p != q => {
                let fields = peer_fields(p, q);
                let restart = fields.iter().any(|f| SESSION_FIELDS.contains(f));
                out.push(Change::PeerChanged(PeerChange {
                    name: q.name.clone(),
                    fields,
                    restart,
                    new: q.clone(),
                }));
            }
            Some(_) => {}
        }
    }
    for s in &old.statics {
        if !new.statics.iter().any(|t| t.prefix == s.prefix) {
            out.push(Change::StaticRemoved(s.prefix));
        }
    }
    for t in &new.statics {
        match old.statics.iter().find(|s| s.prefix == t.prefix) {
            None => out.push(Change::StaticAdded(t.clone())),
            Some(s) if s != t => out.push(Change::StaticChanged(t.clone())),
            Some(_) => {}
        }
    }
    if old.pools != new.pools {
        out.push(Change::Pools);
    }
    if old.advertise != new.advertise {
        out.push(Change::Advertise);
    }
    if (&old.kernel, &old.local_subnets, old.graceful_restart_wait)
        != (&new.kernel, &new.local_subnets, new.graceful_restart_wait)
    {
        out.push(Change::Kernel);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const BASE: &str = r#"
router_id = "10.0.0.1"
listen = ["10.0.0.1:179"]

[[peer]]
name = "Mesh_10_0_0_2"
address = "10.0.0.2"

[[peer]]
name = "Mesh_10_0_0_3"
address = "10.0.0.3"

[[static]]
prefix = "10.244.1.0/26"
blackhole = true

[[pool]]
cidr = "10.244.0.0/16"
"#;

    fn cfg(text: &str) -> Config {
        parse("t.toml", text).unwrap()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        assert_eq!(diff(&cfg(BASE), &cfg(BASE)), vec![]);
    }

    #[test]
    fn peers_come_go_and_change_softly_or_not() {
        let new = BASE
            .replace(
                "name = \"Mesh_10_0_0_3\"\naddress = \"10.0.0.3\"",
                "name = \"Mesh_10_0_0_4\"\naddress = \"10.0.0.4\"",
            )
            .replace(
                "address = \"10.0.0.2\"",
                "address = \"10.0.0.2\"\nrr_client = true\ndescription = \"rack 2\"",
            );
        let changes = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(changes[0], Change::PeerRemoved("Mesh_10_0_0_3".into()));
        let Change::PeerChanged(c) = &changes[1] else {
            panic!("{changes:?}")
        };
        assert_eq!((c.name.as_str(), c.restart), ("Mesh_10_0_0_2", false));
        assert_eq!(c.fields, vec!["description", "rr_client"]);
        assert!(matches!(&changes[2], Change::PeerAdded(p) if p.name == "Mesh_10_0_0_4"));
        // A new hold time is renegotiated: the session restarts.
        let new = BASE.replace("address = \"10.0.0.2\"", "address = \"10.0.0.2\"\nhold_time = 90");
        let changes = diff(&cfg(BASE), &cfg(&new));
        assert!(matches!(&changes[..], [Change::PeerChanged(c)] if c.restart && c.fields == vec!["hold_time"]));
    }

    #[test]
    fn routes_pools_and_identity() {
        let new = BASE
            .replace(
                "prefix = \"10.244.1.0/26\"\nblackhole = true",
                "prefix = \"10.244.2.0/26\"\nblackhole = true",
            )
            .replace("cidr = \"10.244.0.0/16\"", "cidr = \"10.245.0.0/16\"")
            .replace("router_id = \"10.0.0.1\"", "router_id = \"10.0.0.9\"");
        let changes = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(changes[0], Change::Identity);
        assert!(changes.contains(&Change::StaticRemoved("10.244.1.0/26".parse().unwrap())));
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::StaticAdded(s) if s.prefix.to_string() == "10.244.2.0/26")));
        assert_eq!(changes.last(), Some(&Change::Pools));
        let via = BASE.replace("blackhole = true", "via = \"10.0.0.7\"");
        assert!(matches!(&diff(&cfg(BASE), &cfg(&via))[..], [Change::StaticChanged(s)] if s.via.is_some()));
    }
}
