-- pgbench script for scripts/bench-seat-pg.sh: one seat activation as the licensing service
-- writes it since issue 22's round 2: ONE statement, licensing.activate_seat_once (migration
-- 2026-12-13-300001_activate_seat_once), with the parameters routes::seats::activate binds.
\set lic random(1, :nlic)
\set r1 random(1, 1000000000)
\set r2 random(1, 1000000000)
SELECT activate_seat_once(
  lpad(to_hex(:r1::bigint), 32, '0') || ':POST /api/enterprise/licenses/activate', :r2::text,
  'ee3d2b9c4b0d8f7a6e5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d',
  ARRAY[sha256(convert_to(:lic::text, 'UTF8'))], lpad(to_hex(:r1::bigint) || 'f' || to_hex(:r2::bigint), 32, '0')::uuid, now(),
  lpad(to_hex(:r1::bigint) || 'e' || to_hex(:r2::bigint), 32, '0')::uuid, lpad(to_hex(:r1::bigint) || 'd' || to_hex(:r2::bigint), 32, '0')::uuid,
  '{"specversion":"1.0","id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","source":"/services/licensing","type":"licensing.seat.activated.v1","time":"2026-12-05T02:15:10.123456Z","subject":"00000000-0000-0000-0000-000000000000","datacontenttype":"application/json","dataschema":"events/licensing/seat.activated.v1.json","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","data":{"seat_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","user_id":"00000000-0000-0000-0000-000000000001","license_id":"00000000-0000-0000-0000-000000000000","organization_id":"00000000-0000-0000-0000-000000000000","tier":"","seat_number":0,"expires_at":"2026-12-05T02:15:10.123456Z","activated_at":"2026-12-05T02:15:10.123456Z","license_version":0}}',
  ARRAY[75, 100]::smallint[], ARRAY[lpad(to_hex(:r1::bigint) || 'c' || to_hex(:r2::bigint), 32, '0')::uuid, lpad(to_hex(:r1::bigint) || 'b' || to_hex(:r2::bigint), 32, '0')::uuid],
  ARRAY['{"specversion":"1.0","id":"x","source":"/services/licensing","type":"licensing.usage.threshold_reached.v1","time":"2026-12-05T02:15:10.123456Z","subject":"","datacontenttype":"application/json","dataschema":"events/licensing/usage.threshold_reached.v1.json","data":{"license_id":"00000000-0000-0000-0000-000000000000","organization_id":"00000000-0000-0000-0000-000000000000","threshold_percent":75,"seats":0,"seats_used":0,"reached_at":"2026-12-05T02:15:10.123456Z"}}',
        '{"specversion":"1.0","id":"x","source":"/services/licensing","type":"licensing.usage.threshold_reached.v1","time":"2026-12-05T02:15:10.123456Z","subject":"","datacontenttype":"application/json","dataschema":"events/licensing/usage.threshold_reached.v1.json","data":{"license_id":"00000000-0000-0000-0000-000000000000","organization_id":"00000000-0000-0000-0000-000000000000","threshold_percent":100,"seats":0,"seats_used":0,"reached_at":"2026-12-05T02:15:10.123456Z"}}'],
  '{"seat":{"id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","license_id":"00000000-0000-0000-0000-000000000000","user_id":"00000000-0000-0000-0000-000000000001","seat_number":0,"activated_at":"2026-12-05T02:15:10.123456Z","released_at":null,"release_reason":null},"organization_id":"00000000-0000-0000-0000-000000000000","tier":"","expires_at":"2026-12-05T02:15:10.123456Z","created":true}'::jsonb);
