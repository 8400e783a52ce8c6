-- Seed data for `make bench` (scripts/bench.sh runs it with psql on the bench database, after the
-- services' migrations). Ids follow bench/src/ids.rs; change both together.
--   users:       lpad(to_hex(n), 32, '0')::uuid
--   courses:     ('c' || lpad(to_hex(n), 31, '0'))::uuid   (n % 10 = 0: free)
--   instructors: ('a' || ...), organisations ('b' || ...), licenses ('d' || ...), seat holders ('e' || ...)
\set ON_ERROR_STOP on
SET synchronous_commit = off; -- the seed only; the services keep the server's setting

-- rewards: 1,000,000 accounts with 100,000 spendable tokens each (enough for any redemption run)
-- and 50,000 distinct scores (20 users each), as the rewards scale test builds them; the global
-- board's histogram to match; display names for a tenth of them.
SET search_path TO rewards;
INSERT INTO token_balances (user_id, spendable, debt, lifetime_earned, score_reached_at, updated_at)
SELECT lpad(to_hex(i), 32, '0')::uuid, 100000, 0, 50000 - (i - 1) / 20,
       timestamptz '2026-01-01' + i * interval '1 second', now()
  FROM generate_series(1, 1000000) AS i;
INSERT INTO score_histogram (board, score, users)
SELECT 'global', lifetime_earned, count(*) FROM token_balances GROUP BY lifetime_earned;
INSERT INTO profiles (user_id, display_name, updated_at)
SELECT lpad(to_hex(i), 32, '0')::uuid, 'Learner ' || i, now() FROM generate_series(10, 1000000, 10) AS i;

-- subscriptions: 10,000 live subscriptions, 10,000 churned ones and a year of MRR history.
SET search_path TO subscriptions;
\ir bench-seed-subscriptions.sql

-- billing: a year of payments with their outcomes and refunds (the payments report's data).
SET search_path TO billing;
\ir bench-seed-billing.sql

-- marketplace: 100,000 published courses by 2,000 instructors; 40 topics x 12 categories x 4 levels
-- spread independently; a tenth free; ratings and purchase counts for the sort orders. The
-- trigger fills the search vector.
SET search_path TO marketplace;
INSERT INTO courses (id, instructor_id, title, description, category, level, language, tags, price, currency,
                     status, content_key, content_type, content_size, content_sha256, content_filename,
                     rating_count, rating_sum, purchase_count, created_at, updated_at, published_at)
SELECT ('c' || lpad(to_hex(i), 31, '0'))::uuid,
       ('a' || lpad(to_hex(1 + i % 2000), 31, '0'))::uuid,
       initcap(t.topic) || ' ' || (ARRAY['for Beginners', 'Masterclass', 'in Practice', 'Bootcamp', 'Deep Dive',
                                         'Essentials', 'from Scratch', 'for Professionals'])[1 + (i / 40) % 8],
       'Learn ' || t.topic || ' step by step with exercises, quizzes and a final project. '
           || 'Course ' || i || ' covers the fundamentals and the practice of ' || t.topic || '.',
       t.category,
       (ARRAY['beginner', 'intermediate', 'advanced', 'all_levels'])[1 + (i / 3) % 4],
       (ARRAY['en', 'en', 'en', 'es', 'fr', 'de', 'pt-BR', 'ja'])[1 + (i / 11) % 8],
       ARRAY[t.topic, t.category],
       CASE WHEN i % 10 = 0 THEN 0 ELSE 9.99 + (i % 20) * 5 END, 'USD', 'published',
       'bench/' || i || '.zip', 'application/zip', 1048576, repeat('0', 64), 'course.zip',
       i % 200, (i % 200) * (3 + i % 3), i % 5000,
       now() - (i % 365) * interval '1 day', now(),
       now() - (i % 365) * interval '1 day' + (i % 86400) * interval '1 second'
  FROM generate_series(1, 100000) AS i,
       LATERAL (SELECT (ARRAY['rust', 'python', 'golang', 'kubernetes', 'docker', 'react', 'typescript', 'postgres',
                              'linux', 'networking', 'security', 'statistics', 'excel', 'leadership', 'negotiation',
                              'accounting', 'photoshop', 'illustrator', 'typography', 'branding', 'seo',
                              'copywriting', 'guitar', 'piano', 'singing', 'yoga', 'nutrition', 'meditation',
                              'investing', 'trading', 'budgeting', 'spanish', 'french', 'japanese', 'german',
                              'portrait', 'landscape', 'lightroom', 'productivity', 'writing'])[1 + i % 40] AS topic,
                       (ARRAY['development', 'business', 'design', 'marketing', 'it-and-software', 'data-science',
                              'personal-development', 'photography', 'music', 'health', 'finance',
                              'languages'])[1 + (i / 7) % 12] AS category) AS t;

-- licensing: 1,000 organisations with branding (odd ones on a custom domain); 20 Enterprise
-- licenses of 10,000 seats, 1,000 of them taken (room for three rounds of seat activations). Keys: 'BENCH' + 24 digits + licensing's check
-- symbol (Luhn mod 32: every second value from the right doubled).
SET search_path TO licensing;
INSERT INTO organizations (id, name, domain, created_at)
SELECT ('b' || lpad(to_hex(i), 31, '0'))::uuid, 'Bench Org ' || i, 'org' || i || '.bench.example',
       now() - interval '100 days'
  FROM generate_series(1, 1000) AS i;
INSERT INTO branding (organization_id, display_name, logo_url, primary_color, secondary_color, support_email,
                      custom_domain, updated_at)
SELECT ('b' || lpad(to_hex(i), 31, '0'))::uuid, 'Bench Org ' || i, 'https://cdn.bench.example/logo/' || i || '.png',
       '#1A2B3C', '#FFFFFF', 'support@org' || i || '.bench.example',
       CASE WHEN i % 2 = 1 THEN 'learn' || i || '.example' END, now()
  FROM generate_series(1, 1000) AS i;
WITH keyed AS (
    SELECT l, 'BENCH' || lpad(l::text, 24, '0') AS body FROM generate_series(1, 20) AS l
), checked AS (
    SELECT l, body,
           (SELECT sum(a / 32 + a % 32)
              FROM (SELECT CASE WHEN (29 - p) % 2 = 0 THEN 2 ELSE 1 END
                           * (strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substr(body, p, 1)) - 1) AS a
                      FROM generate_series(1, 29) AS p) AS v) AS s
      FROM keyed
)
-- Only keys' hashes are stored (platform::code_hash), under the dev key the bench stack runs with
-- (scripts/dev.env DEV_CODE_HASH_KEY); code_hmac() is platform's SQL twin of the helper.
INSERT INTO licenses (id, organization_id, license_key_hash, license_key_prefix, tier, seats, seats_used,
                      peak_seats_used, alert_level, status, starts_at, expires_at, created_at, updated_at)
SELECT ('d' || lpad(to_hex(l), 31, '0'))::uuid, ('b' || lpad(to_hex(l), 31, '0'))::uuid,
       code_hmac('dev-only-code-hash-key-do-not-use-in-production',
                 body || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((32 - s % 32) % 32)::int + 1, 1)),
       left(body, 5),
       'enterprise', 10000, 1000, 1000, 0, 'active', now() - interval '30 days', now() + interval '335 days',
       now() - interval '30 days', now()
  FROM checked;
INSERT INTO seats (id, license_id, user_id, seat_number, activated_at)
SELECT ('f' || lpad(to_hex(l * 100000 + s), 31, '0'))::uuid, ('d' || lpad(to_hex(l), 31, '0'))::uuid,
       ('e' || lpad(to_hex(l * 100000 + s), 31, '0'))::uuid, s, now() - interval '20 days'
  FROM generate_series(1, 20) AS l, generate_series(1, 1000) AS s;

RESET search_path;
VACUUM ANALYZE rewards.token_balances, rewards.score_histogram, rewards.profiles,
               subscriptions.subscriptions, subscriptions.charges, subscriptions.mrr_movements,
               subscriptions.mrr_daily, billing.payments, billing.payment_outcomes, billing.payment_outcomes_daily,
               billing.payment_cohorts_daily, billing.payment_cohort_successes, marketplace.courses,
               licensing.organizations, licensing.branding, licensing.licenses, licensing.seats;
