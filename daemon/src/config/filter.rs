//! A peer's import and export rules in the file (`[[peer.import]]`,
//! `[[peer.export]]`, Calico's BGPFilter rules): read into
//! [`rib::filter`], and written back.
//!
//! ```toml
//! [[peer.export]]
//! cidr = "10.0.0.0/8"
//! match = "in"                 # equal | not-equal | in | not-in
//! prefix_length = [16, 24]     # with "in"/"not-in": lengths within the CIDR
//! source = "remote-peers"      # only routes learned from BGP peers
//! interface = "eth*"
//! peer_type = "ebgp"           # or "ibgp"
//! community = "65000:100"      # or a large one, "1:2:3"
//! as_path_prefix = [65000]
//! priority = 512
//! action = "accept"            # or "reject"
//! operations = [{ add_community = "65000:1" }, { prepend_as_path = [65001] }, { set_priority = 256 }]
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use bgp_wire::{Asn, Prefix};
use rib::filter::{Action, AnyCommunity, MatchOp, Op, PeerType, RouteFilter, Rule};
use serde::Deserialize;
use toml::Spanned;

use super::toml::{community, Errors};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    family: Option<String>,
    cidr: Option<String>,
    #[serde(rename = "match")]
    match_op: Option<String>,
    prefix_length: Option<[u8; 2]>,
    source: Option<String>,
    interface: Option<String>,
    peer_type: Option<String>,
    community: Option<String>,
    #[serde(default)]
    as_path_prefix: Vec<u32>,
    priority: Option<u32>,
    action: String,
    #[serde(default)]
    operations: Vec<RawOp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOp {
    add_community: Option<String>,
    prepend_as_path: Option<Vec<u32>>,
    set_priority: Option<u32>,
}

/// The rules of `field` (`peer.import` or `peer.export`); `None` without.
pub(super) fn rules(raw: Vec<Spanned<RawRule>>, field: &str, errs: &mut Errors) -> Option<Arc<RouteFilter>> {
    let mut out = Vec::new();
    for r in raw {
        match rule(r.get_ref()) {
            Ok(x) => out.push(x),
            Err(e) => errs.at(&r, format!("{field}: {e}")),
        }
    }
    (!out.is_empty()).then(|| Arc::new(RouteFilter { rules: out }))
}

fn any_community(s: &str) -> Result<AnyCommunity, String> {
    match community(s) {
        Some(Ok(c)) => Ok(AnyCommunity::Standard(c)),
        Some(Err(l)) => Ok(AnyCommunity::Large(l)),
        None => Err(format!("{s:?} is not a community (a:b, or a:b:c)")),
    }
}

fn rule(r: &RawRule) -> Result<Rule, String> {
    let cidr = match (&r.cidr, &r.match_op) {
        (None, None) => None,
        (Some(c), Some(m)) => {
            let p: Prefix = c.parse().map_err(|_| format!("cidr {c:?} is not a prefix"))?;
            let op = match m.as_str() {
                "equal" => MatchOp::Equal,
                "not-equal" => MatchOp::NotEqual,
                "in" => MatchOp::In,
                "not-in" => MatchOp::NotIn,
                _ => return Err(format!("match {m:?}: equal, not-equal, in or not-in")),
            };
            Some((p, op))
        }
        _ => return Err("cidr and match go together".into()),
    };
    let ipv6 = match r.family.as_deref() {
        None => cidr.is_some_and(|(p, _)| !p.is_ipv4()),
        Some("ipv4") => false,
        Some("ipv6") => true,
        Some(f) => return Err(format!("family {f:?}: ipv4 or ipv6")),
    };
    if cidr.is_some_and(|(p, _)| p.is_ipv4() == ipv6) {
        return Err("family and cidr disagree".into());
    }
    let longest = if ipv6 { 128 } else { 32 };
    let (min_len, max_len) = match (r.prefix_length, &cidr) {
        (None, _) => (None, None),
        (Some(_), None) => return Err("prefix_length needs a cidr".into()),
        (Some([lo, hi]), Some(_)) if lo > hi || hi > longest => {
            return Err(format!("prefix_length [{lo}, {hi}]: min ≤ max ≤ {longest}"))
        }
        (Some([lo, hi]), Some(_)) => (Some(lo), Some(hi)),
    };
    let action = match r.action.as_str() {
        "accept" => Action::Accept,
        "reject" => Action::Reject,
        a => return Err(format!("action {a:?}: accept or reject")),
    };
    let mut ops = Vec::new();
    for o in &r.operations {
        ops.push(match (&o.add_community, &o.prepend_as_path, o.set_priority) {
            (Some(c), None, None) => Op::AddCommunity(any_community(c)?),
            (None, Some(p), None) if !p.is_empty() && !p.contains(&0) => {
                Op::PrependAsPath(p.iter().copied().map(Asn).collect())
            }
            (None, None, Some(n)) if (1..=2_147_483_646).contains(&n) => Op::SetPriority(n),
            _ => {
                return Err(
                    "each operation is one of add_community, prepend_as_path (ASNs), set_priority (1..2147483646)"
                        .into(),
                )
            }
        });
    }
    if !ops.is_empty() && action != Action::Accept {
        return Err("operations only with action = \"accept\"".into());
    }
    Ok(Rule {
        ipv6,
        cidr,
        min_len,
        max_len,
        remote_only: match r.source.as_deref() {
            None => false,
            Some("remote-peers") => true,
            Some(s) => return Err(format!("source {s:?}: only \"remote-peers\"")),
        },
        interface: r.interface.clone(),
        peer_type: match r.peer_type.as_deref() {
            None => None,
            Some("ebgp") => Some(PeerType::Ebgp),
            Some("ibgp") => Some(PeerType::Ibgp),
            Some(t) => return Err(format!("peer_type {t:?}: ebgp or ibgp")),
        },
        community: r.community.as_deref().map(any_community).transpose()?,
        as_path_prefix: r.as_path_prefix.iter().copied().map(Asn).collect(),
        priority: r.priority,
        action,
        ops,
    })
}

fn community_text(c: &AnyCommunity) -> String {
    match c {
        AnyCommunity::Standard(c) => format!("{}:{}", c.0 >> 16, c.0 & 0xffff),
        AnyCommunity::Large(l) => format!("{}:{}:{}", l.global, l.local1, l.local2),
    }
}

fn asns(v: &[Asn]) -> String {
    let s: Vec<String> = v.iter().map(|a| a.0.to_string()).collect();
    format!("[{}]", s.join(", "))
}

/// `f`'s rules as `[[peer.FIELD]]` tables.
pub(super) fn render(o: &mut String, field: &str, f: &RouteFilter) {
    for r in &f.rules {
        let _ = write!(
            o,
            "\n[[peer.{field}]]\nfamily = \"{}\"\n",
            if r.ipv6 { "ipv6" } else { "ipv4" }
        );
        if let Some((p, op)) = &r.cidr {
            let op = match op {
                MatchOp::Equal => "equal",
                MatchOp::NotEqual => "not-equal",
                MatchOp::In => "in",
                MatchOp::NotIn => "not-in",
            };
            let _ = write!(o, "cidr = \"{p}\"\nmatch = \"{op}\"\n");
        }
        if r.min_len.is_some() || r.max_len.is_some() {
            let longest = if r.ipv6 { 128 } else { 32 };
            let lo = r.min_len.or(r.cidr.map(|c| c.0.prefix_len())).unwrap_or(0);
            let _ = writeln!(o, "prefix_length = [{lo}, {}]", r.max_len.unwrap_or(longest));
        }
        if r.remote_only {
            o.push_str("source = \"remote-peers\"\n");
        }
        if let Some(i) = &r.interface {
            let _ = writeln!(o, "interface = {}", toml::Value::String(i.clone()));
        }
        match r.peer_type {
            Some(PeerType::Ebgp) => o.push_str("peer_type = \"ebgp\"\n"),
            Some(PeerType::Ibgp) => o.push_str("peer_type = \"ibgp\"\n"),
            None => {}
        }
        if let Some(c) = &r.community {
            let _ = writeln!(o, "community = \"{}\"", community_text(c));
        }
        if !r.as_path_prefix.is_empty() {
            let _ = writeln!(o, "as_path_prefix = {}", asns(&r.as_path_prefix));
        }
        if let Some(p) = r.priority {
            let _ = writeln!(o, "priority = {p}");
        }
        let _ = writeln!(
            o,
            "action = \"{}\"",
            if r.action == Action::Accept { "accept" } else { "reject" }
        );
        if !r.ops.is_empty() {
            let ops: Vec<String> = r
                .ops
                .iter()
                .map(|op| match op {
                    Op::AddCommunity(c) => format!("{{ add_community = \"{}\" }}", community_text(c)),
                    Op::PrependAsPath(v) => format!("{{ prepend_as_path = {} }}", asns(v)),
                    Op::SetPriority(n) => format!("{{ set_priority = {n} }}"),
                })
                .collect();
            let _ = writeln!(o, "operations = [{}]", ops.join(", "));
        }
    }
}
