//! What a datastore holds for BGP, key by key, as its source delivers it
//! (a full list, then puts and deletes), and the configuration this node
//! derives from it.
//!
//! A value that does not parse, or that makes the derivation fail (a bad
//! address, an unknown mode), is logged with its key and left out: the
//! rest of the datastore still applies (confd would render nothing). The
//! key is tried again when it is written again.

use std::collections::BTreeMap;

use tracing::warn;

use super::derive::derive;
use super::resources::{BlockAffinity, BlockAffinitySpec, Metadata, ResourceError, Resources};
use crate::config::Config;

/// The etcd v3 prefixes of the kinds confd read (calico.md §3.2); block
/// affinities are this node's only ([`affinity_prefix`]).
pub const RESOURCE_PREFIXES: [&str; 5] = [
    "/calico/resources/v3/projectcalico.org/bgpconfigurations/",
    "/calico/resources/v3/projectcalico.org/nodes/",
    "/calico/resources/v3/projectcalico.org/bgppeers/",
    "/calico/resources/v3/projectcalico.org/bgpfilters/",
    "/calico/resources/v3/projectcalico.org/ippools/",
];

/// Where node `node`'s block affinities are: `…/ipv4/block/A.B.C.D-LEN`
/// (and `ipv6`) below it.
pub fn affinity_prefix(node: &str) -> String {
    format!("/calico/ipam/v2/host/{node}/")
}

/// One key's resource, parsed.
#[derive(Clone, Debug)]
struct Entry {
    /// `Kind name`, as the derivation names a resource in its errors.
    who: String,
    one: Resources,
}

/// The datastore's BGP keys, parsed.
#[derive(Debug, Default)]
pub struct Store {
    entries: BTreeMap<String, Entry>,
    /// Keys left out, and why (logged once per write).
    skipped: BTreeMap<String, String>,
    /// Local workload peers, from the node's endpoint status files.
    workloads: Vec<super::resources::WorkloadPeer>,
}

impl Store {
    /// Replaces everything with a full list of `(key, value)`.
    pub fn replace(&mut self, items: Vec<(String, Vec<u8>)>) {
        self.entries.clear();
        self.skipped.clear();
        for (k, v) in items {
            self.put(&k, &v);
        }
    }

    /// A key written: parsed, or logged and left out.
    pub fn put(&mut self, key: &str, value: &[u8]) {
        self.skipped.remove(key);
        match parse(key, value) {
            Ok(Some(e)) => {
                self.entries.insert(key.to_string(), e);
            }
            Ok(None) => {
                self.entries.remove(key);
            }
            Err(e) => {
                self.entries.remove(key);
                self.skip(key, e.to_string());
            }
        }
    }

    /// The node's local workload peers now.
    pub fn set_workloads(&mut self, w: Vec<super::resources::WorkloadPeer>) {
        self.workloads = w;
    }

    pub fn delete(&mut self, key: &str) {
        self.entries.remove(key);
        self.skipped.remove(key);
    }

    fn skip(&mut self, key: &str, why: String) {
        warn!("datastore: skipping {key}: {why}");
        self.skipped.insert(key.to_string(), why);
    }

    /// Keys left out, with the reason.
    pub fn skipped(&self) -> &BTreeMap<String, String> {
        &self.skipped
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every resource held.
    pub fn resources(&self) -> Resources {
        let mut r = Resources::default();
        for e in self.entries.values() {
            r.merge(&e.one);
        }
        r.workloads = self.workloads.clone();
        r
    }

    /// Node `node`'s configuration. A resource the derivation names in
    /// its error is left out (and logged with its key) and the derivation
    /// tried again; an error no key answers for (this node has no Node
    /// resource yet, say) is returned.
    pub fn derive(&mut self, node: &str) -> Result<Config, ResourceError> {
        loop {
            match derive(&self.resources(), node) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    let culprit = self
                        .entries
                        .iter()
                        .find(|(_, en)| en.who == e.resource)
                        .map(|(k, _)| k.clone());
                    // This node's own Node resource is never left out: a
                    // node without it has no configuration at all.
                    match culprit {
                        Some(k) if e.resource != format!("Node {node}") => {
                            self.entries.remove(&k);
                            self.skip(&k, e.to_string());
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }
}

/// A key and its value as one resource; `None` for keys that are not
/// BGP's (another kind below a watched prefix).
fn parse(key: &str, value: &[u8]) -> Result<Option<Entry>, ResourceError> {
    let bad = |message: String| ResourceError {
        resource: key.to_string(),
        message,
    };
    if let Some(rest) = key.strip_prefix("/calico/ipam/v2/host/") {
        return affinity(rest, value).map_err(bad).map(Some);
    }
    if !RESOURCE_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return Ok(None);
    }
    let text = std::str::from_utf8(value).map_err(|_| bad("the value is not UTF-8".into()))?;
    let mut one = Resources::default();
    one.add_text(key, text)?;
    let who = one.names().into_iter().next();
    match who {
        Some(who) if one.names().len() == 1 => Ok(Some(Entry { who, one })),
        _ => Err(bad("the value is not one resource".into())),
    }
}

/// `NODE/ipv4/block/10.0.0.0-26` (the type segment may also be `ipv6`,
/// or `virtual`), with a value of `{"state":…,"deleted":…}` or empty.
fn affinity(rest: &str, value: &[u8]) -> Result<Entry, String> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [node, _family, "block", cidr] = parts[..] else {
        return Err("not NODE/ipv4|ipv6/block/CIDR".into());
    };
    let cidr = match cidr.rsplit_once('-') {
        Some((a, len)) => format!("{a}/{len}"),
        None => return Err(format!("{cidr:?}: not ADDRESS-LENGTH")),
    };
    #[derive(serde::Deserialize, Default)]
    struct Value {
        state: Option<String>,
        #[serde(default)]
        deleted: bool,
    }
    let v: Value = if value.iter().all(u8::is_ascii_whitespace) {
        Value::default()
    } else {
        serde_json::from_slice(value).map_err(|e| format!("value: {e}"))?
    };
    let name = format!("{node}-{}", cidr.replace('/', "-"));
    let mut one = Resources::default();
    one.affinities.push(BlockAffinity {
        metadata: Metadata {
            name: name.clone(),
            labels: Default::default(),
        },
        spec: BlockAffinitySpec {
            node: node.to_string(),
            cidr,
            state: v.state,
            deleted: Some(serde_yaml_ng::Value::Bool(v.deleted)),
        },
    });
    Ok(Entry {
        who: format!("BlockAffinity {name}"),
        one,
    })
}
