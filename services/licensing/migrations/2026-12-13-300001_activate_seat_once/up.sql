-- A seat activation as ONE statement (issue 22): the idempotency claim, the license's row lock,
-- the checks, the lowest free seat number, the seat, the usage rows, the utilisation alerts, the
-- outbox rows and the idempotency record, in one round trip and one commit (routes::seats::activate
-- through store::activation). It used to be about fifteen round trips, all of them under the
-- license's row lock, which is what bounds one license's activations per second.
--
-- Everything that does not depend on the license row is built by the caller: the seat's id, the
-- events' envelopes (SeatActivated, and one UsageThresholdReached per threshold in p_thresholds,
-- the list domain::usage::THRESHOLDS) and the answer (ActivationView), as serde writes them; this
-- function fills in the fields that come from the license. p_scope NULL: no Idempotency-Key, so
-- no claim and no record (activation is naturally idempotent: a second call finds the seat).
--
-- Outcomes: 'stored' (response_status 201 for a new seat, 200 for the one the user already
-- holds) | 'replayed' | 'in_progress' | 'reused' (platform) | 'license_not_found' | 'unusable'
-- (response_body: status, starts_at, expires_at; domain::license::check_usable names the reason)
-- | 'seat_limit_reached'. Every refusal returns before the first write, so it changes nothing.

-- A timestamp as chrono's serde writes a DateTime<Utc> (RFC 3339 in UTC), whatever the session's
-- TimeZone, so the fields filled in here parse like the rest of the envelope.
CREATE FUNCTION utc_rfc3339(p_at TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION activate_seat_once(
    p_scope TEXT, p_key TEXT, p_hash TEXT,
    p_key_hashes BYTEA[], p_user UUID, p_at TIMESTAMPTZ, p_seat_id UUID,
    p_event_id UUID, p_envelope TEXT,
    p_thresholds SMALLINT[], p_threshold_event_ids UUID[], p_threshold_envelopes TEXT[],
    p_answer JSONB)
RETURNS JSONB LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    claim JSONB;
    lic licenses%ROWTYPE;
    held seats%ROWTYPE;
    seat_no INT;
    highest INT;
    used INT;
    reached SMALLINT := 0;
    version BIGINT;
    license_fields JSONB;
    answer JSONB;
    env JSONB;
    answer_status SMALLINT;
BEGIN
    IF p_scope IS NOT NULL THEN
        claim := idempotency_claim(p_scope, p_key, p_hash);
        IF claim->>'outcome' <> 'new' THEN
            RETURN claim;
        END IF;
    END IF;
    -- Only keyed hashes are stored: p_key_hashes is the key's hash under every configured hash
    -- key, the current one first. The lock serialises one license's activations: the seat count
    -- is checked and bumped while no one else can. Each later statement sees what the previous
    -- holder committed (a VOLATILE function takes a fresh snapshot per statement).
    SELECT * INTO lic FROM licenses l WHERE l.license_key_hash = ANY (p_key_hashes) LIMIT 1 FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'license_not_found');
    END IF;
    -- Usable: what domain::license::check_usable accepts (it names the reason for the caller).
    IF NOT (lic.status = 'active' AND p_at >= lic.starts_at AND p_at < lic.expires_at) THEN
        RETURN jsonb_build_object('outcome', 'unusable', 'response_body', jsonb_build_object(
            'status', lic.status, 'starts_at', utc_rfc3339(lic.starts_at),
            'expires_at', utc_rfc3339(lic.expires_at)));
    END IF;
    license_fields := jsonb_build_object('organization_id', lic.organization_id, 'tier', lic.tier,
                                         'expires_at', utc_rfc3339(lic.expires_at));
    SELECT * INTO held FROM seats s WHERE s.license_id = lic.id AND s.user_id = p_user AND s.released_at IS NULL;
    IF FOUND THEN
        answer := p_answer || license_fields || jsonb_build_object('created', false, 'seat',
            (p_answer->'seat') || jsonb_build_object('id', held.id, 'license_id', lic.id,
                'seat_number', held.seat_number, 'activated_at', utc_rfc3339(held.activated_at)));
        answer_status := 200;
    ELSE
        IF lic.seats_used >= lic.seats THEN
            RETURN jsonb_build_object('outcome', 'seat_limit_reached');
        END IF;
        -- The lowest free seat number. Without holes (no seat released since the numbers were
        -- last filled) that is highest + 1, read off the seats_active_number index; with holes,
        -- it is 1 or the number after a taken one.
        SELECT max(s.seat_number) INTO highest FROM seats s WHERE s.license_id = lic.id AND s.released_at IS NULL;
        highest := COALESCE(highest, 0);
        IF highest = lic.seats_used AND highest < lic.seats THEN
            seat_no := highest + 1;
        ELSE
            SELECT c.n INTO seat_no
              FROM (SELECT 1 AS n UNION ALL
                    SELECT s.seat_number + 1 FROM seats s WHERE s.license_id = lic.id AND s.released_at IS NULL) c
             WHERE c.n <= lic.seats
               AND NOT EXISTS (SELECT 1 FROM seats t
                                WHERE t.license_id = lic.id AND t.released_at IS NULL AND t.seat_number = c.n)
             ORDER BY c.n LIMIT 1;
            IF seat_no IS NULL THEN
                RETURN jsonb_build_object('outcome', 'seat_limit_reached');
            END IF;
        END IF;
        used := lic.seats_used + 1;
        INSERT INTO seats (id, license_id, user_id, seat_number, activated_at)
        VALUES (p_seat_id, lic.id, p_user, seat_no, p_at);
        -- The highest threshold reached (domain::usage::level, in the same integer math): an
        -- alert for each one crossed upward since the level last announced.
        SELECT COALESCE(max(t), 0) INTO reached FROM unnest(p_thresholds) t
         WHERE used::BIGINT * 100 >= t::BIGINT * lic.seats;
        -- The counter (its CHECK is the last line of defence), the announced level and the
        -- license's next version (every seat event carries it) in one row update.
        UPDATE licenses l
           SET seats_used = used, peak_seats_used = GREATEST(l.peak_seats_used, used), updated_at = p_at,
               alert_level = reached, license_version = l.license_version + 1,
               -- Matched under a previous hash key: move it to the current one while we hold it.
               license_key_hash = p_key_hashes[1]
         WHERE l.id = lic.id
        RETURNING l.license_version INTO version;
        INSERT INTO usage_events (license_id, user_id, kind, reason, seats_used, occurred_at)
        VALUES (lic.id, p_user, 'activated', NULL, used, p_at);
        -- The day's row; the first change of a day also counts the level it started at.
        INSERT INTO usage_daily AS d (license_id, day, seats_used, peak)
        VALUES (lic.id, (p_at AT TIME ZONE 'UTC')::DATE, used, GREATEST(lic.seats_used, used))
        ON CONFLICT (license_id, day) DO UPDATE
           SET seats_used = excluded.seats_used, peak = GREATEST(d.peak, excluded.seats_used);
        FOR i IN 1 .. COALESCE(array_length(p_thresholds, 1), 0) LOOP
            IF p_thresholds[i] > lic.alert_level AND p_thresholds[i] <= reached THEN
                INSERT INTO usage_alerts (license_id, threshold, seats, seats_used, reached_at)
                VALUES (lic.id, p_thresholds[i], lic.seats, used, p_at);
                env := p_threshold_envelopes[i]::JSONB;
                INSERT INTO outbox (event_id, event_type, envelope)
                VALUES (p_threshold_event_ids[i], env->>'type',
                        (env || jsonb_build_object('subject', lic.id::TEXT, 'data', (env->'data')
                            || jsonb_build_object('license_id', lic.id, 'organization_id', lic.organization_id,
                                                  'seats', lic.seats, 'seats_used', used)))::TEXT);
            END IF;
        END LOOP;
        env := p_envelope::JSONB;
        INSERT INTO outbox (event_id, event_type, envelope)
        VALUES (p_event_id, env->>'type',
                (env || jsonb_build_object('subject', lic.id::TEXT, 'data', (env->'data') || license_fields
                    || jsonb_build_object('license_id', lic.id, 'seat_number', seat_no,
                                          'license_version', version)))::TEXT);
        answer := p_answer || license_fields || jsonb_build_object('created', true, 'seat',
            (p_answer->'seat') || jsonb_build_object('license_id', lic.id, 'seat_number', seat_no));
        answer_status := 201;
    END IF;
    -- A user who already holds a seat on a license matched under a previous hash key: the key
    -- still moves to the current one (the new-seat branch did it in its update).
    IF answer_status = 200 AND lic.license_key_hash <> p_key_hashes[1] THEN
        UPDATE licenses l SET license_key_hash = p_key_hashes[1] WHERE l.id = lic.id;
    END IF;
    IF p_scope IS NULL THEN
        RETURN jsonb_build_object('outcome', 'stored', 'response_status', answer_status, 'response_body', answer);
    END IF;
    RETURN idempotency_record(p_scope, p_key, p_hash, answer_status, answer);
END $$;
