//! Sorted set value: members with double scores, ordered by (score, member).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::dict::Dict;
use crate::value::Bytes;

/// A score ordered totally (scores are never NaN inside a sorted set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set.
#[derive(Default)]
pub struct ZSetValue {
    scores: Dict<Bytes, f64>,
    order: BTreeSet<(Score, Bytes)>,
}

impl ZSetValue {
    /// An empty sorted set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    /// Sets a member's score; true when the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let old = self.scores.insert(member.into(), score);
        if let Some(old) = old {
            self.order.remove(&(Score(old), Bytes::from(member)));
        }
        self.order.insert((Score(score), member.into()));
        old.is_none()
    }
    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }
    /// Removes a member; true when it existed.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some((k, s)) => {
                self.order.remove(&(Score(s), k));
                true
            }
            None => false,
        }
    }
    /// (member, score) in ascending score order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.order.iter().map(|(s, m)| (&m[..], s.0))
    }
    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        "skiplist"
    }
}
