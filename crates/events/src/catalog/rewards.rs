//! Events published by rewards.
//!
//! Token amounts are whole numbers of tokens (JSON integers), never money. `item` and `kind` are
//! strings rather than closed enums so a new catalogue item or ledger kind is not a breaking change
//! for consumers that only look for the values they know (subscriptions: `item == "pro_month"`).

use super::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The catalogue item that is one month of Pro: the redemption subscriptions applies (rewards
/// seeds it in its catalogue; every other item is no concern of subscriptions').
pub const PRO_MONTH: &str = "pro_month";

/// Every event type rewards publishes.
pub const TYPES: &[&str] = &[TokensAwarded::TYPE, TokensRedeemed::TYPE, TokensClawedBack::TYPE];

/// `rewards.tokens.awarded.v1`: tokens were credited, by an earning rule (`kind = "earn"`) or by an
/// admin (`kind = "award"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensAwarded {
    /// The ledger entry.
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    /// `earn` or `award`.
    pub kind: String,
    /// Tokens credited, > 0.
    pub amount: i64,
    /// The earning rule that applied (`course_purchased`, ...); absent for admin awards.
    pub rule: Option<String>,
    pub reason: String,
    /// What earned it (purchase id, review id, subscription id); absent for admin awards.
    pub reference: Option<String>,
    /// The balance after this entry (negative only while a clawback debt is being repaid).
    pub balance_after: i64,
    pub awarded_at: DateTime<Utc>,
}

impl DomainEvent for TokensAwarded {
    const TYPE: &'static str = "rewards.tokens.awarded.v1";
    const SOURCE: &'static str = "rewards";
    fn subject(&self) -> String {
        self.transaction_id.to_string()
    }
}

/// `rewards.tokens.redeemed.v1`: the user spent tokens on a catalogue item. Subscriptions applies
/// `item = "pro_month"` (one month of Pro for `user_id`); apply it once per `redemption_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensRedeemed {
    pub redemption_id: Uuid,
    pub user_id: Uuid,
    /// The catalogue item: `pro_month`, `course_voucher`, ...
    pub item: String,
    /// Tokens spent, > 0.
    pub cost: i64,
    /// The ledger entry that debited the tokens.
    pub transaction_id: Uuid,
    pub balance_after: i64,
    pub redeemed_at: DateTime<Utc>,
}

impl DomainEvent for TokensRedeemed {
    const TYPE: &'static str = "rewards.tokens.redeemed.v1";
    const SOURCE: &'static str = "rewards";
    fn subject(&self) -> String {
        self.redemption_id.to_string()
    }
}

/// `rewards.tokens.clawed_back.v1`: tokens earned by something later undone (a refunded purchase)
/// were taken back. The balance may be negative afterwards if they had been spent already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensClawedBack {
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    /// Tokens taken back, > 0.
    pub amount: i64,
    pub reason: String,
    /// What was undone (the purchase id).
    pub reference: Option<String>,
    pub balance_after: i64,
    pub clawed_back_at: DateTime<Utc>,
}

impl DomainEvent for TokensClawedBack {
    const TYPE: &'static str = "rewards.tokens.clawed_back.v1";
    const SOURCE: &'static str = "rewards";
    fn subject(&self) -> String {
        self.transaction_id.to_string()
    }
}
