-- Bench data (../shared/bench/dataset.md), inserted with SQL into a migrated keyward
-- PostgreSQL database whose first organisation is `bench-large` (made by
-- `keyward bootstrap --org bench-large ...`). Deterministic: no random(); the "PRNG" is
-- md5 of the key id. Dates are relative to now() (a third of expected returns are past).
--
--   psql -h 127.0.0.1 -d keyward_bench -v small=999 -f scripts/bench-seed.sql
--
-- Inserts: 20 developments + 100,000 keys for bench-large; :small organisations with
-- 2 developments x 500 keys; access codes (500 per bench-large development, 20 per small
-- organisation); for every small organisation an owner user (same password hash as the
-- bench-large owner, email owner-NNN@bench.example) and a session whose bearer token is
-- `bench-small-NNN` (only the SHA-256 hex is stored, as the server does); audit events
-- (one per key creation, one per issue). access code values are NOT sealed (dummy
-- text): listing them with values would fail; only counts and labels are used here.

\set ON_ERROR_STOP on
BEGIN;

-- 20 developments D01..D20 of bench-large.
INSERT INTO developments (id, org_id, name, key_prefix, created_at, updated_at)
SELECT 'dev-large-' || lpad(d::text, 2, '0'), o.id, 'Development ' || lpad(d::text, 2, '0'),
       'D' || lpad(d::text, 2, '0'), now(), now()
FROM generate_series(1, 20) d, (SELECT id FROM organisations WHERE name = 'bench-large') o;

-- Small organisations with 2 developments each.
INSERT INTO organisations (id, name, created_at)
SELECT 'org-small-' || lpad(n::text, 3, '0'), 'bench-small-' || lpad(n::text, 3, '0'), now()
FROM generate_series(1, :small) n;
INSERT INTO developments (id, org_id, name, key_prefix, created_at, updated_at)
SELECT 'dev-small-' || lpad(n::text, 3, '0') || '-' || d, 'org-small-' || lpad(n::text, 3, '0'),
       'Development ' || d, 'S' || d, now(), now()
FROM generate_series(1, :small) n, generate_series(1, 2) d;

-- 200 first names x 200 last names (40,000 holders).
CREATE TEMP TABLE first_names AS
SELECT row_number() OVER () - 1 AS n, v AS name FROM unnest(string_to_array(
'Aaron Abigail Adam Adrian Ahmed Aisha Alan Albert Alex Alice Amara Amelia Amir Amy Andrew Angela Anna Anthony Arjun Arthur '
'Ava Barbara Ben Beth Bilal Bob Brian Bruno Caitlin Callum Carl Carlos Carmen Caroline Charles Charlotte Chen Chloe Chris Claire '
'Colin Connor Craig Daisy Daniel David Deborah Dev Diana Dmitri Dominic Donna Dylan Ed Eleanor Elena Eli Eliza Ella Emily '
'Emma Eric Erin Ethan Eva Evan Faisal Fatima Felix Fiona Frank Freya Gabriel Gareth Gary Gemma George Grace Graham Hamza '
'Hannah Harry Harvey Hassan Hazel Helen Henry Holly Hugo Ian Imran Isaac Isabel Isla Ivan Jack Jacob Jade James Jan '
'Jane Jason Jay Jenny Jessica Jo John Jonah Jordan Joseph Joy Julia Karen Karim Kate Keith Kevin Kim Laila Laura '
'Leah Leo Liam Lily Linda Lisa Logan Lola Louis Lucy Luke Maja Marcus Maria Mark Martin Mary Matt Maya Megan '
'Mei Mia Michael Mohammed Molly Nadia Nathan Neil Nina Noah Nora Oliver Olivia Omar Oscar Owen Paul Peter Phoebe Priya '
'Rachel Rahul Raj Rebecca Rhys Richard Rob Rosa Rose Ruby Ryan Sally Sam Sana Sara Scott Sean Simon Sofia Sophie '
'Stella Stephen Susan Tara Theo Thomas Tim Toby Tom Tony Uma Victor Wei Will Yara Yusuf Zac Zara Zoe Zainab', ' ')) v;
CREATE TEMP TABLE last_names AS
SELECT row_number() OVER () - 1 AS n, v AS name FROM unnest(string_to_array(
'Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Khan Robinson Wright Thompson Evans Walker White Roberts Green Hall Wood '
'Jackson Clarke Hughes Edwards Turner Hill Moore Martin Cooper Ward Morris King Harris Lewis Lee Baker Allen Young Mitchell Kelly '
'Anderson Carter Phillips Scott Parker James Bell Campbell Murphy Morgan Price Collins Bennett Cook Shaw Bailey Richardson Cox Watson Gray '
'Fox Chapman Ellis Mason Webb Rogers Powell Hunt Holmes Palmer Mills Owen Knight Marshall Lloyd Dixon Stevens Hussain Ali Ahmed '
'Begum Shah Singh Kaur Sharma Chen Wang Li Zhang Nguyen Tran Kim Park Garcia Martinez Lopez Rodriguez Silva Santos Costa '
'Rossi Russo Ferrari Novak Kowalski Nowak Muller Schmidt Fischer Weber Meyer Wagner Becker Schulz Hoffmann Dubois Laurent Moreau Lefebvre Bernard '
'Okafor Adeyemi Mensah Owusu Abara Okoye Nwosu Diallo Traore Kamara Murray Reid Stewart Ross Hamilton Graham Fraser Gordon Kennedy Paterson '
'Sutherland Duncan Munro Burns Quinn Byrne Ryan Walsh Doyle Lynch Brennan Gallagher Kavanagh Nolan Hayes Farrell Smithson Goldsmith Smithers Arrowsmith '
'Blacksmith Smithfield Sharp Steele Stone Frost Moss Lamb Nash Pearce Barker Fletcher Fuller Potter Tanner Thatcher Porter Hunter Archer '
'Bishop Dean Knox Lord Page Rees Hart Hardy Payne Pope Quinn-Lee Rowe Sims Todd Vaughan Wade Walton Wells Wyatt Yates York', ' ')) v;
DO $$ BEGIN
  IF (SELECT count(*) FROM first_names) <> 200 OR (SELECT count(*) FROM last_names) <> 200 THEN
    RAISE EXCEPTION 'name lists must have 200 entries each';
  END IF;
END $$;

-- Keys: (development id, org id, prefix, index i within the development).
CREATE TEMP TABLE plan AS
SELECT d.id AS dev_id, d.org_id, d.key_prefix, i,
       CASE WHEN d.id LIKE 'dev-large-%' THEN 4 ELSE 3 END AS digits
FROM developments d
JOIN LATERAL generate_series(1, CASE WHEN d.id LIKE 'dev-large-%' THEN 5000 ELSE 500 END) i ON true
WHERE d.id LIKE 'dev-large-%' OR d.id LIKE 'dev-small-%';

INSERT INTO keys (id, org_id, development_id, key_ref, ref_prefix, ref_number, key_type, label, status,
                  issued_to, issued_at, issued_by, expected_return_at, security_level, quantity,
                  created_at, updated_at, version, search_text)
SELECT k.id, k.org_id, k.dev_id, k.key_ref, k.key_prefix, k.i, k.key_type, k.label, k.status,
       k.issued_to, k.issued_at, CASE WHEN k.issued_to IS NOT NULL THEN 'Bench' END,
       k.expected_return_at, 'standard', 1, now() - interval '120 days', now(), 1,
       lower(k.key_ref || E'\n' || k.label || E'\n' || coalesce(k.issued_to, ''))
FROM (
    SELECT p.id, p.org_id, p.dev_id, p.key_prefix, p.i, p.key_ref,
           (ARRAY['physical_key','fob','card','remote','master_key','other'])[1 + p.i % 6] AS key_type,
           (ARRAY['Flat ' || p.i || ' front door', 'Bin store fob ' || p.i, 'Plant room ' || p.i,
                  'Car park remote ' || p.i])[1 + p.i % 4] AS label,
           s.status,
           CASE WHEN s.status = 'issued' THEN f.name || ' ' || l.name END AS issued_to,
           CASE WHEN s.status = 'issued' THEN now() - ((p.h % 90) || ' days')::interval END AS issued_at,
           CASE WHEN s.status = 'issued' AND p.i % 2 = 0 THEN
               now() + (CASE WHEN p.i % 6 = 0 THEN -1 ELSE 1 END) * ((1 + p.i % 30) || ' days')::interval
           END AS expected_return_at
    FROM (SELECT pl.*, pl.dev_id || '-' || pl.i AS id,
                 pl.key_prefix || '-' || lpad(pl.i::text, pl.digits, '0') AS key_ref,
                 ('x' || substr(md5(pl.dev_id || '-' || pl.i), 1, 7))::bit(28)::int AS h,
                 ('x' || substr(md5(pl.dev_id || '-' || pl.i), 9, 7))::bit(28)::int AS h2
          FROM plan pl) p
    CROSS JOIN LATERAL (SELECT CASE
        WHEN p.i % 100 < 60 THEN 'in_stock' WHEN p.i % 100 < 85 THEN 'issued'
        WHEN p.i % 100 < 93 THEN 'returned' WHEN p.i % 100 < 97 THEN 'lost'
        WHEN p.i % 100 < 99 THEN 'damaged' ELSE 'deactivated' END AS status) s
    JOIN first_names f ON f.n = p.h % 200
    JOIN last_names l ON l.n = p.h2 % 200
) k;

-- Access codes: 500 per bench-large development, 10 per small development (20 per org).
INSERT INTO access_codes (id, org_id, development_id, code_type, label, code_sealed, code_lookup,
                          status, created_at, updated_at, version, search_text)
SELECT d.id || '-code-' || c, d.org_id, d.id,
       (ARRAY['gate','door','intercom','alarm','lift','parking','bin_store','plant_room','meter_room'])[1 + c % 9],
       'Code ' || c, 'bench-not-sealed', md5(d.id || c), 'active', now(), now(), 1, 'code ' || c
FROM developments d
JOIN LATERAL generate_series(1, CASE WHEN d.id LIKE 'dev-large-%' THEN 500 ELSE 10 END) c ON true
WHERE d.id LIKE 'dev-large-%' OR d.id LIKE 'dev-small-%';

-- An owner and a session per small organisation (token `bench-small-NNN`).
INSERT INTO users (id, org_id, email, name, role, password_hash, created_at, updated_at)
SELECT 'user-small-' || lpad(n::text, 3, '0'), 'org-small-' || lpad(n::text, 3, '0'),
       'owner-' || lpad(n::text, 3, '0') || '@bench.example', 'Owner ' || n, 'owner',
       (SELECT u.password_hash FROM users u JOIN organisations o ON o.id = u.org_id
        WHERE o.name = 'bench-large' LIMIT 1), now(), now()
FROM generate_series(1, :small) n;
INSERT INTO sessions (token_hash, user_id, org_id, created_at, expires_at)
SELECT encode(sha256(convert_to('bench-small-' || lpad(n::text, 3, '0'), 'UTF8')), 'hex'),
       'user-small-' || lpad(n::text, 3, '0'), 'org-small-' || lpad(n::text, 3, '0'),
       now(), now() + interval '30 days'
FROM generate_series(1, :small) n;

-- Audit events: one per key creation, one per issue.
INSERT INTO audit_events (id, org_id, at, actor_id, actor_name, action, entity_type, entity_id, summary, changes)
SELECT 'ae-c-' || id, org_id, created_at, NULL, 'Bench', 'key.created', 'key', id,
       'Key ' || key_ref || ' (' || label || ') created', '[]'
FROM keys;
INSERT INTO audit_events (id, org_id, at, actor_id, actor_name, action, entity_type, entity_id, summary, changes)
SELECT 'ae-i-' || id, org_id, issued_at, NULL, 'Bench', 'key.issued', 'key', id,
       'Key ' || key_ref || ' issued to ' || issued_to, '[]'
FROM keys WHERE status = 'issued';

COMMIT;
VACUUM ANALYZE;
