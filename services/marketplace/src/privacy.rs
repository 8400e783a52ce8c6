//! What marketplace holds about a user, for the data-subject export (`platform::privacy`): what
//! they bought and reviewed as a learner, what they teach and earn as an instructor.

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[
    Section::new("purchases", "SELECT * FROM purchases WHERE buyer_id = $1 ORDER BY created_at, id")
        .omit(&["client_secret"]),
    Section::new("reviews", "SELECT * FROM reviews WHERE user_id = $1 ORDER BY created_at, id"),
    Section::new("review_votes", "SELECT * FROM review_votes WHERE user_id = $1 ORDER BY created_at, review_id"),
    // `search` is the catalogue's full-text index of the course, derived from its title and text.
    Section::new("courses", "SELECT * FROM courses WHERE instructor_id = $1 ORDER BY created_at, id").omit(&["search"]),
    // An instructor's share of each sale and each reversal; which buyer bought is not theirs.
    Section::new("earnings", "SELECT * FROM earnings WHERE instructor_id = $1 ORDER BY created_at, id"),
    // The admin who marked a payout paid is not the instructor's data.
    Section::new("payouts", "SELECT * FROM payouts WHERE instructor_id = $1 ORDER BY requested_at, id")
        .omit(&["paid_by"]),
];
