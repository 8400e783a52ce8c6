//! What webhooks holds about a user, for the data-subject export (`platform::privacy`): the
//! events it stored (to deliver and replay) whose payload names them, by id, type and time. The
//! payloads themselves are the other services' records, exported by those services; a payload
//! also names other people (an instructor, a payer), so it is not copied here.

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[Section::new(
    "events",
    "SELECT id, event_type, (payload::jsonb ->> 'time')::timestamptz AS occurred_at, received_at \
     FROM events WHERE strpos(payload, $1::text) > 0 ORDER BY received_at, id",
)];
