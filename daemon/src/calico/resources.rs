//! Calico's resources as `calicoctl` writes them and etcd stores them
//! (`apiVersion: projectcalico.org/v3`): the fields confd read for BIRD,
//! typed. Input is YAML or JSON, one or more documents, or a `List`;
//! BGP passwords come from Kubernetes `v1` `Secret`s in the same input.
//! A malformed resource is refused with its kind, name and field.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// Everything read, by kind.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub nodes: Vec<Node>,
    pub peers: Vec<BgpPeer>,
    pub configs: Vec<BgpConfiguration>,
    pub pools: Vec<IpPool>,
    pub affinities: Vec<BlockAffinity>,
    pub secrets: Vec<Secret>,
    pub filters: Vec<super::bgpfilter::BgpFilter>,
    /// Local workloads that are BGP peers (Felix's endpoint status files).
    pub workloads: Vec<WorkloadPeer>,
}

/// A local workload Felix names as a peer of BGPPeer `bgp_peer` (its
/// `localWorkloadSelector` selects it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadPeer {
    /// The status file's name.
    pub name: String,
    pub bgp_peer: String,
    pub ipv4: Option<std::net::IpAddr>,
    pub ipv6: Option<std::net::IpAddr>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default, deserialize_with = "labels")]
    pub labels: BTreeMap<String, String>,
}

/// Label values are strings; YAML written by hand often leaves `true` or
/// `1` unquoted, which Kubernetes' tools read as the string.
fn labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: BTreeMap<String, Value> = BTreeMap::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Null => String::new(),
                _ => return Err(serde::de::Error::custom(format!("label {k}: not a string"))),
            };
            Ok((k, s))
        })
        .collect()
}

/// An AS number: a number, or the `a.b` asdot Calico also accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsNumber(pub u32);

impl<'de> Deserialize<'de> for AsNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        let bad = || serde::de::Error::custom("an AS number: 1 to 4294967295, or a.b");
        match Raw::deserialize(d)? {
            Raw::N(n) => u32::try_from(n).ok().filter(|n| *n != 0).map(AsNumber).ok_or_else(bad),
            Raw::S(s) => match s.split_once('.') {
                Some((hi, lo)) => {
                    let (hi, lo) = (
                        hi.parse::<u16>().map_err(|_| bad())?,
                        lo.parse::<u16>().map_err(|_| bad())?,
                    );
                    Ok(AsNumber(u32::from(hi) << 16 | u32::from(lo)))
                }
                None => s.parse::<u32>().ok().filter(|n| *n != 0).map(AsNumber).ok_or_else(bad),
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Node {
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: NodeSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeSpec {
    pub bgp: Option<NodeBgp>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeBgp {
    /// `10.0.0.1/24`: the address and its subnet.
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub as_number: Option<AsNumber>,
    #[serde(rename = "routeReflectorClusterID")]
    pub route_reflector_cluster_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BgpPeer {
    pub metadata: Metadata,
    pub spec: BgpPeerSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpPeerSpec {
    pub node: Option<String>,
    pub node_selector: Option<String>,
    #[serde(rename = "peerIP")]
    pub peer_ip: Option<String>,
    pub peer_selector: Option<String>,
    pub as_number: Option<AsNumber>,
    #[serde(rename = "localASNumber")]
    pub local_as_number: Option<AsNumber>,
    #[serde(default)]
    pub keep_original_next_hop: bool,
    pub next_hop_mode: Option<String>,
    pub password: Option<SecretRef>,
    pub source_address: Option<String>,
    pub max_restart_time: Option<String>,
    pub keepalive_time: Option<String>,
    pub ttl_security: Option<u8>,
    #[serde(rename = "numAllowedLocalASNumbers")]
    pub num_allowed_local_as_numbers: Option<u8>,
    pub reachable_by: Option<String>,
    #[serde(default)]
    pub filters: Vec<String>,
    pub reverse_peering: Option<String>,
    pub local_workload_selector: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub secret_key_ref: SecretKey,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SecretKey {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BgpConfiguration {
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: BgpConfigurationSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpConfigurationSpec {
    pub as_number: Option<AsNumber>,
    pub node_to_node_mesh_enabled: Option<bool>,
    pub listen_port: Option<u16>,
    pub bind_mode: Option<String>,
    #[serde(default, rename = "serviceClusterIPs")]
    pub service_cluster_ips: Vec<Cidr>,
    #[serde(default, rename = "serviceExternalIPs")]
    pub service_external_ips: Vec<Cidr>,
    #[serde(default, rename = "serviceLoadBalancerIPs")]
    pub service_load_balancer_ips: Vec<Cidr>,
    pub node_mesh_password: Option<SecretRef>,
    pub node_mesh_max_restart_time: Option<String>,
    #[serde(default)]
    pub communities: Vec<NamedCommunity>,
    #[serde(default)]
    pub prefix_advertisements: Vec<PrefixAdvertisement>,
    pub log_severity_screen: Option<String>,
    #[serde(default)]
    pub ignored_interfaces: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Cidr {
    pub cidr: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct NamedCommunity {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PrefixAdvertisement {
    pub cidr: String,
    #[serde(default)]
    pub communities: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct IpPool {
    pub metadata: Metadata,
    pub spec: IpPoolSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpPoolSpec {
    pub cidr: String,
    pub ipip_mode: Option<String>,
    pub vxlan_mode: Option<String>,
    #[serde(default, rename = "disableBGPExport")]
    pub disable_bgp_export: bool,
    #[serde(default)]
    pub disabled: bool,
    pub node_selector: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BlockAffinity {
    pub metadata: Metadata,
    pub spec: BlockAffinitySpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct BlockAffinitySpec {
    pub node: String,
    pub cidr: String,
    /// `confirmed`, `pending`, `pendingDeletion`; absent: confirmed.
    pub state: Option<String>,
    #[serde(default)]
    pub deleted: Option<serde_yaml_ng::Value>,
}

/// A Kubernetes Secret: `data` (base64) and `stringData`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub metadata: Metadata,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    #[serde(default)]
    pub string_data: BTreeMap<String, String>,
}

impl Secret {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        use base64::Engine as _;
        if let Some(v) = self.string_data.get(key) {
            return Some(v.clone());
        }
        let raw = self.data.get(key)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// A resource that cannot be read: which one, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceError {
    /// `Kind name` (or the document's place when it has no name).
    pub resource: String,
    pub message: String,
}

impl std::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.resource, self.message)
    }
}

impl Resources {
    /// Adds every resource in `text` (YAML or JSON; documents, or `List`s).
    pub fn add_text(&mut self, source: &str, text: &str) -> Result<(), ResourceError> {
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let v = Value::deserialize(doc).map_err(|e| ResourceError {
                resource: format!("{source}, document {}", i + 1),
                message: e.to_string(),
            })?;
            if v.is_null() {
                continue;
            }
            self.add_value(source, v)?;
        }
        Ok(())
    }

    fn add_value(&mut self, source: &str, v: Value) -> Result<(), ResourceError> {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let name = v
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let who = if name.is_empty() {
            format!("{kind} in {source}")
        } else {
            format!("{kind} {name}")
        };
        if kind.ends_with("List") {
            let items = v.get("items").and_then(Value::as_sequence).cloned().unwrap_or_default();
            for item in items {
                self.add_value(source, item)?;
            }
            return Ok(());
        }
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        fn typed<T: for<'de> Deserialize<'de>>(who: &str, v: Value) -> Result<T, ResourceError> {
            serde_path_to_error::deserialize(v).map_err(|e| ResourceError {
                resource: who.to_string(),
                message: match e.path().to_string().as_str() {
                    "." | "" => e.inner().to_string(),
                    path => format!("{path}: {}", e.inner()),
                },
            })
        }
        match (api, kind.as_str()) {
            ("v1", "Secret") => self.secrets.push(typed(&who, v)?),
            ("projectcalico.org/v3" | "crd.projectcalico.org/v1", _) => match kind.as_str() {
                "Node" => self.nodes.push(typed(&who, v)?),
                "BGPPeer" => self.peers.push(typed(&who, v)?),
                "BGPConfiguration" => self.configs.push(typed(&who, v)?),
                "IPPool" => self.pools.push(typed(&who, v)?),
                "BlockAffinity" => self.affinities.push(typed(&who, v)?),
                "BGPFilter" => self.filters.push(typed(&who, v)?),
                // Other Calico kinds (policies, profiles…) are not BGP's.
                _ => {}
            },
            _ => {
                return Err(ResourceError {
                    resource: who,
                    message: format!("apiVersion {api:?}: expected projectcalico.org/v3 (or v1 for a Secret)"),
                })
            }
        }
        Ok(())
    }

    /// Adds every resource of `other`.
    pub fn merge(&mut self, other: &Resources) {
        self.nodes.extend_from_slice(&other.nodes);
        self.peers.extend_from_slice(&other.peers);
        self.configs.extend_from_slice(&other.configs);
        self.pools.extend_from_slice(&other.pools);
        self.affinities.extend_from_slice(&other.affinities);
        self.secrets.extend_from_slice(&other.secrets);
        self.filters.extend_from_slice(&other.filters);
        self.workloads.extend_from_slice(&other.workloads);
    }

    /// Every resource held, as `Kind name` (how errors name them).
    pub fn names(&self) -> Vec<String> {
        let named = |kind: &str, names: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            names.map(|n| format!("{kind} {n}")).collect()
        };
        [
            named("Node", &mut self.nodes.iter().map(|x| x.metadata.name.as_str())),
            named("BGPPeer", &mut self.peers.iter().map(|x| x.metadata.name.as_str())),
            named(
                "BGPConfiguration",
                &mut self.configs.iter().map(|x| x.metadata.name.as_str()),
            ),
            named("IPPool", &mut self.pools.iter().map(|x| x.metadata.name.as_str())),
            named(
                "BlockAffinity",
                &mut self.affinities.iter().map(|x| x.metadata.name.as_str()),
            ),
            named("Secret", &mut self.secrets.iter().map(|x| x.metadata.name.as_str())),
            named("BGPFilter", &mut self.filters.iter().map(|x| x.metadata.name.as_str())),
        ]
        .concat()
    }

    pub fn config(&self, name: &str) -> Option<&BgpConfigurationSpec> {
        self.configs.iter().find(|c| c.metadata.name == name).map(|c| &c.spec)
    }

    pub fn secret(&self, r: &SecretRef) -> Option<String> {
        let k = &r.secret_key_ref;
        self.secrets.iter().find(|s| s.metadata.name == k.name)?.get(&k.key)
    }
}
