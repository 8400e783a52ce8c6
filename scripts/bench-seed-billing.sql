-- Billing's part of the bench seed, run with search_path set to the billing schema
-- (scripts/bench-seed.sql; the report timing test in services/billing/tests/it runs it too).
-- A year of payments: 60,000 subscription renewals and 60,000 course purchases, a twentieth of
-- them declined once before succeeding, a fiftieth declined and then canceled (settled: the
-- reconcile job leaves them alone), and 3,000 refunds, each with its outcome history (about
-- 130,000 outcomes).
INSERT INTO payments (id, user_id, amount, currency, purpose, reference_id, description, status,
                      stripe_payment_intent_id, receipt_number, failure_code, succeeded_at, created_at, updated_at)
SELECT ('9' || lpad(to_hex(i), 31, '0'))::uuid, lpad(to_hex(1 + i % 100000), 32, '0')::uuid,
       CASE WHEN i % 2 = 0 THEN 9.99 ELSE 10 + (i % 20) * 5 END, 'USD',
       CASE WHEN i % 2 = 0 THEN 'subscription' ELSE 'course_purchase' END, 'bench-' || i, 'Bench payment',
       CASE WHEN i % 50 = 0 THEN 'canceled' ELSE 'succeeded' END,
       'pi_bench_' || i, CASE WHEN i % 50 = 0 THEN NULL ELSE 'BENCH-' || i END,
       CASE WHEN i % 50 = 0 THEN 'insufficient_funds' END,
       CASE WHEN i % 50 = 0 THEN NULL ELSE now() - (i % 365) * interval '1 day' END,
       now() - (i % 365) * interval '1 day', now() - (i % 365) * interval '1 day'
  FROM generate_series(1, 120000) AS i;
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT id, 'failed', 1, purpose, currency, amount,
       CASE WHEN status = 'succeeded' THEN 'generic_decline' ELSE 'insufficient_funds' END,
       created_at - interval '1 hour'
  FROM payments
 WHERE stripe_payment_intent_id LIKE 'pi_bench_%'
   AND (status <> 'succeeded' OR substr(reference_id, 7)::int % 20 = 0);
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT id, 'succeeded', CASE WHEN substr(reference_id, 7)::int % 20 = 0 THEN 2 ELSE 1 END,
       purpose, currency, amount, NULL, succeeded_at
  FROM payments WHERE stripe_payment_intent_id LIKE 'pi_bench_%' AND status = 'succeeded';
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT id, 'refunded', NULL, purpose, currency, amount, NULL, succeeded_at + interval '3 days'
  FROM payments
 WHERE stripe_payment_intent_id LIKE 'pi_bench_%' AND status = 'succeeded'
   AND substr(reference_id, 7)::int % 40 = 1 AND succeeded_at + interval '3 days' < now();
