//! Calico's BGPFilter resource (`api/pkg/apis/projectcalico/v3/
//! bgpfilter.go`) and the import and export rules it gives a BGPPeer that
//! names it in `filters`: the named filters' rules in order, IPv4 and
//! IPv6 each for its own family, as confd chained BIRD functions.

use std::sync::Arc;

use bgp_wire::{Asn, Prefix};
use rib::filter::{Action, AnyCommunity, MatchOp, Op, PeerType, RouteFilter, Rule};
use serde::Deserialize;

use super::resources::{AsNumber, Metadata, ResourceError, Resources};

#[derive(Clone, Debug, Deserialize)]
pub struct BgpFilter {
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: BgpFilterSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpFilterSpec {
    #[serde(default, rename = "exportV4")]
    pub export_v4: Vec<BgpFilterRule>,
    #[serde(default, rename = "importV4")]
    pub import_v4: Vec<BgpFilterRule>,
    #[serde(default, rename = "exportV6")]
    pub export_v6: Vec<BgpFilterRule>,
    #[serde(default, rename = "importV6")]
    pub import_v6: Vec<BgpFilterRule>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpFilterRule {
    pub cidr: Option<String>,
    pub prefix_length: Option<PrefixLength>,
    pub source: Option<String>,
    pub interface: Option<String>,
    pub match_operator: Option<String>,
    pub peer_type: Option<String>,
    pub communities: Option<CommunityMatch>,
    #[serde(default, rename = "asPathPrefix")]
    pub as_path_prefix: Vec<AsNumber>,
    pub priority: Option<u32>,
    pub action: String,
    #[serde(default)]
    pub operations: Vec<Operation>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct PrefixLength {
    pub min: Option<u8>,
    pub max: Option<u8>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CommunityMatch {
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub add_community: Option<Value<String>>,
    #[serde(rename = "prependASPath")]
    pub prepend_as_path: Option<PrependAsPath>,
    pub set_priority: Option<Value<u32>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Value<T> {
    pub value: T,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PrependAsPath {
    pub prefix: Vec<AsNumber>,
}

fn community(who: &str, field: &str, s: &str) -> Result<AnyCommunity, ResourceError> {
    match crate::config::toml::community(s) {
        Some(Ok(c)) => Ok(AnyCommunity::Standard(c)),
        Some(Err(l)) => Ok(AnyCommunity::Large(l)),
        None => Err(bad(who, field, format!("{s:?} is not aa:nn or aa:nn:mm"))),
    }
}

fn bad(who: &str, field: &str, message: String) -> ResourceError {
    ResourceError {
        resource: who.to_string(),
        message: format!("{field}: {message}"),
    }
}

/// One rule of list `list` (`spec.exportV4`…), item `i`.
fn rule(who: &str, list: &str, i: usize, ipv6: bool, r: &BgpFilterRule) -> Result<Rule, ResourceError> {
    let at = |f: &str| format!("{list}[{i}].{f}");
    let cidr = match (&r.cidr, &r.match_operator) {
        (None, None) => None,
        (Some(c), Some(m)) => {
            let p: Prefix = c
                .parse()
                .map_err(|_| bad(who, &at("cidr"), format!("{c:?} is not a prefix")))?;
            if p.is_ipv4() == ipv6 {
                return Err(bad(who, &at("cidr"), format!("{c:?} is not of the list's family")));
            }
            let op = match m.as_str() {
                "Equal" => MatchOp::Equal,
                "NotEqual" => MatchOp::NotEqual,
                "In" => MatchOp::In,
                "NotIn" => MatchOp::NotIn,
                _ => {
                    return Err(bad(
                        who,
                        &at("matchOperator"),
                        format!("{m:?}: Equal, NotEqual, In or NotIn"),
                    ))
                }
            };
            Some((p, op))
        }
        _ => return Err(bad(who, &at("cidr"), "cidr and matchOperator go together".into())),
    };
    let longest = if ipv6 { 128 } else { 32 };
    // Both bounds, so that the rendered file says what applies.
    let (min_len, max_len) = match (r.prefix_length, &cidr) {
        (None, _) => (None, None),
        (Some(_), None) => return Err(bad(who, &at("prefixLength"), "needs a cidr".into())),
        (Some(l), Some((p, _))) => {
            let (lo, hi) = (l.min.unwrap_or(p.prefix_len()), l.max.unwrap_or(longest));
            if lo > hi || hi > longest {
                return Err(bad(
                    who,
                    &at("prefixLength"),
                    format!("min {lo}, max {hi}: min ≤ max ≤ {longest}"),
                ));
            }
            (Some(lo), Some(hi))
        }
    };
    let action = match r.action.as_str() {
        "Accept" => Action::Accept,
        "Reject" => Action::Reject,
        a => return Err(bad(who, &at("action"), format!("{a:?}: Accept or Reject"))),
    };
    let mut ops = Vec::new();
    for (j, o) in r.operations.iter().enumerate() {
        let f = at(&format!("operations[{j}]"));
        ops.push(match (&o.add_community, &o.prepend_as_path, &o.set_priority) {
            (Some(c), None, None) => Op::AddCommunity(community(who, &f, &c.value)?),
            (None, Some(p), None) if !p.prefix.is_empty() => {
                Op::PrependAsPath(p.prefix.iter().map(|a| Asn(a.0)).collect())
            }
            (None, None, Some(n)) if (1..=2_147_483_646).contains(&n.value) => Op::SetPriority(n.value),
            _ => {
                return Err(bad(
                    who,
                    &f,
                    "exactly one of addCommunity, prependASPath (a prefix), setPriority (1..2147483646)".into(),
                ))
            }
        });
    }
    if !ops.is_empty() && action != Action::Accept {
        return Err(bad(who, &at("operations"), "only with action Accept".into()));
    }
    Ok(Rule {
        ipv6,
        cidr,
        min_len,
        max_len,
        remote_only: match r.source.as_deref() {
            None | Some("") => false,
            Some("RemotePeers") => true,
            Some(s) => return Err(bad(who, &at("source"), format!("{s:?}: only RemotePeers"))),
        },
        interface: r.interface.clone().filter(|i| !i.is_empty()),
        peer_type: match r.peer_type.as_deref() {
            None | Some("") => None,
            Some("eBGP") => Some(PeerType::Ebgp),
            Some("iBGP") => Some(PeerType::Ibgp),
            Some(t) => return Err(bad(who, &at("peerType"), format!("{t:?}: eBGP or iBGP"))),
        },
        community: match &r.communities {
            None => None,
            Some(m) => match &m.values[..] {
                [one] => Some(community(who, &at("communities.values[0]"), one)?),
                _ => return Err(bad(who, &at("communities.values"), "exactly one value".into())),
            },
        },
        as_path_prefix: r.as_path_prefix.iter().map(|a| Asn(a.0)).collect(),
        priority: r.priority,
        action,
        ops,
    })
}

/// Every rule of a filter, checked (a malformed filter is an error
/// wherever it is, named by its field).
pub fn check(f: &BgpFilter) -> Result<(), ResourceError> {
    lists(f).map(|_| ())
}

/// (import, export) rules of filter `f`.
fn lists(f: &BgpFilter) -> Result<(Vec<Rule>, Vec<Rule>), ResourceError> {
    let who = format!("BGPFilter {}", f.metadata.name);
    let s = &f.spec;
    let read = |lists: [(&str, bool, &Vec<BgpFilterRule>); 2]| -> Result<Vec<Rule>, ResourceError> {
        let mut out = Vec::new();
        for (list, ipv6, rules) in lists {
            for (i, r) in rules.iter().enumerate() {
                out.push(rule(&who, list, i, ipv6, r)?);
            }
        }
        Ok(out)
    };
    Ok((
        read([
            ("spec.importV4", false, &s.import_v4),
            ("spec.importV6", true, &s.import_v6),
        ])?,
        read([
            ("spec.exportV4", false, &s.export_v4),
            ("spec.exportV6", true, &s.export_v6),
        ])?,
    ))
}

/// A peer's (import, export) rules; `None` where there are none.
pub type PeerRules = (Option<Arc<RouteFilter>>, Option<Arc<RouteFilter>>);

/// The import and export rules of the filters named (a BGPPeer's
/// `spec.filters`), in order; a name with no BGPFilter is the peer's error.
pub fn rules(r: &Resources, who: &str, names: &[String]) -> Result<PeerRules, ResourceError> {
    let mut import = Vec::new();
    let mut export = Vec::new();
    for n in names {
        let Some(f) = r.filters.iter().find(|f| f.metadata.name == *n) else {
            return Err(bad(who, "spec.filters", format!("no BGPFilter {n:?}")));
        };
        let (i, e) = lists(f)?;
        import.extend(i);
        export.extend(e);
    }
    let wrap = |rules: Vec<Rule>| (!rules.is_empty()).then(|| Arc::new(RouteFilter { rules }));
    Ok((wrap(import), wrap(export)))
}
