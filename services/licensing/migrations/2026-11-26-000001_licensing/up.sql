-- Customer organisations. `domain` identifies the organisation (lower case, unique); business hours
-- drive the SLA clock of its P3/P4 tickets.
CREATE TABLE organizations (
    id                    UUID        PRIMARY KEY,
    name                  TEXT        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain                TEXT        NOT NULL UNIQUE CHECK (domain = lower(domain)),
    business_time_zone    TEXT        NOT NULL DEFAULT 'UTC',
    -- Minutes after local midnight; [start, end) on each business day.
    business_start_minute INT         NOT NULL DEFAULT 540 CHECK (business_start_minute BETWEEN 0 AND 1439),
    business_end_minute   INT         NOT NULL DEFAULT 1020 CHECK (business_end_minute BETWEEN 1 AND 1440),
    -- Bit 0 = Monday ... bit 6 = Sunday.
    business_days         SMALLINT    NOT NULL DEFAULT 31 CHECK (business_days BETWEEN 1 AND 127),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (business_start_minute < business_end_minute)
);

-- White-label branding, one row per organisation.
CREATE TABLE branding (
    organization_id UUID        PRIMARY KEY REFERENCES organizations (id),
    display_name    TEXT        NOT NULL,
    logo_url        TEXT        CHECK (logo_url LIKE 'https://%'),
    primary_color   TEXT        CHECK (primary_color ~ '^#[0-9A-F]{6}$'),
    secondary_color TEXT        CHECK (secondary_color ~ '^#[0-9A-F]{6}$'),
    support_email   TEXT,
    custom_domain   TEXT        UNIQUE CHECK (custom_domain = lower(custom_domain)),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The tiers a license can be sold at; each has an SLA policy below.
CREATE TABLE tiers (
    tier        TEXT PRIMARY KEY,
    description TEXT NOT NULL
);

-- SLA targets per tier and priority, in minutes. `business_hours` = counted in the organisation's
-- business hours; otherwise around the clock (24x7).
CREATE TABLE sla_policies (
    tier                   TEXT    NOT NULL REFERENCES tiers (tier),
    priority               TEXT    NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    first_response_minutes INT     NOT NULL CHECK (first_response_minutes > 0),
    resolution_minutes     INT     NOT NULL CHECK (resolution_minutes > 0),
    business_hours         BOOLEAN NOT NULL,
    PRIMARY KEY (tier, priority)
);

INSERT INTO tiers (tier, description) VALUES
    ('enterprise', 'Enterprise: every Enterprise feature, premium support'),
    ('pro', 'Pro: Pro features for a team, standard support');

INSERT INTO sla_policies (tier, priority, first_response_minutes, resolution_minutes, business_hours) VALUES
    ('enterprise', 'P1', 60, 240, FALSE),
    ('enterprise', 'P2', 240, 1440, FALSE),
    ('enterprise', 'P3', 480, 2400, TRUE),
    ('enterprise', 'P4', 1440, 4800, TRUE),
    ('pro', 'P1', 240, 1440, FALSE),
    ('pro', 'P2', 480, 2880, FALSE),
    ('pro', 'P3', 960, 4800, TRUE),
    ('pro', 'P4', 2400, 9600, TRUE);

-- Licenses. `seats_used` counts active seats; the license row is locked while it changes and the
-- CHECK is the backstop: no code path can hand out more seats than were bought.
CREATE TABLE licenses (
    id              UUID        PRIMARY KEY,
    organization_id UUID        NOT NULL REFERENCES organizations (id),
    -- Canonical form (upper case Crockford base32, no separators).
    license_key     TEXT        NOT NULL UNIQUE,
    tier            TEXT        NOT NULL REFERENCES tiers (tier),
    seats           INT         NOT NULL CHECK (seats BETWEEN 1 AND 1000000),
    seats_used      INT         NOT NULL DEFAULT 0,
    peak_seats_used INT         NOT NULL DEFAULT 0,
    -- The highest utilisation threshold (0, 75, 100) announced since usage last fell below it.
    alert_level     SMALLINT    NOT NULL DEFAULT 0 CHECK (alert_level IN (0, 75, 100)),
    status          TEXT        NOT NULL CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    starts_at       TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    status_reason   TEXT,
    status_changed_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CHECK (seats_used BETWEEN 0 AND seats),
    CHECK (peak_seats_used >= seats_used),
    CHECK (starts_at < expires_at)
);
CREATE INDEX licenses_org ON licenses (organization_id, created_at DESC, id DESC);
CREATE INDEX licenses_list ON licenses (created_at DESC, id DESC);
-- The expiry scheduler's work list.
CREATE INDEX licenses_expiring ON licenses (expires_at) WHERE status IN ('active', 'suspended');

-- Seats: a user holds at most one active seat per license; seat numbers are unique among the
-- active seats of a license. Released seats stay as history.
CREATE TABLE seats (
    id             UUID        PRIMARY KEY,
    license_id     UUID        NOT NULL REFERENCES licenses (id),
    user_id        UUID        NOT NULL,
    seat_number    INT         NOT NULL CHECK (seat_number >= 1),
    activated_at   TIMESTAMPTZ NOT NULL,
    released_at    TIMESTAMPTZ,
    release_reason TEXT        CHECK (release_reason IN ('released_by_user', 'released_by_org_admin',
                                   'released_by_admin', 'license_expired', 'license_revoked')),
    CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
CREATE UNIQUE INDEX seats_active_user ON seats (license_id, user_id) WHERE released_at IS NULL;
CREATE UNIQUE INDEX seats_active_number ON seats (license_id, seat_number) WHERE released_at IS NULL;
CREATE INDEX seats_user ON seats (user_id) WHERE released_at IS NULL;

-- Every activation and release, append-only.
CREATE TABLE usage_events (
    id          BIGSERIAL   PRIMARY KEY,
    license_id  UUID        NOT NULL REFERENCES licenses (id),
    user_id     UUID        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('activated', 'released')),
    reason      TEXT,
    seats_used  INT         NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_events_license ON usage_events (license_id, occurred_at);

-- Seats used per license and UTC day: `seats_used` at the last change or snapshot, `peak` the day's maximum.
CREATE TABLE usage_daily (
    license_id UUID NOT NULL REFERENCES licenses (id),
    day        DATE NOT NULL,
    seats_used INT  NOT NULL,
    peak       INT  NOT NULL,
    PRIMARY KEY (license_id, day),
    CHECK (peak >= seats_used)
);

-- Utilisation alerts announced (one row per upward crossing).
CREATE TABLE usage_alerts (
    id          BIGSERIAL   PRIMARY KEY,
    license_id  UUID        NOT NULL REFERENCES licenses (id),
    threshold   SMALLINT    NOT NULL CHECK (threshold IN (75, 100)),
    seats       INT         NOT NULL,
    seats_used  INT         NOT NULL,
    reached_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_alerts_license ON usage_alerts (license_id, reached_at);

-- Support tickets. The SLA policy and the organisation's calendar are copied in at creation, so a
-- later change of either never moves an open ticket's targets. Due times are recomputed on every
-- status change (NULL while the clock is paused).
CREATE TABLE tickets (
    id                          UUID        PRIMARY KEY,
    organization_id             UUID        NOT NULL REFERENCES organizations (id),
    license_id                  UUID        NOT NULL REFERENCES licenses (id),
    created_by                  UUID        NOT NULL,
    subject                     TEXT        NOT NULL,
    description                 TEXT        NOT NULL,
    priority                    TEXT        NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    status                      TEXT        NOT NULL CHECK (status IN ('open', 'waiting_on_customer',
                                                'in_progress', 'resolved', 'closed')),
    tier                        TEXT        NOT NULL,
    first_response_minutes      INT         NOT NULL,
    resolution_minutes          INT         NOT NULL,
    business_hours              BOOLEAN     NOT NULL,
    time_zone                   TEXT        NOT NULL,
    business_start_minute       INT         NOT NULL,
    business_end_minute         INT         NOT NULL,
    business_days               SMALLINT    NOT NULL,
    first_response_at           TIMESTAMPTZ,
    resolved_at                 TIMESTAMPTZ,
    closed_at                   TIMESTAMPTZ,
    first_response_due_at       TIMESTAMPTZ,
    resolution_due_at           TIMESTAMPTZ,
    first_response_breached_at  TIMESTAMPTZ,
    resolution_breached_at      TIMESTAMPTZ,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_org ON tickets (organization_id, created_at DESC, id DESC);
CREATE INDEX tickets_list ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_first_response_due ON tickets (first_response_due_at)
    WHERE first_response_at IS NULL AND first_response_breached_at IS NULL;
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at)
    WHERE resolved_at IS NULL AND resolution_breached_at IS NULL;

-- Periods during which the SLA clock stood still (waiting on the customer, resolved until reopened).
CREATE TABLE ticket_pauses (
    id         BIGSERIAL   PRIMARY KEY,
    ticket_id  UUID        NOT NULL REFERENCES tickets (id),
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX ticket_pauses_open ON ticket_pauses (ticket_id) WHERE ended_at IS NULL;

CREATE TABLE ticket_comments (
    id         UUID        PRIMARY KEY,
    ticket_id  UUID        NOT NULL REFERENCES tickets (id),
    author_id  UUID        NOT NULL,
    -- `agent` = platform support (admin); `customer` = a member of the organisation.
    author_role TEXT       NOT NULL CHECK (author_role IN ('agent', 'customer')),
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at);
