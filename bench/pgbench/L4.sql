-- L4: the statements keyward issues for one call, captured with log_statement=all
-- (bench/pgbench/README.md). Variables: bench-large (:large_org, :d07,
-- :large_token_hash) from the seed's pgbench.vars.
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :large_token_hash) AND ("sessions"."expires_at" > '2026-12-07 06:36:09.587658')) AND ("users"."disabled" = 'f')) LIMIT '1';
SELECT "developments"."key_prefix" FROM "developments" WHERE (("developments"."org_id" = :large_org) AND ("developments"."id" = :d07)) LIMIT '1';
SELECT "key_ref_floors"."floor" FROM "key_ref_floors" WHERE (("key_ref_floors"."org_id" = :large_org) AND ("key_ref_floors"."ref_prefix" = 'D07')) LIMIT '1';
SELECT "keys"."ref_number" FROM "keys" WHERE ((("keys"."org_id" = :large_org) AND ("keys"."ref_prefix" = 'D07')) AND ("keys"."ref_number" >= '5001')) ORDER BY "keys"."ref_number" LIMIT '1024';
