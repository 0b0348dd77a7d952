-- L3: the statements keyward issues for one call, captured with log_statement=all
-- (bench/pgbench/README.md). Variables: bench-large (:large_org, :d07,
-- :large_token_hash) from the seed's pgbench.vars.
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :large_token_hash) AND ("sessions"."expires_at" > '2026-12-07 06:36:09.025427')) AND ("users"."disabled" = 'f')) LIMIT '1';
SELECT "key_counts"."status", sum("key_counts"."n") FROM "key_counts" WHERE ("key_counts"."org_id" = :large_org) GROUP BY "key_counts"."status";
SELECT sum("key_due_days"."n") FROM "key_due_days" WHERE (("key_due_days"."org_id" = :large_org) AND ("key_due_days"."due_day" < '2026-12-07')) LIMIT '1';
SELECT COUNT(*) FROM "keys" WHERE (((("keys"."org_id" = :large_org) AND ("keys"."status" = 'issued')) AND ("keys"."expected_return_at" >= '2026-12-07 00:00:00')) AND ("keys"."expected_return_at" < '2026-12-07 06:36:09.02697'));
SELECT sum("access_code_counts"."n") FROM "access_code_counts" WHERE ("access_code_counts"."org_id" = :large_org) LIMIT '1';
SELECT COUNT(*) FROM "access_codes" WHERE (("access_codes"."org_id" = :large_org) AND ("access_codes"."rotation_flagged_at" IS NOT NULL));
SELECT COUNT(*) FROM "access_codes" WHERE ((("access_codes"."org_id" = :large_org) AND ("access_codes"."rotation_flagged_at" IS NULL)) AND ("access_codes"."rotate_by" <= '2026-12-07'));
SELECT count( DISTINCT "key_doors"."door_id") FROM "key_doors" WHERE (("key_doors"."org_id" = :large_org) AND "key_doors"."key_lost") LIMIT '1';
SELECT EXISTS (SELECT "sms_settings"."org_id" FROM "sms_settings" WHERE ("sms_settings"."org_id" = :large_org));
SELECT COUNT(*) FROM "developments" WHERE (("developments"."org_id" = :large_org) AND ("developments"."audit_due_at" < '2026-12-07 06:36:09.029929'));
