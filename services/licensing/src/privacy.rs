//! What licensing holds about a user, for the data-subject export (`platform::privacy`). An
//! organisation admin is a role in the identity provider's token, not a record here: the
//! licenses in the export are those the user holds (or held) a seat on.

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[
    Section::new("seats", "SELECT * FROM seats WHERE user_id = $1 ORDER BY activated_at, id"),
    // The license key is the organisation's secret, not the member's data.
    Section::new(
        "licenses",
        "SELECT l.id, l.organization_id, o.name AS organization_name, l.tier, l.status, l.starts_at, l.expires_at \
         FROM licenses l JOIN organizations o ON o.id = l.organization_id \
         WHERE l.id IN (SELECT license_id FROM seats WHERE user_id = $1) ORDER BY l.created_at, l.id",
    ),
    Section::new("usage", "SELECT * FROM usage_events WHERE user_id = $1 ORDER BY occurred_at, id"),
    Section::new("tickets", "SELECT * FROM tickets WHERE created_by = $1 ORDER BY created_at, id"),
    // The conversation on the user's tickets and what they wrote elsewhere; agents by role only.
    Section::new(
        "ticket_comments",
        "SELECT * FROM ticket_comments WHERE author_id = $1 \
         OR ticket_id IN (SELECT id FROM tickets WHERE created_by = $1) ORDER BY created_at, id",
    )
    .omit(&["author_id"]),
];
