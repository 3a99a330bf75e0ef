//! Between UPDATE messages and routes: what a received UPDATE means for
//! the table, and packing outgoing changes into as few UPDATEs as the
//! attributes allow.

use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::attributes::{MpReach, MpUnreach, NextHop};
use bgp_wire::{
    Action, ClusterId, EncodeError, Family, Nlri, NlriEntry, PathAttributes, Prefix, RouterId, SessionCtx, Update,
    UpdateWriter,
};

use crate::attrs::{Rare, RouteAttrs};

/// What reflecting a route adds to its set (RFC 4456 §8), carried beside
/// the set instead of in a rewritten copy of it. A reflector's clients are
/// then sent the very set the route arrived with (one set in memory, not
/// two), and the two attributes are added as the UPDATE is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reflected {
    /// ORIGINATOR_ID: the set's own, or the peer the route came from.
    pub originator_id: RouterId,
    /// Our cluster, put in front of CLUSTER_LIST.
    pub cluster: ClusterId,
}

impl Reflected {
    /// Adds both to `a` (a set that has an ORIGINATOR_ID keeps it).
    pub fn apply(&self, a: &mut RouteAttrs) {
        a.originator_id.get_or_insert(self.originator_id);
        a.cluster_list.insert(0, self.cluster);
    }

    /// Adds both to attributes about to be written.
    fn apply_wire(&self, p: &mut PathAttributes) {
        p.originator_id.get_or_insert(self.originator_id);
        p.cluster_list.get_or_insert_with(Vec::new).insert(0, self.cluster);
    }
}

/// What a peer is sent for a route: a set, and what reflection adds to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub attrs: Arc<RouteAttrs>,
    pub reflected: Option<Reflected>,
}

impl Outgoing {
    /// A set sent as it is.
    pub fn plain(attrs: Arc<RouteAttrs>) -> Outgoing {
        Outgoing { attrs, reflected: None }
    }

    /// The whole set the peer gets, reflection's attributes included.
    pub fn resolved(&self) -> RouteAttrs {
        let mut a = (*self.attrs).clone();
        if let Some(r) = &self.reflected {
            r.apply(&mut a);
        }
        a
    }
}

/// A change to send: announce (with attributes) or withdraw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub entry: NlriEntry,
    pub attrs: Option<Arc<RouteAttrs>>,
    pub reflected: Option<Reflected>,
}

impl Change {
    pub fn announce(entry: NlriEntry, attrs: Arc<RouteAttrs>) -> Change {
        Change::send(entry, Outgoing::plain(attrs))
    }

    pub fn send(entry: NlriEntry, out: Outgoing) -> Change {
        Change {
            entry,
            attrs: Some(out.attrs),
            reflected: out.reflected,
        }
    }

    pub fn withdraw(entry: NlriEntry) -> Change {
        Change {
            entry,
            attrs: None,
            reflected: None,
        }
    }
}

/// The changes of one family, as [`pack`] takes them.
#[derive(Debug, Default)]
pub struct FamilyChanges {
    pub family: Option<Family>,
    pub announce: Vec<(NlriEntry, Arc<RouteAttrs>)>,
    pub withdraw: Vec<NlriEntry>,
}

/// Splits changes by family, keeping their order within each.
pub fn by_family(changes: impl IntoIterator<Item = Change>) -> Vec<FamilyChanges> {
    let mut out: Vec<FamilyChanges> = Vec::new();
    for c in changes {
        let f = c.entry.prefix.family();
        let i = match out.iter().position(|x| x.family == Some(f)) {
            Some(i) => i,
            None => {
                out.push(FamilyChanges {
                    family: Some(f),
                    ..FamilyChanges::default()
                });
                out.len() - 1
            }
        };
        match (c.attrs, c.reflected) {
            (Some(a), None) => out[i].announce.push((c.entry, a)),
            (Some(a), Some(r)) => {
                let out_attrs = Outgoing {
                    attrs: a,
                    reflected: Some(r),
                };
                out[i].announce.push((c.entry, Arc::new(out_attrs.resolved())));
            }
            (None, _) => out[i].withdraw.push(c.entry),
        }
    }
    out
}

/// What one received UPDATE asks of the table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub announced: Vec<(Family, NlriEntry)>,
    pub withdrawn: Vec<(Family, NlriEntry)>,
    /// Attributes of the announced routes, next hop per family.
    pub attrs_v4: Option<RouteAttrs>,
    pub attrs_mp: Option<RouteAttrs>,
}

fn base_attrs(a: &PathAttributes) -> RouteAttrs {
    // From an OLD speaker, the real path is AS_PATH and AS4_PATH together
    // (RFC 6793 §4.2.3); the table keeps only that.
    let (as_path, aggregator) = a.effective_as_path();
    RouteAttrs {
        origin: a.origin,
        as_path: as_path.unwrap_or_default(),
        next_hop: None,
        med: a.med,
        local_pref: a.local_pref,
        atomic_aggregate: a.atomic_aggregate,
        communities: a.communities.as_deref().unwrap_or_default().into(),
        originator_id: a.originator_id,
        cluster_list: a.cluster_list.as_deref().unwrap_or_default().into(),
        rare: Rare {
            aggregator,
            ext_communities: a.ext_communities.clone().unwrap_or_default(),
            large_communities: a.large_communities.clone().unwrap_or_default(),
            unknown: a.unknown.clone(),
        }
        .into(),
    }
}

/// Reads a decoded UPDATE. RFC 7606 treat-as-withdraw turns every
/// announced route into a withdrawal (§2); attribute discard has already
/// dropped the attribute in the codec.
pub fn received(u: &Update) -> Received {
    let taw = u.action() == Some(Action::TreatAsWithdraw);
    let mut r = Received {
        withdrawn: u.withdrawals().collect(),
        ..Received::default()
    };
    if taw {
        r.withdrawn.extend(u.announced());
        return r;
    }
    r.announced = u.announced().collect();
    let a = &u.attributes;
    if !u.nlri.is_empty() {
        let mut v4 = base_attrs(a);
        v4.next_hop = a.next_hop.map(IpAddr::V4);
        r.attrs_v4 = Some(v4);
    }
    if let Some(mp) = &a.mp_reach {
        let mut m = base_attrs(a);
        m.next_hop = match &mp.next_hop {
            NextHop::V4(x) => Some(IpAddr::V4(*x)),
            // RFC 2545 §3: the global address; a speaker without one (a
            // session over link-local addresses only) sends `::` and its
            // link-local address beside it.
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } if global.is_unspecified() => Some(IpAddr::V6(*ll)),
            NextHop::V6 { global, .. } => Some(IpAddr::V6(*global)),
            NextHop::Opaque(_) => None,
        };
        r.attrs_mp = Some(m);
    }
    r
}

/// The attributes of an UPDATE carrying routes with `attrs` in `family`.
pub fn path_attributes(attrs: &RouteAttrs, family: Family) -> PathAttributes {
    let mut p = PathAttributes {
        origin: attrs.origin,
        as_path: Some(attrs.as_path.clone()),
        med: attrs.med,
        local_pref: attrs.local_pref,
        atomic_aggregate: attrs.atomic_aggregate,
        aggregator: attrs.rare.aggregator,
        communities: (!attrs.communities.is_empty()).then(|| attrs.communities.to_vec()),
        originator_id: attrs.originator_id,
        cluster_list: (!attrs.cluster_list.is_empty()).then(|| attrs.cluster_list.to_vec()),
        ext_communities: (!attrs.rare.ext_communities.is_empty()).then(|| attrs.rare.ext_communities.clone()),
        large_communities: (!attrs.rare.large_communities.is_empty()).then(|| attrs.rare.large_communities.clone()),
        unknown: attrs.rare.unknown.clone(),
        ..PathAttributes::default()
    };
    match (family, attrs.next_hop) {
        (Family::IPV4_UNICAST, Some(IpAddr::V4(nh))) => p.next_hop = Some(nh),
        (_, nh) => {
            let next_hop = match nh {
                Some(IpAddr::V4(a)) => NextHop::V4(a),
                Some(IpAddr::V6(a)) => NextHop::V6 {
                    global: a,
                    link_local: None,
                },
                None => NextHop::V4(std::net::Ipv4Addr::UNSPECIFIED),
            };
            p.mp_reach = Some(MpReach {
                family,
                next_hop,
                nlri: Nlri::empty(family, false),
            });
        }
    }
    p
}

/// Writes `changes` as UPDATE messages into `buf`: withdrawals of each
/// family, then announcements grouped by attribute set, each set encoded
/// once and its prefixes packed into as few messages as fit. The order of
/// `changes` is not kept (it must not hold one NLRI entry twice).
pub fn write_changes(changes: &mut [Change], ctx: &SessionCtx, buf: &mut bytes::BytesMut) -> Result<(), EncodeError> {
    let key = |c: &Change| {
        let f = c.entry.prefix.family();
        (
            f.afi.0,
            f.safi.0,
            c.attrs.as_ref().map_or(0, |a| Arc::as_ptr(a) as usize),
            c.reflected,
        )
    };
    changes.sort_unstable_by_key(key);
    let mut w = UpdateWriter::new(buf, ctx);
    for run in changes.chunk_by(|a, b| key(a) == key(b)) {
        let family = run[0].entry.prefix.family();
        let entries = run.iter().map(|c| c.entry);
        match &run[0].attrs {
            None => w.withdraw(family, entries)?,
            Some(a) => {
                let mut p = path_attributes(a, family);
                if let Some(r) = &run[0].reflected {
                    r.apply_wire(&mut p);
                }
                w.announce(family, &p, entries)?
            }
        }
    }
    Ok(())
}

/// Bytes one NLRI entry takes.
fn entry_len(p: &Prefix, add_path: bool) -> usize {
    1 + usize::from(p.prefix_len()).div_ceil(8) + if add_path { 4 } else { 0 }
}

/// Splits `entries` into runs that fit `room` bytes each.
fn chunks(entries: &[NlriEntry], add_path: bool, room: usize) -> Vec<&[NlriEntry]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, e) in entries.iter().enumerate() {
        let n = entry_len(&e.prefix, add_path);
        if used + n > room && i > start {
            out.push(&entries[start..i]);
            start = i;
            used = 0;
        }
        used += n;
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Packs announcements (grouped by their shared attributes) and
/// withdrawals of one family into UPDATEs that fit the session's maximum
/// message size: one UPDATE per attribute set as long as it fits.
pub fn pack(
    family: Family,
    announce: &[(NlriEntry, Arc<RouteAttrs>)],
    withdraw: &[NlriEntry],
    ctx: &SessionCtx,
) -> Vec<Update> {
    let add_path = ctx.add_path(family);
    let max = ctx.max_message_len();
    let mut out = Vec::new();
    // Withdrawals first, in as few messages as fit.
    if !withdraw.is_empty() {
        let empty = Update::end_of_rib(family);
        let overhead = bgp_wire::Message::Update(Box::new(empty))
            .to_bytes(ctx)
            .map_or(30, |b| b.len());
        for run in chunks(withdraw, add_path, max.saturating_sub(overhead)) {
            let nlri = Nlri::from_entries(family, add_path, run);
            let mut u = Update::default();
            if family == Family::IPV4_UNICAST {
                u.withdrawn = nlri;
            } else {
                u.attributes.mp_unreach = Some(MpUnreach {
                    family,
                    withdrawn: nlri,
                });
            }
            out.push(u);
        }
    }
    // Group by attribute set (the interned Arc), keeping first-seen order.
    let mut groups: Vec<(Arc<RouteAttrs>, Vec<NlriEntry>)> = Vec::new();
    let mut index: HashMap<*const RouteAttrs, usize> = HashMap::new();
    for (e, a) in announce {
        let i = *index.entry(Arc::as_ptr(a)).or_insert_with(|| {
            groups.push((a.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(*e);
    }
    for (attrs, entries) in groups {
        let pa = path_attributes(&attrs, family);
        let probe = Update {
            attributes: pa.clone(),
            ..Update::default()
        };
        let Ok(head) = bgp_wire::Message::Update(Box::new(probe)).to_bytes(ctx) else {
            continue;
        };
        // One byte spare: a growing MP_REACH_NLRI may need Extended Length.
        for run in chunks(&entries, add_path, max.saturating_sub(head.len() + 1)) {
            let nlri = Nlri::from_entries(family, add_path, run);
            let mut u = Update {
                attributes: pa.clone(),
                ..Update::default()
            };
            match &mut u.attributes.mp_reach {
                Some(mp) => mp.nlri = nlri,
                None => u.nlri = nlri,
            }
            out.push(u);
        }
    }
    out
}
