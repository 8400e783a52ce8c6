//! What subscriptions holds about a user, for the data-subject export (`platform::privacy`).

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[
    Section::new("subscriptions", "SELECT * FROM subscriptions WHERE user_id = $1 ORDER BY created_at, id")
        .omit(&["renewal_claimed_until", "trial_will_end_sent"]),
    Section::new(
        "charges",
        "SELECT c.* FROM charges c JOIN subscriptions s ON s.id = c.subscription_id WHERE s.user_id = $1 \
         ORDER BY c.created_at, c.id",
    ),
    // Every change of tier or status, with the recurring revenue before and after.
    Section::new("history", "SELECT * FROM mrr_movements WHERE user_id = $1 ORDER BY occurred_at, id"),
    // Entitlements from seats, redemptions and subscriptions.
    // Promotion codes the user redeemed (issue 20).
    Section::new("coupon_redemptions", "SELECT * FROM redemptions WHERE user_id = $1 ORDER BY redeemed_at, id"),
    // The free trials the user took (one per tier, ever).
    Section::new("trials", "SELECT * FROM trial_claims WHERE user_id = $1 ORDER BY claimed_at, tier"),
    Section::new("grants", "SELECT * FROM grants WHERE user_id = $1 ORDER BY starts_at, id").omit(&["version"]),
];
