-- L5: the statements keyward issues for one call, captured with log_statement=all
-- (bench/pgbench/README.md). Variables: bench-large (:large_org, :d07,
-- :large_token_hash) from the seed's pgbench.vars.
-- Page 40 (50 a page) is past the end of a 1,000-key organisation (the data set's L5): the total
-- from the counts says so, and the server reads no keys (decision 174).
-- The organisation is drawn per transaction (one of the 1,000 sessions, through the
-- primary key), as the load generator draws a small organisation per call.
\set n random(0, :small_orgs)
SELECT token_hash AS th, org_id AS org FROM sessions ORDER BY token_hash OFFSET :n LIMIT 1 \gset
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :th) AND ("sessions"."expires_at" > '2026-12-06 03:30:32.077619')) AND ("users"."disabled" = 'f')) LIMIT '1';
SELECT "key_counts"."status", sum("key_counts"."n") FROM "key_counts" WHERE ("key_counts"."org_id" = :org) GROUP BY "key_counts"."status";
