//! Domain types shared by every layer: tiers, sensitivity levels and sets of
//! tiers. They are parsed once at the config or request boundary; inside the
//! crate an invalid tier or level cannot exist. Nothing here does I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a backend runs, which decides what data it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Hardware the organisation controls.
    Local,
    /// A cloud tenancy with contractual data controls (Azure OpenAI, Bedrock, Vertex).
    PrivateCloud,
    /// Shared public APIs.
    PublicCloud,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Local, Tier::PrivateCloud, Tier::PublicCloud];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::PrivateCloud => "private_cloud",
            Tier::PublicCloud => "public_cloud",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Tier::Local => 1,
            Tier::PrivateCloud => 2,
            Tier::PublicCloud => 4,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sensitive a request is. Ordered: `Public < Internal < Confidential < Restricted`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    Public,
    Internal,
    Confidential,
    Restricted,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Public,
        Level::Internal,
        Level::Confidential,
        Level::Restricted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Public => "public",
            Level::Internal => "internal",
            Level::Confidential => "confidential",
            Level::Restricted => "restricted",
        }
    }

    /// Parses a level name as written in config or headers (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of tiers, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TierSet(u8);

impl TierSet {
    pub const EMPTY: TierSet = TierSet(0);

    pub fn insert(&mut self, tier: Tier) {
        self.0 |= tier.bit();
    }

    pub fn contains(self, tier: Tier) -> bool {
        self.0 & tier.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_subset_of(self, other: TierSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Tier> {
        Tier::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl FromIterator<Tier> for TierSet {
    fn from_iter<I: IntoIterator<Item = Tier>>(iter: I) -> Self {
        let mut set = TierSet::EMPTY;
        for t in iter {
            set.insert(t);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Level::Public < Level::Internal);
        assert!(Level::Internal < Level::Confidential);
        assert!(Level::Confidential < Level::Restricted);
    }

    #[test]
    fn level_parse_is_case_insensitive_and_strict() {
        assert_eq!(Level::parse("Restricted"), Some(Level::Restricted));
        assert_eq!(Level::parse(" internal "), Some(Level::Internal));
        assert_eq!(Level::parse("secret"), None);
        assert_eq!(Level::parse(""), None);
    }

    #[test]
    fn tier_set_subset() {
        let local: TierSet = [Tier::Local].into_iter().collect();
        let all: TierSet = Tier::ALL.into_iter().collect();
        assert!(local.is_subset_of(all));
        assert!(!all.is_subset_of(local));
        assert!(TierSet::EMPTY.is_subset_of(local));
        assert_eq!(all.iter().count(), 3);
    }
}
