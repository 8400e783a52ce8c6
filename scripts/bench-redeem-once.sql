-- pgbench script for scripts/bench-redeem-pg.sh: one redemption as the rewards service writes it
-- since issue 22's round 2: ONE statement, rewards.redeem_once (migration
-- 2026-12-11-200002_redeem_once), with the parameters routes::redeem binds.
\set n random(1, 100000)
\set r1 random(1, 1000000000)
\set r2 random(1, 1000000000)
SELECT redeem_once(
  lpad(to_hex(:n::bigint), 32, '0') || ':POST /api/tokens/redeem', :r1::text || '-' || :r2::text,
  'ee3d2b9c4b0d8f7a6e5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d',
  lpad(to_hex(:n::bigint), 32, '0')::uuid, 'course_voucher', 300, 'A 5.00 USD course voucher', 5.0000, 'USD',
  now(), lpad(to_hex(:r1::bigint) || to_hex(:r2::bigint), 32, '0')::uuid, lpad(to_hex(:r1::bigint) || to_hex(:r2::bigint) || 'a', 32, '0')::uuid,
  jsonb_build_object('code_hash', sha256(convert_to('RW-' || :r1::text || '-' || :r2::text, 'UTF8')),
                     'code_prefix', left('RW-' || :r1::text, 7), 'redemption_id', lpad(to_hex(:r1::bigint) || to_hex(:r2::bigint), 32, '0')::uuid,
                     'user_id', lpad(to_hex(:n::bigint), 32, '0')::uuid, 'discount', '5.0000', 'currency', 'USD', 'status', 'issued',
                     'issued_at', now(), 'expires_at', now() + interval '90 days', 'consumed_at', NULL,
                     'purchase_id', NULL, 'reserved_at', NULL),
  lpad(to_hex(:r1::bigint) || to_hex(:r2::bigint) || 'e', 32, '0')::uuid, 'rewards.tokens.redeemed.v1',
  '{"specversion":"1.0","id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","source":"/services/rewards","type":"rewards.tokens.redeemed.v1","time":"2026-12-05T02:15:10.123456Z","subject":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","datacontenttype":"application/json","dataschema":"proto-schemas/events/rewards/tokens.redeemed.v1.json","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","data":{"redemption_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","user_id":"00000000-0000-0000-0000-000000000001","item":"course_voucher","cost":300,"transaction_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d","balance_after":0,"redeemed_at":"2026-12-05T02:15:10.123456Z"}}',
  '{"redemption_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","item":"course_voucher","cost":300,"balance_after":0,"transaction_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d","redeemed_at":"2026-12-05T02:15:10.123456Z","voucher":{"code_prefix":"RW-ABCD","value":{"amount":"5.00","currency":"USD"},"expires_at":"2027-03-05T02:15:10.123456Z"}}'::jsonb);
