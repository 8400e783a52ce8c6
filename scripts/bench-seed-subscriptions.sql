-- Subscriptions' part of the bench seed, run with search_path set to the subscriptions schema
-- (scripts/bench-seed.sql; the report timing test in services/subscriptions/tests/it runs it too).
-- 10,000 live subscriptions (every 100th user; a tenth Enterprise), periods anchored so that none
-- renews during a run, each with its paid initial charge; 10,000 more that churned; and the MRR
-- history of all of them over the past year (about 55,000 movements).
INSERT INTO subscriptions (id, user_id, tier, status, anchor_day, current_period_start, current_period_end,
                           first_payment_deadline, created_at, updated_at, currency)
SELECT ('5' || lpad(to_hex(i), 31, '0'))::uuid, lpad(to_hex(i * 100), 32, '0')::uuid,
       CASE WHEN i % 10 = 0 THEN 'enterprise' ELSE 'pro' END, 'active', 1 + i % 28,
       date_trunc('day', now()) - (i % 25) * interval '1 day',
       date_trunc('day', now()) - (i % 25) * interval '1 day' + interval '1 month',
       now() - interval '60 days', now() - interval '60 days', now(), 'USD'
  FROM generate_series(1, 10000) AS i;
INSERT INTO charges (id, subscription_id, kind, tier, amount, currency, payment_id, status, created_at)
SELECT ('6' || lpad(to_hex(i), 31, '0'))::uuid, ('5' || lpad(to_hex(i), 31, '0'))::uuid, 'initial',
       CASE WHEN i % 10 = 0 THEN 'enterprise' ELSE 'pro' END, CASE WHEN i % 10 = 0 THEN 99 ELSE 9.99 END,
       'USD', ('7' || lpad(to_hex(i), 31, '0'))::uuid, 'succeeded', now() - interval '60 days'
  FROM generate_series(1, 10000) AS i;
-- The churned ones: users 1,000,001.. (outside the live range), canceled after 1-7 months (by now).
INSERT INTO subscriptions (id, user_id, tier, status, anchor_day, current_period_start, current_period_end,
                           first_payment_deadline, canceled_at, created_at, updated_at, currency)
SELECT ('4' || lpad(to_hex(i), 31, '0'))::uuid, lpad(to_hex(1000000 + i), 32, '0')::uuid, 'pro', 'canceled', 1,
       now() - (i % 360) * interval '1 day', now() - (i % 360) * interval '1 day' + interval '1 month',
       now() - (i % 360) * interval '1 day',
       LEAST(now() - (i % 360) * interval '1 day' + (1 + i % 7) * interval '30 days', now() - interval '1 hour'),
       now() - (i % 360) * interval '1 day', now(), 'USD'
  FROM generate_series(1, 10000) AS i;

-- History. Live ones: created and paying (Pro) some day of the past year; the Enterprise tenth
-- upgraded ten days later; every 7th Pro one went past_due and recovered a month in.
WITH live AS (
    SELECT ('5' || lpad(to_hex(i), 31, '0'))::uuid AS id, lpad(to_hex(i * 100), 32, '0')::uuid AS user_id,
           now() - (20 + i % 340) * interval '1 day' AS started, i
      FROM generate_series(1, 10000) AS i
)
INSERT INTO mrr_movements (subscription_id, user_id, occurred_at, currency, mrr_before, mrr_after, kind,
                           tier_before, status_before, tier_after, status_after)
SELECT id, user_id, started, 'USD', 0, 0, NULL, NULL, NULL, 'pro', 'incomplete' FROM live
UNION ALL
SELECT id, user_id, started + interval '1 hour', 'USD', 0, 9.99, 'new', 'pro', 'incomplete', 'pro', 'active' FROM live
UNION ALL
SELECT id, user_id, started + interval '10 days', 'USD', 9.99, 99, 'expansion', 'pro', 'active', 'enterprise', 'active'
  FROM live WHERE i % 10 = 0
UNION ALL
SELECT id, user_id, started + interval '30 days', 'USD', 9.99, 9.99, NULL, 'pro', 'active', 'pro', 'past_due'
  FROM live WHERE i % 7 = 0 AND i % 10 <> 0 AND started + interval '30 days' < now()
UNION ALL
SELECT id, user_id, started + interval '31 days', 'USD', 9.99, 9.99, NULL, 'pro', 'past_due', 'pro', 'active'
  FROM live WHERE i % 7 = 0 AND i % 10 <> 0 AND started + interval '31 days' < now();
-- Churned ones: created, paying, canceled.
INSERT INTO mrr_movements (subscription_id, user_id, occurred_at, currency, mrr_before, mrr_after, kind,
                           tier_before, status_before, tier_after, status_after)
SELECT id, user_id, created_at, 'USD', 0, 0, NULL, NULL, NULL, 'pro', 'incomplete'
  FROM subscriptions WHERE status = 'canceled'
UNION ALL
SELECT id, user_id, created_at + interval '1 hour', 'USD', 0, 9.99, 'new', 'pro', 'incomplete', 'pro', 'active'
  FROM subscriptions WHERE status = 'canceled'
UNION ALL
SELECT id, user_id, canceled_at, 'USD', 9.99, 0, 'churn', 'pro', 'active', 'pro', 'canceled'
  FROM subscriptions WHERE status = 'canceled';
