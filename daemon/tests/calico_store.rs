//! The datastore's keys as etcd holds them (calico.md §3.2), applied to
//! the store a `ternd --calico` node derives its configuration from: a
//! block affinity from its key, a malformed value left out by key while
//! the rest applies, puts and deletes, and `CALICO_ROUTER_ID`.

use daemon::calico::live::{hash_router_id, router_id};
use daemon::calico::store::Store;

const NODES: &str = "/calico/resources/v3/projectcalico.org/nodes/";

fn node(name: &str, v4: &str) -> (String, Vec<u8>) {
    (
        format!("{NODES}{name}"),
        format!(
            r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"{name}"}},"spec":{{"bgp":{{"ipv4Address":"{v4}"}}}}}}"#
        )
        .into_bytes(),
    )
}

fn peers(s: &mut Store, me: &str) -> Vec<String> {
    s.derive(me).unwrap().peers.iter().map(|p| p.name.clone()).collect()
}

#[test]
fn mesh_from_keys_with_puts_and_deletes() {
    let mut s = Store::default();
    s.replace(vec![node("a", "10.0.0.1/24"), node("b", "10.0.0.2/24")]);
    assert_eq!(peers(&mut s, "a"), ["Mesh_10_0_0_2"]);
    let (k, v) = node("c", "10.0.0.3/24");
    s.put(&k, &v);
    assert_eq!(peers(&mut s, "a"), ["Mesh_10_0_0_2", "Mesh_10_0_0_3"]);
    s.delete(&format!("{NODES}b"));
    assert_eq!(peers(&mut s, "a"), ["Mesh_10_0_0_3"]);
    // Kinds that are not BGP's below a watched prefix are ignored.
    s.put("/calico/resources/v3/projectcalico.org/nodes", b"{}");
    assert_eq!(s.len(), 2);
}

#[test]
fn block_affinities_from_their_keys() {
    let mut s = Store::default();
    s.replace(vec![
        node("a", "10.0.0.1/24"),
        (
            "/calico/ipam/v2/host/a/ipv4/block/192.168.7.64-26".into(),
            br#"{"state":"confirmed","deleted":false}"#.to_vec(),
        ),
        // Legacy empty value: confirmed.
        ("/calico/ipam/v2/host/a/ipv6/block/fd00:7::-122".into(), Vec::new()),
        (
            "/calico/ipam/v2/host/a/ipv4/block/192.168.8.0-26".into(),
            br#"{"state":"pending"}"#.to_vec(),
        ),
        (
            "/calico/ipam/v2/host/a/ipv4/block/192.168.9.0-26".into(),
            br#"{"state":"confirmed","deleted":true}"#.to_vec(),
        ),
    ]);
    let c = s.derive("a").unwrap();
    let statics: Vec<String> = c.statics.iter().map(|s| s.prefix.to_string()).collect();
    assert_eq!(statics, ["192.168.7.64/26", "fd00:7::/122"]);
}

#[test]
fn a_malformed_value_is_left_out_by_key_and_the_rest_applies() {
    let mut s = Store::default();
    let bad_json = format!("{NODES}x");
    let bad_field = format!("{NODES}y");
    let bad_peer = "/calico/resources/v3/projectcalico.org/bgppeers/p".to_string();
    s.replace(vec![
        node("a", "10.0.0.1/24"),
        node("b", "10.0.0.2/24"),
        (bad_json.clone(), b"{not json".to_vec()),
        node("y", "10.0.0.z/24"),
        (
            bad_peer.clone(),
            br#"{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"p"},"spec":{"peerIP":"nope"}}"#.to_vec(),
        ),
    ]);
    // Parse errors are found at once; derivation errors when derived.
    assert!(s.skipped().contains_key(&bad_json));
    assert_eq!(peers(&mut s, "a"), ["Mesh_10_0_0_2"]);
    let skipped = s.skipped();
    assert!(skipped[&bad_field].contains("spec.bgp.ipv4Address"), "{skipped:?}");
    assert!(skipped[&bad_peer].contains("spec.peerIP"), "{skipped:?}");
    // Written again, correctly: it applies.
    let (_, v) = node("y", "10.0.0.9/24");
    s.put(&bad_field, &v);
    assert_eq!(peers(&mut s, "a"), ["Mesh_10_0_0_2", "Mesh_10_0_0_9"]);
    assert!(!s.skipped().contains_key(&bad_field));
}

#[test]
fn own_node_missing_is_an_error_not_a_skip() {
    let mut s = Store::default();
    s.replace(vec![node("b", "10.0.0.2/24")]);
    let e = s.derive("a").unwrap_err();
    assert_eq!(e.resource, "Node a");
    // The node's own resource, malformed, is not dropped either.
    s.replace(vec![node("a", "10.0.0.x/24")]);
    assert!(s.derive("a").is_err());
    assert_eq!(s.len(), 1);
}

#[test]
fn calico_router_id_address_or_hash() {
    // confd's golden mesh/hash: node kube-master has router id 25.79.212.8.
    assert_eq!(hash_router_id("kube-master").to_string(), "25.79.212.8");
    let mut s = Store::default();
    s.replace(vec![node("kube-master", "10.0.0.1/24")]);
    let mut c = s.derive("kube-master").unwrap();
    router_id(&mut c, "kube-master", Some("hash")).unwrap();
    assert_eq!(c.router_id.to_string(), "25.79.212.8");
    router_id(&mut c, "kube-master", Some("10.9.9.9")).unwrap();
    assert_eq!(c.router_id.to_string(), "10.9.9.9");
    assert!(router_id(&mut c, "kube-master", Some("bogus")).is_err());
}
