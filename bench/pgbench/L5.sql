-- L5: the statements keyward issues for one call, captured with log_statement=all
-- (bench/pgbench/README.md). Variables: bench-large (:large_org, :d07,
-- :large_token_hash) from the seed's pgbench.vars.
-- The organisation is drawn per transaction (one of the 1,000 sessions, through the
-- primary key), as the load generator draws a small organisation per call.
\set n random(0, :small_orgs)
SELECT token_hash AS th, org_id AS org FROM sessions ORDER BY token_hash OFFSET :n LIMIT 1 \gset
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :th) AND ("sessions"."expires_at" > '2026-12-06 02:53:04.711783')) AND ("users"."disabled" = 'f')) LIMIT '1';
SELECT COUNT(*) FROM "keys" WHERE ("keys"."org_id" = :org);
SELECT "keys"."id", "keys"."org_id", "keys"."development_id", "keys"."key_ref", "keys"."ref_prefix", "keys"."ref_number", "keys"."key_type", "keys"."label", "keys"."status", "keys"."notes", "keys"."issued_to", "keys"."issued_to_phone", "keys"."issued_at", "keys"."issued_by", "keys"."purpose", "keys"."expected_return_at", "keys"."security_level", "keys"."brand", "keys"."key_number", "keys"."quantity", "keys"."access_restrictions", "keys"."emergency_contact", "keys"."created_at", "keys"."updated_at", "keys"."last_status_change_at", "keys"."last_status_change_by", "keys"."version", "keys"."search_text" FROM "keys" WHERE ("keys"."org_id" = :org) ORDER BY "keys"."key_ref", "keys"."id" LIMIT '50' OFFSET '50';
