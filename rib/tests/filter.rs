//! Per-peer import and export rules (Calico's BGPFilter) as sessions see
//! them: what a peer is sent, and what we keep of what it sends.

mod net;

use std::sync::Arc;

use bgp_wire::attributes::{Community, LargeCommunity};
use bgp_wire::Asn;
use net::*;
use rib::filter::{Action, AnyCommunity, MatchOp, Op, PeerType, RouteFilter, Rule};
use rib::{PeerId, PeerPolicy, PrefixFilter};

fn rule(cidr: &str, op: MatchOp, action: Action) -> Rule {
    let c = p(cidr);
    Rule {
        ipv6: !c.is_ipv4(),
        cidr: Some((c, op)),
        min_len: None,
        max_len: None,
        remote_only: false,
        interface: None,
        peer_type: None,
        community: None,
        as_path_prefix: Vec::new(),
        priority: None,
        action,
        ops: Vec::new(),
    }
}

fn rules(r: Vec<Rule>) -> Option<Arc<RouteFilter>> {
    Some(Arc::new(RouteFilter { rules: r }))
}

#[test]
fn an_export_rule_rejects_for_its_peer_only() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.rules = (None, rules(vec![rule("10.1.0.0/16", MatchOp::In, Action::Reject)]));
    net.up(2, true, false);
    net.rules = (None, None);
    net.up(3, true, false);
    net.announce(1, &["10.1.1.0/24", "10.2.0.0/24", "10.1.0.0/16"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2), ["10.2.0.0/24"]);
    assert_eq!(net.held(3), ["10.1.0.0/16", "10.1.1.0/24", "10.2.0.0/24"]);
}

#[test]
fn match_operators_and_prefix_lengths() {
    let mut net = Net::new();
    net.up(1, true, false);
    // Only /24 to /28 within 10.0.0.0/8 are refused; Equal and NotIn.
    let mut within = rule("10.0.0.0/8", MatchOp::In, Action::Reject);
    (within.min_len, within.max_len) = (Some(24), Some(28));
    net.rules = (None, rules(vec![within]));
    net.up(2, true, false);
    net.rules = (None, rules(vec![rule("10.9.0.0/16", MatchOp::Equal, Action::Reject)]));
    net.up(3, true, false);
    net.rules = (None, rules(vec![rule("10.0.0.0/8", MatchOp::NotIn, Action::Reject)]));
    net.up(4, true, false);
    net.announce(
        1,
        &["10.9.0.0/16", "10.9.1.0/24", "10.9.1.0/30", "192.0.2.0/24"],
        65001,
        1,
        None,
    );
    net.round();
    assert_eq!(net.held(2), ["10.9.0.0/16", "10.9.1.0/30", "192.0.2.0/24"]);
    assert_eq!(net.held(3), ["10.9.1.0/24", "10.9.1.0/30", "192.0.2.0/24"]);
    assert_eq!(net.held(4), ["10.9.0.0/16", "10.9.1.0/24", "10.9.1.0/30"]);
}

#[test]
fn the_first_matching_rule_decides_and_its_operations_apply() {
    let mut net = Net::new();
    net.up(1, true, false);
    let mut accept = rule("10.1.1.0/24", MatchOp::Equal, Action::Accept);
    accept.ops = vec![
        Op::AddCommunity(AnyCommunity::Standard(Community(65000 << 16 | 7))),
        Op::AddCommunity(AnyCommunity::Large(LargeCommunity {
            global: 1,
            local1: 2,
            local2: 3,
        })),
        Op::PrependAsPath(vec![Asn(65100), Asn(65101)]),
        Op::SetPriority(256),
    ];
    // The accept comes first: the reject after it never sees 10.1.1.0/24.
    net.rules = (
        None,
        rules(vec![accept, rule("10.1.0.0/16", MatchOp::In, Action::Reject)]),
    );
    net.up(2, false, false);
    net.announce(1, &["10.1.1.0/24", "10.1.2.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2), ["10.1.1.0/24"]);
    let a = &net.got(2).held[&(p("10.1.1.0/24"), None)];
    assert_eq!(a.as_path.to_string(), "65100 65101 65001");
    assert!(a.communities.contains(&Community(65000 << 16 | 7)));
    assert_eq!(a.rare.large_communities.len(), 1);
    // Calico's priority travels in LOCAL_PREF: 2^31 - 1 - 256.
    assert_eq!(a.local_pref, Some(2_147_483_391));
}

#[test]
fn towards_ebgp_a_prepend_follows_our_own_as() {
    let mut net = Net::new();
    net.up(1, true, false);
    let mut accept = rule("10.1.0.0/16", MatchOp::In, Action::Accept);
    accept.ops = vec![Op::PrependAsPath(vec![Asn(65100)])];
    net.rules = (None, rules(vec![accept]));
    net.up(2, true, false);
    net.announce(1, &["10.1.1.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.path(2, "10.1.1.0/24").unwrap(), format!("{US} 65100 65001"));
}

#[test]
fn an_accepting_rule_exports_past_the_pools() {
    let mut net = Net::with(
        None,
        PrefixFilter {
            pools: vec![p("192.168.0.0/16")],
            ..PrefixFilter::default()
        },
    );
    net.up(1, true, false);
    net.rules = (None, rules(vec![rule("10.5.0.0/16", MatchOp::In, Action::Accept)]));
    net.up(2, true, false);
    net.rules = (None, None);
    net.up(3, true, false);
    net.announce(1, &["10.5.1.0/24", "10.6.1.0/24", "192.168.1.0/26"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2), ["10.5.1.0/24", "192.168.1.0/26"]);
    assert_eq!(net.held(3), ["192.168.1.0/26"]);
}

#[test]
fn import_rules_drop_or_change_what_a_peer_sends() {
    let mut net = Net::new();
    let mut tag = rule("10.2.0.0/16", MatchOp::In, Action::Accept);
    tag.ops = vec![Op::AddCommunity(AnyCommunity::Standard(Community(65000 << 16 | 9)))];
    net.rules = (rules(vec![rule("10.1.0.0/16", MatchOp::In, Action::Reject), tag]), None);
    net.up(1, true, false);
    net.rules = (None, None);
    net.up(2, true, false);
    net.announce(1, &["10.1.1.0/24", "10.2.1.0/24", "10.3.1.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2), ["10.2.1.0/24", "10.3.1.0/24"]);
    let a = &net.got(2).held[&(p("10.2.1.0/24"), None)];
    assert!(a.communities.contains(&Community(65000 << 16 | 9)));
    assert!(
        net.e.table().best(&p("10.1.1.0/24")).is_none(),
        "rejected on import: not in the table"
    );
}

#[test]
fn peer_type_community_and_as_path_prefix() {
    let mut net = Net::new();
    let base = || {
        let mut r = rule("0.0.0.0/0", MatchOp::In, Action::Reject);
        r.cidr = None;
        r
    };
    net.up(1, true, false);
    let mut ebgp_only = base();
    ebgp_only.peer_type = Some(PeerType::Ebgp);
    ebgp_only.community = Some(AnyCommunity::Standard(Community(65000 << 16 | 1)));
    net.rules = (None, rules(vec![ebgp_only.clone()]));
    net.up(2, true, false);
    net.up(3, false, false);
    let mut by_path = base();
    by_path.as_path_prefix = vec![Asn(65001), Asn(65001)];
    net.rules = (None, rules(vec![by_path]));
    net.up(4, true, false);
    net.announce_with(1, &["10.1.0.0/24"], 65001, 1, None, |a| {
        a.communities.push(Community(65000 << 16 | 1))
    });
    net.announce(1, &["10.2.0.0/24"], 65001, 2, None);
    net.round();
    // eBGP peer 2 refuses the tagged route; iBGP peer 3 with the same
    // rules gets it; peer 4 refuses paths starting 65001 65001.
    assert_eq!(net.held(2), ["10.2.0.0/24"]);
    assert_eq!(net.held(3), ["10.1.0.0/24", "10.2.0.0/24"]);
    assert_eq!(net.held(4), ["10.1.0.0/24"]);
}

#[test]
fn interface_and_source_match_kernel_routes_by_device() {
    let mut net = Net::with(
        None,
        PrefixFilter {
            pools: vec![p("192.168.0.0/16")],
            ..PrefixFilter::default()
        },
    );
    let mut cali = rule("0.0.0.0/0", MatchOp::In, Action::Accept);
    cali.cidr = None;
    cali.interface = Some("cali*".into());
    let mut remote = rule("0.0.0.0/0", MatchOp::In, Action::Reject);
    remote.cidr = None;
    remote.remote_only = true;
    net.rules = (None, rules(vec![cali, remote]));
    net.up(2, true, false);
    net.up(1, true, false);
    let now = net.now;
    net.e.add_kernel(p("10.7.0.5/32"), Some("cali12ab"), now);
    net.e.add_kernel(p("10.8.0.0/24"), Some("eth0"), now);
    net.announce(1, &["192.168.5.0/26"], 65001, 1, None);
    net.round();
    // The workload's device matches; eth0's route is outside the pools;
    // BGP routes are refused by source.
    assert_eq!(net.held(2), ["10.7.0.5/32"]);
    // The device's route goes, and its source with it.
    net.e.remove_kernel(&p("10.7.0.5/32"), now);
    net.round();
    assert!(net.held(2).is_empty());
}

#[test]
fn new_export_rules_apply_without_a_new_session() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.1.1.0/24", "10.2.0.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2).len(), 2);
    let now = net.now;
    net.e.set_peer_policy(
        PeerId(2),
        PeerPolicy {
            export: rules(vec![rule("10.1.0.0/16", MatchOp::In, Action::Reject)]),
            ..PeerPolicy::default()
        },
        now,
    );
    net.deliver();
    assert_eq!(net.held(2), ["10.2.0.0/24"]);
    assert_eq!(net.got(2).withdrawn, 1);
}
