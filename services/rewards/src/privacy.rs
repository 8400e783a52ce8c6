//! What rewards holds about a user, for the data-subject export (`platform::privacy`).

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[
    Section::new("profile", "SELECT * FROM profiles WHERE user_id = $1"),
    Section::new("account", "SELECT * FROM token_balances WHERE user_id = $1"),
    // The token ledger, oldest first, with the balance after each entry.
    Section::new("ledger", "SELECT * FROM token_transactions WHERE user_id = $1 ORDER BY created_at, id")
        .omit(&["idempotency_ref"]),
    Section::new("redemptions", "SELECT * FROM redemptions WHERE user_id = $1 ORDER BY created_at, id"),
    // Not the code's hash: it identifies nothing for the person, and is the secret's stand-in.
    Section::new(
        "vouchers",
        "SELECT redemption_id, code_prefix, discount, currency, status, issued_at, expires_at, consumed_at, \
         purchase_id, reserved_at FROM vouchers WHERE user_id = $1 ORDER BY issued_at, redemption_id",
    ),
    Section::new(
        "purchase_rewards",
        "SELECT * FROM purchase_rewards WHERE user_id = $1 ORDER BY earned_at, purchase_id",
    ),
    Section::new("earning_counters", "SELECT * FROM earning_counters WHERE user_id = $1 ORDER BY day, rule_id"),
    Section::new("weekly_scores", "SELECT * FROM weekly_scores WHERE user_id = $1 ORDER BY iso_week"),
    Section::new("friends", "SELECT friend_id, since FROM friendships WHERE user_id = $1 ORDER BY since, friend_id"),
    Section::new(
        "friend_requests",
        "SELECT * FROM friend_requests WHERE requester_id = $1 OR addressee_id = $1 ORDER BY created_at",
    ),
];
