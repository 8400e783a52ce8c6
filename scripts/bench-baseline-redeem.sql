-- pgbench script for `make bench`'s physical-limit baseline (scenario pg-redeem): the durable rows
-- one course-voucher redemption leaves behind (guarded balance debit, ledger entry, redemption,
-- voucher, outbox row already marked published, the consumer's inbox row, the idempotency record),
-- written as ONE statement and ONE commit. What the services do per redemption today takes more
-- round trips and commits; the write scenarios are reported as a share of this rate.
-- The outbox insert fires the same statement trigger as a service's (outbox_notify): it checks for
-- pending rows like a real write, and, its row being published already, sends no NOTIFY (events
-- migration 2026-12-13-300002), as a real write with a busy relay mostly does not either. Before
-- that it notified on every commit and took PostgreSQL's database-wide NOTIFY lock each time,
-- which held the baseline below the database's limit.
-- Users: the bench's redeemers (bench/src/ids.rs REDEEMERS), lpad(to_hex(n), 32, '0')::uuid.
\set n random(100001, 200000)
WITH u AS (
    SELECT lpad(to_hex(:n), 32, '0')::uuid AS user_id, gen_random_uuid() AS redemption_id,
           gen_random_uuid() AS tx_id, gen_random_uuid() AS event_id, now() AS at
), debit AS (
    UPDATE rewards.token_balances b SET spendable = b.spendable - 300, updated_at = u.at
      FROM u WHERE b.user_id = u.user_id AND b.spendable >= 300 AND b.debt = 0
    RETURNING b.balance
), ledger AS (
    INSERT INTO rewards.token_transactions (id, user_id, kind, amount, reason, reference, source, idempotency_ref,
                                            rule, balance_after, created_at)
    SELECT u.tx_id, u.user_id, 'redeem', -300, 'Redeemed: A 5.00 USD course voucher', u.redemption_id::text,
           'redemption', u.redemption_id::text, NULL, debit.balance, u.at
      FROM u, debit
), redemption AS (
    INSERT INTO rewards.redemptions (id, user_id, item, cost, transaction_id, created_at)
    SELECT u.redemption_id, u.user_id, 'course_voucher', 300, u.tx_id, u.at FROM u, debit
), voucher AS (
    INSERT INTO rewards.vouchers (code_hash, code_prefix, redemption_id, user_id, discount, currency, status, issued_at,
                                  expires_at)
    SELECT sha256(convert_to(u.redemption_id::text, 'UTF8')), 'RW-' || upper(substr(md5(u.redemption_id::text), 1, 4)),
           u.redemption_id, u.user_id, 5.00, 'USD',
           'issued', u.at, u.at + interval '90 days'
      FROM u, debit
), outbox AS (
    INSERT INTO rewards.outbox (event_id, event_type, envelope, created_at, published_at)
    SELECT u.event_id, 'rewards.tokens.redeemed.v1',
           json_build_object('specversion', '1.0', 'id', u.event_id, 'source', 'rewards',
                             'type', 'rewards.tokens.redeemed.v1', 'time', u.at,
                             'traceparent', '00-' || md5(u.event_id::text) || '-' || substr(md5(u.tx_id::text), 1, 16) || '-01',
                             'datacontenttype', 'application/json',
                             'data', json_build_object('redemption_id', u.redemption_id, 'user_id', u.user_id,
                                                       'item', 'course_voucher', 'cost', 300,
                                                       'transaction_id', u.tx_id, 'balance_after', debit.balance,
                                                       'redeemed_at', u.at))::text,
           u.at, u.at
      FROM u, debit
), inbox AS (
    INSERT INTO rewards.inbox (event_id, consumer, event_type, processed_at)
    SELECT u.event_id, 'bench-baseline', 'rewards.tokens.redeemed.v1', u.at FROM u, debit
)
INSERT INTO rewards.idempotency_keys (scope, key, request_hash, response_status, response_body, created_at)
SELECT 'redeem:' || u.user_id, u.redemption_id::text, md5(u.user_id::text || 'course_voucher'), 201,
       jsonb_build_object('redemption_id', u.redemption_id, 'item', 'course_voucher', 'cost', 300,
                          'balance', debit.balance, 'transaction_id', u.tx_id,
                          'voucher', jsonb_build_object('code_prefix', 'RW-' || upper(substr(md5(u.redemption_id::text), 1, 4)),
                                                        'discount', '5.00', 'currency', 'USD')),
       u.at
  FROM u, debit;
