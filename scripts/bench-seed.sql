-- Bench data (../shared/bench/dataset.md), inserted with SQL into a migrated keyward
-- PostgreSQL database whose first organisation is `bench-large` (made by
-- `keyward bootstrap --org bench-large …`). Deterministic: no random().
-- Small organisations: :small (dataset: 999; 2 developments × 500 keys each).

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

-- Keys: (development id, org id, prefix, index i within the development, count per development).
CREATE TEMP TABLE plan AS
SELECT d.id AS dev_id, d.org_id, d.key_prefix, i,
       CASE WHEN d.id LIKE 'dev-large-%' THEN 4 ELSE 3 END AS digits
FROM developments d
JOIN LATERAL generate_series(1, CASE WHEN d.id LIKE 'dev-large-%' THEN 5000 ELSE 500 END) i ON true
WHERE d.id LIKE 'dev-large-%' OR d.id LIKE 'dev-small-%';

INSERT INTO keys (id, org_id, development_id, key_ref, ref_prefix, ref_number, key_type, label, status,
                  issued_to, issued_at, expected_return_at, security_level, quantity,
                  created_at, updated_at, version, search_text)
SELECT k.id, k.org_id, k.dev_id, k.key_ref, k.key_prefix, k.i, k.key_type, k.label, k.status,
       k.issued_to, k.issued_at, k.expected_return_at, 'standard', 1, now(), now(), 1,
       lower(k.key_ref || E'\n' || k.label || E'\n' || coalesce(k.issued_to, ''))
FROM (
    SELECT p.dev_id || '-' || p.i AS id, p.org_id, p.dev_id, p.key_prefix, p.i,
           p.key_prefix || '-' || lpad(p.i::text, p.digits, '0') AS key_ref,
           (ARRAY['physical_key','fob','card','remote','master_key','other'])[1 + p.i % 6] AS key_type,
           (ARRAY['Flat ' || p.i || ' front door', 'Bin store fob ' || p.i, 'Plant room ' || p.i,
                  'Car park remote ' || p.i])[1 + p.i % 4] AS label,
           s.status,
           CASE WHEN s.status = 'issued' THEN
               (ARRAY['Sam','Alex','Jo','Priya','Tom','Maria','Ahmed','Li','Olu','Eva'])[1 + (p.i * 7) % 10]
               || ' ' ||
               (ARRAY['Smith','Jones','Taylor','Brown','Williams','Wilson','Johnson','Davies','Patel','Khan'])[1 + (p.i * 13) % 10]
           END AS issued_to,
           CASE WHEN s.status = 'issued' THEN now() - ((p.i % 90) || ' days')::interval END AS issued_at,
           CASE WHEN s.status = 'issued' AND p.i % 2 = 0 THEN
               now() + (CASE WHEN p.i % 6 = 0 THEN -1 ELSE 1 END) * ((1 + p.i % 30) || ' days')::interval
           END AS expected_return_at
    FROM plan p
    CROSS JOIN LATERAL (SELECT CASE
        WHEN p.i % 100 < 60 THEN 'in_stock' WHEN p.i % 100 < 85 THEN 'issued'
        WHEN p.i % 100 < 93 THEN 'returned' WHEN p.i % 100 < 97 THEN 'lost'
        WHEN p.i % 100 < 99 THEN 'damaged' ELSE 'deactivated' END AS status) s
) k;

COMMIT;
ANALYZE;
