//! Which tier a user gets, and from where: the best of their subscription, license seats and reward months.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = EntitlementSource)]
pub enum Source {
    Subscription,
    License,
    Reward,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub tier: String,
    pub rank: i32,
    pub source: Source,
}

/// The highest-ranked candidate; Free (from no source) when there is none. On equal rank a paid
/// subscription wins over a license, and a license over a reward (the most durable source).
pub fn effective(candidates: &[Candidate]) -> Option<&Candidate> {
    let weight = |s: Source| match s {
        Source::Subscription => 2,
        Source::License => 1,
        Source::Reward => 0,
    };
    candidates.iter().max_by_key(|c| (c.rank, weight(c.source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(tier: &str, rank: i32, source: Source) -> Candidate {
        Candidate { tier: tier.into(), rank, source }
    }

    #[test]
    fn best_tier_wins_then_the_most_durable_source() {
        let all = [c("pro", 1, Source::Reward), c("enterprise", 2, Source::License), c("pro", 1, Source::Subscription)];
        assert_eq!(effective(&all).map(|c| c.source), Some(Source::License));
        let pro = [c("pro", 1, Source::Reward), c("pro", 1, Source::Subscription)];
        assert_eq!(effective(&pro).map(|c| c.source), Some(Source::Subscription));
        assert!(effective(&[]).is_none());
    }
}
