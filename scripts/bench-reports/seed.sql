-- Report facts at bench size for scripts/bench-reports.sh: the bench seed's 1,000,000 reward
-- accounts and 100,000 courses (scripts/bench-seed.sql), plus a year (2026) of what the reports
-- read: 600,000 sales with 30,000 refunds and their earnings, 3,000,000 ledger lines, 200,000
-- vouchers, 2,000 licenses and 100,000 support tickets.
SET synchronous_commit = off;

SET search_path TO marketplace;
ALTER TABLE courses DISABLE TRIGGER courses_search; -- the search vector is not what is timed
INSERT INTO courses (id, instructor_id, title, description, category, level, language, price, currency, status,
                     content_key, content_type, content_size, content_sha256, content_filename, created_at,
                     updated_at, published_at)
SELECT ('c' || lpad(to_hex(i), 31, '0'))::uuid, ('a' || lpad(to_hex(1 + i % 2000), 31, '0'))::uuid,
       'Course ' || i, 'A course', 'development', 'beginner', 'en', 9.99 + (i % 20) * 5, 'USD', 'published',
       'k' || i, 'application/zip', 1, repeat('0', 64), 'c.zip', '2025-06-01', '2025-06-01', '2025-06-01'
  FROM generate_series(1, 100000) AS i;
-- 600,000 sales through 2026, each course's buyers distinct; every 20th refunded 10 days later.
INSERT INTO purchases (id, course_id, buyer_id, instructor_id, price, currency, status, split_rate,
                       instructor_share, platform_share, refunded_amount, instructor_reversed, platform_reversed,
                       created_at, completed_at, updated_at)
SELECT ('f' || lpad(to_hex(i), 31, '0'))::uuid, c.id, lpad(to_hex(i), 32, '0')::uuid, c.instructor_id, c.price,
       'USD', CASE WHEN i % 20 = 0 THEN 'refunded' ELSE 'completed' END, 0.70,
       round(c.price * 0.70, 2), c.price - round(c.price * 0.70, 2),
       CASE WHEN i % 20 = 0 THEN c.price ELSE 0 END, CASE WHEN i % 20 = 0 THEN round(c.price * 0.70, 2) ELSE 0 END,
       CASE WHEN i % 20 = 0 THEN c.price - round(c.price * 0.70, 2) ELSE 0 END,
       t.at, t.at, t.at
  FROM generate_series(1, 600000) AS i
  CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01' + (i * 52.56) * interval '1 second' AS at) AS t
  JOIN courses c ON c.id = ('c' || lpad(to_hex(1 + (i::bigint * 7919) % 100000), 31, '0'))::uuid;
INSERT INTO sales_ledger (id, purchase_id, course_id, instructor_id, kind, gross, instructor_amount, platform_amount,
                          currency, occurred_at)
SELECT gen_random_uuid(), id, course_id, instructor_id, 'sale', price, instructor_share, platform_share, currency,
       completed_at FROM purchases;
INSERT INTO sales_ledger (id, purchase_id, course_id, instructor_id, kind, gross, instructor_amount, platform_amount,
                          currency, occurred_at)
SELECT gen_random_uuid(), id, course_id, instructor_id, 'refund', -refunded_amount, -instructor_reversed,
       -platform_reversed, currency, completed_at + interval '10 days'
  FROM purchases WHERE status = 'refunded';
-- Earnings: paid before November (one paid payout per instructor), available in November, pending
-- since December.
INSERT INTO payouts (id, instructor_id, amount, currency, status, requested_at, paid_at, paid_by)
SELECT ('9' || lpad(to_hex(i), 31, '0'))::uuid, ('a' || lpad(to_hex(i), 31, '0'))::uuid, 1, 'USD', 'paid',
       '2026-11-01', '2026-11-02', 'admin'
  FROM generate_series(1, 2000) AS i;
INSERT INTO earnings (id, instructor_id, purchase_id, course_id, kind, amount, currency, status, available_at,
                      payout_id, created_at)
SELECT gen_random_uuid(), p.instructor_id, p.id, p.course_id, 'sale', p.instructor_share, 'USD',
       CASE WHEN p.completed_at < '2026-11-01' THEN 'paid' WHEN p.completed_at < '2026-12-01' THEN 'available'
            ELSE 'pending' END,
       p.completed_at + interval '30 days',
       CASE WHEN p.completed_at < '2026-11-01'
            THEN ('9' || substr(p.instructor_id::text, 2))::uuid END,
       p.completed_at
  FROM purchases p;
ANALYZE courses; ANALYZE purchases; ANALYZE sales_ledger; ANALYZE earnings; ANALYZE payouts;

SET search_path TO rewards;
INSERT INTO token_balances (user_id, spendable, debt, lifetime_earned, score_reached_at, updated_at)
SELECT lpad(to_hex(i), 32, '0')::uuid, 100000, 0, 50000 - (i - 1) / 20,
       timestamptz '2026-01-01' + i * interval '1 second', now()
  FROM generate_series(1, 1000000) AS i;
-- 3,000,000 ledger lines through 2026: 60% earned, 10% awarded, 25% redeemed, 5% clawed back.
INSERT INTO token_transactions (id, user_id, kind, amount, reason, source, idempotency_ref, balance_after, created_at)
SELECT ('7' || lpad(to_hex(i), 31, '0'))::uuid, lpad(to_hex(1 + i % 1000000), 32, '0')::uuid, k.kind,
       CASE WHEN k.kind IN ('earn', 'award') THEN 30 ELSE -30 END, 'bench', 'bench', 'b' || i, 100000,
       timestamptz '2026-01-01' + (i * 10.512) * interval '1 second'
  FROM generate_series(1, 3000000) AS i
  CROSS JOIN LATERAL (SELECT CASE WHEN i % 20 < 12 THEN 'earn' WHEN i % 20 < 14 THEN 'award'
                                  WHEN i % 20 < 19 THEN 'redeem' ELSE 'clawback' END AS kind) AS k;
-- 200,000 vouchers from as many redemptions: a third used, a third expired, a third open.
INSERT INTO redemptions (id, user_id, item, cost, transaction_id, created_at)
SELECT ('6' || lpad(to_hex(n), 31, '0'))::uuid, user_id, 'course_voucher', 300, id, created_at
  FROM (SELECT row_number() OVER (ORDER BY id) AS n, id, user_id, created_at FROM token_transactions
         WHERE kind = 'redeem' ORDER BY id LIMIT 200000) AS r;
INSERT INTO vouchers (code_hash, code_prefix, redemption_id, user_id, discount, currency, status, issued_at,
                      expires_at, consumed_at, purchase_id, reserved_at)
SELECT sha256(convert_to('RW-' || r.id, 'UTF8')), 'RW-' || left(r.id::text, 4), r.id, r.user_id, 5.00, 'USD', s.status, r.created_at, r.created_at + interval '90 days',
       CASE WHEN s.status = 'consumed' THEN r.created_at + interval '3 days' END,
       CASE WHEN s.status = 'consumed' THEN gen_random_uuid() END,
       CASE WHEN s.status = 'consumed' THEN r.created_at + interval '3 days' END
  FROM redemptions r
  CROSS JOIN LATERAL (SELECT (ARRAY['consumed', 'expired', 'issued'])[1 + abs(hashtext(r.id::text)) % 3] AS status) s;
ANALYZE token_balances; ANALYZE token_transactions; ANALYZE redemptions; ANALYZE vouchers;

SET search_path TO licensing;
INSERT INTO organizations (id, name, domain, created_at)
SELECT ('b' || lpad(to_hex(i), 31, '0'))::uuid, 'Org ' || i, 'org' || i || '.example', '2025-01-01'
  FROM generate_series(1, 1000) AS i;
INSERT INTO licenses (id, organization_id, license_key_hash, license_key_prefix, tier, seats, seats_used,
                      peak_seats_used, status, starts_at, expires_at, created_at, updated_at)
SELECT ('d' || lpad(to_hex(i), 31, '0'))::uuid, ('b' || lpad(to_hex(1 + i % 1000), 31, '0'))::uuid,
       sha256(convert_to('KEY' || i, 'UTF8')), 'KEY' || lpad((i % 100)::text, 2, '0'),
       'enterprise', 50, i % 50, i % 50, (ARRAY['active', 'active', 'active', 'suspended', 'revoked', 'expired'])[1 + i % 6],
       '2026-01-01', timestamptz '2026-12-01' + (i % 365) * interval '1 day', '2026-01-01', '2026-01-01'
  FROM generate_series(1, 2000) AS i;
INSERT INTO tickets (id, organization_id, license_id, created_by, subject, description, priority, status, tier,
                     first_response_minutes, resolution_minutes, business_hours, time_zone, business_start_minute,
                     business_end_minute, business_days, first_response_breached_at, resolution_breached_at,
                     created_at, updated_at)
SELECT gen_random_uuid(), l.organization_id, l.id, gen_random_uuid(), 's', 'd', 'P' || (1 + i % 4), 'closed',
       'enterprise', 60, 240, false, 'UTC', 540, 1020, 31,
       CASE WHEN i % 13 = 0 THEN t.at + interval '2 hours' END, CASE WHEN i % 17 = 0 THEN t.at + interval '5 hours' END,
       t.at, t.at
  FROM generate_series(1, 100000) AS i
  CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01' + (i * 315.36) * interval '1 second' AS at) AS t
  JOIN licenses l ON l.id = ('d' || lpad(to_hex(1 + i % 2000), 31, '0'))::uuid;
ANALYZE organizations; ANALYZE licenses; ANALYZE tickets;
