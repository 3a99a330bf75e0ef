//! 4-octet AS numbers across 2-octet sessions (RFC 6793): the AS4_PATH and
//! AS4_AGGREGATOR a NEW speaker adds beside AS_TRANS when it talks to an
//! OLD one (§4.2.2), and the path it reads back from the pair (§4.2.3).

use super::{Aggregator, AsPath, AsSegment, PathAttributes, SegmentType};
use crate::types::Asn;

fn mappable(a: Asn) -> bool {
    a.0 <= u32::from(u16::MAX)
}

impl AsPath {
    /// The AS4_PATH to send beside this path on a 2-octet session: the path
    /// itself less confederation segments (§3), only when some ASN does not
    /// fit in two octets (§4.2.2: otherwise it SHOULD NOT be sent).
    pub fn as4_path(&self) -> Option<AsPath> {
        if self.asns().all(mappable) {
            return None;
        }
        Some(AsPath {
            segments: self.segments.iter().filter(|s| !s.kind.is_confed()).cloned().collect(),
        })
    }

    /// The path an OLD speaker's AS_PATH (`self`) and AS4_PATH `as4` mean
    /// together (§4.2.3). Confederation segments in AS4_PATH are dropped
    /// (§6). When AS_PATH counts fewer ASNs than AS4_PATH, AS4_PATH is
    /// ignored; otherwise the leading ASNs of AS_PATH that AS4_PATH lacks
    /// (an OLD speaker's own additions) are put before it, with any
    /// confederation segment that leads or adjoins them.
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let as4: Vec<&AsSegment> = as4.segments.iter().filter(|s| !s.kind.is_confed()).collect();
        let as4_len: usize = as4.iter().map(|s| s.count()).sum();
        let Some(mut missing) = self.route_len().checked_sub(as4_len) else {
            return self.clone();
        };
        let mut out: Vec<AsSegment> = Vec::new();
        for s in &self.segments {
            // A confederation segment counts no ASN: it is kept while it
            // leads the path or adjoins the part taken from AS_PATH.
            if s.kind.is_confed() {
                out.push(s.clone());
                continue;
            }
            if missing == 0 {
                break;
            }
            if s.kind == SegmentType::Set || s.asns.len() <= missing {
                missing -= s.count();
                out.push(s.clone());
                continue;
            }
            // Part of a sequence: the rest of it is what AS4_PATH restates.
            out.push(AsSegment {
                kind: s.kind,
                asns: s.asns[..missing].into(),
            });
            break;
        }
        for s in as4 {
            match out.last_mut() {
                Some(last) if last.kind == SegmentType::Sequence && s.kind == SegmentType::Sequence => {
                    last.asns.extend_from_slice(&s.asns)
                }
                _ => out.push(s.clone()),
            }
        }
        AsPath { segments: out.into() }
    }
}

impl SegmentType {
    fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

impl PathAttributes {
    /// The AS path and aggregator these attributes mean, AS4_PATH and
    /// AS4_AGGREGATOR (only ever decoded on a 2-octet session) folded in as
    /// RFC 6793 §4.2.3 says: an AGGREGATOR that is not AS_TRANS means an
    /// OLD speaker aggregated after the NEW ones, and both AS4 attributes
    /// are then ignored.
    pub fn effective_as_path(&self) -> (Option<AsPath>, Option<Aggregator>) {
        let mut path = self.as_path.clone();
        let mut aggregator = self.aggregator;
        match (self.aggregator, self.as4_aggregator) {
            (Some(g), Some(_)) if g.asn != Asn::TRANS => return (path, aggregator),
            (Some(_), Some(g4)) => aggregator = Some(g4),
            _ => {}
        }
        if let (Some(p), Some(p4)) = (&self.as_path, &self.as4_path) {
            path = Some(p.merge_as4(p4));
        }
        (path, aggregator)
    }
}
