//! Per-session prefix limits (RFC 4486 §4): crossing one is reported
//! once per session, with the family and the count, and only routes held
//! count (a withdrawn or rejected route does not).

mod net;

use bgp_wire::Family;
use net::*;
use rib::{LimitEvent, PeerId};

#[test]
fn crossing_the_limit_is_reported_once_per_session() {
    let mut net = Net::new();
    net.max_prefixes = Some(2);
    net.up(1, true, false);
    net.max_prefixes = None;
    net.up(2, true, false);
    net.announce(1, &["10.1.0.0/24", "10.2.0.0/24"], 65001, 1, None);
    net.round();
    assert!(net.e.take_limit_events().is_empty(), "at the limit is not over it");
    // Replacing a route keeps the count.
    net.announce(1, &["10.2.0.0/24"], 65001, 2, None);
    net.round();
    assert!(net.e.take_limit_events().is_empty());
    net.announce(1, &["10.3.0.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(
        net.e.take_limit_events(),
        [LimitEvent {
            peer: PeerId(1),
            family: Family::IPV4_UNICAST,
            count: 3,
            limit: 2
        }]
    );
    net.announce(1, &["10.4.0.0/24"], 65001, 1, None);
    net.round();
    assert!(net.e.take_limit_events().is_empty(), "once per session");
    // A peer without a limit is never reported.
    net.announce(2, &["10.5.0.0/24", "10.6.0.0/24", "10.7.0.0/24"], 65002, 1, None);
    net.round();
    assert!(net.e.take_limit_events().is_empty());
    // A new session counts afresh.
    net.down(1);
    net.max_prefixes = Some(2);
    net.up(1, true, false);
    net.announce(1, &["10.1.0.0/24"], 65001, 1, None);
    net.round();
    assert!(net.e.take_limit_events().is_empty());
    net.announce(1, &["10.2.0.0/24", "10.3.0.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.e.take_limit_events().len(), 1);
}
