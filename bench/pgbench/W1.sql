-- W1: issueKey, returnKey, returnToStock on one in-stock key of a random organisation:
-- the statements keyward issues for each call (captured with log_statement=all, see
-- README.md), three calls per pgbench transaction. Written by hand from the capture:
-- the UPDATE sets the columns that change (decision 183), the search text as the server
-- writes it (lower-cased here by PostgreSQL), and the audit hash is random, not the
-- canonical one: `keyward audit verify` fails on a database this ran on (seed it again).
-- The server's UPDATE also holds `AND version = <the version read>`. Captured again on
-- 2026-12-07 after decision 181: one organisation lock per call, one counts upsert, the
-- handover's DELETE only when the key leaves `issued` and its read only when it is
-- issued, the webhook endpoints' question asked with the audit head. Again on 2026-12-07 after decision 184
-- (the search index off the keys' heap): the UPDATEs. On 2026-12-08 the issue's read of
-- the key's handover went (a new holding has none).
\set n random(0, :small_orgs)
\set i random(0, :w1_in_stock - 1)
\set k (:i / 60) * 100 + :i % 60 + 1
SELECT token_hash AS th, org_id AS org FROM sessions ORDER BY token_hash OFFSET :n LIMIT 1 \gset
SELECT id AS key_id, development_id AS dev FROM keys WHERE org_id = :org AND key_ref = 'D01-' || lpad(:k::text, 4, '0') \gset
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :th) AND ("sessions"."expires_at" > now()::timestamp)) AND ("users"."disabled" = 'f')) LIMIT '1';
BEGIN;
SELECT "organisations"."id" FROM "organisations" WHERE ("organisations"."id" = :org) FOR UPDATE;
SELECT "keys".* FROM "keys" WHERE (("keys"."org_id" = :org) AND ("keys"."id" = :key_id)) LIMIT '1';
UPDATE "keys" SET "status" = 'issued', "issued_to" = 'Bench Runner', "issued_at" = now()::timestamp, "issued_by" = 'Bench', "updated_at" = now()::timestamp, "last_status_change_at" = now()::timestamp, "version" = "version" + 1, "search_text" = lower("key_ref" || E'\n' || "label" || E'\nBench Runner') WHERE ((("keys"."org_id" = :org) AND ("keys"."id" = :key_id))) RETURNING "keys".*;
INSERT INTO "key_counts" ("org_id", "development_id", "status", "n") VALUES (:org, :dev, 'in_stock', -1), (:org, :dev, 'issued', 1) ON CONFLICT ("org_id", "development_id", "status") DO UPDATE SET "n" = ("key_counts"."n" + excluded."n");
INSERT INTO "key_movements" ("id", "org_id", "key_id", "at", "action", "actor_name", "issued_to", "purpose", "expected_return_at", "notes") VALUES (gen_random_uuid()::text, :org, :key_id, now()::timestamp, 'issued', 'Bench', NULL, DEFAULT, DEFAULT, DEFAULT);
SELECT "audit_events"."seq", "audit_events"."hash", EXISTS (SELECT "webhook_endpoints"."id", "webhook_endpoints"."org_id", "webhook_endpoints"."url", "webhook_endpoints"."events", "webhook_endpoints"."enabled", "webhook_endpoints"."disabled_reason", "webhook_endpoints"."secret_sealed", "webhook_endpoints"."last_success_at", "webhook_endpoints"."created_at", "webhook_endpoints"."updated_at" FROM "webhook_endpoints" WHERE (("webhook_endpoints"."org_id" = :org) AND ("webhook_endpoints"."enabled" = 't'))) AS webhooks FROM "audit_events" WHERE ("audit_events"."org_id" = :org) ORDER BY "audit_events"."seq" DESC LIMIT '1' \gset
INSERT INTO "audit_events" ("id", "org_id", "at", "actor_id", "actor_name", "action", "entity_type", "entity_id", "summary", "changes", "seq", "prev_hash", "hash") VALUES (gen_random_uuid()::text, :org, now()::timestamp, NULL, 'Bench', 'key.issued', 'key', :key_id, 'Key issued to Bench Runner', '[{"field":"status","from":"in_stock","to":"issued"},{"field":"issuedTo","from": null,"to":"Bench Runner"}]', CAST(:seq AS INTEGER) + 1, :hash, md5(random()::text) || md5(random()::text));
SELECT "key_doors"."key_id", "key_doors"."door_id" FROM "key_doors" WHERE (("key_doors"."org_id" = :org) AND ("key_doors"."key_id" = ANY(ARRAY[:key_id]))) ORDER BY "key_doors"."key_id", "key_doors"."door_id";
COMMIT;
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :th) AND ("sessions"."expires_at" > now()::timestamp)) AND ("users"."disabled" = 'f')) LIMIT '1';
BEGIN;
SELECT "organisations"."id" FROM "organisations" WHERE ("organisations"."id" = :org) FOR UPDATE;
SELECT "keys".* FROM "keys" WHERE (("keys"."org_id" = :org) AND ("keys"."id" = :key_id)) LIMIT '1';
UPDATE "keys" SET "status" = 'returned', "updated_at" = now()::timestamp, "last_status_change_at" = now()::timestamp, "version" = "version" + 1 WHERE ((("keys"."org_id" = :org) AND ("keys"."id" = :key_id))) RETURNING "keys".*;
INSERT INTO "key_counts" ("org_id", "development_id", "status", "n") VALUES (:org, :dev, 'issued', -1), (:org, :dev, 'returned', 1) ON CONFLICT ("org_id", "development_id", "status") DO UPDATE SET "n" = ("key_counts"."n" + excluded."n");
DELETE FROM "key_handovers" WHERE (("key_handovers"."org_id" = :org) AND ("key_handovers"."key_id" = :key_id));
INSERT INTO "key_movements" ("id", "org_id", "key_id", "at", "action", "actor_name", "issued_to", "purpose", "expected_return_at", "notes") VALUES (gen_random_uuid()::text, :org, :key_id, now()::timestamp, 'returned', 'Bench', NULL, DEFAULT, DEFAULT, DEFAULT);
SELECT "audit_events"."seq", "audit_events"."hash", EXISTS (SELECT "webhook_endpoints"."id", "webhook_endpoints"."org_id", "webhook_endpoints"."url", "webhook_endpoints"."events", "webhook_endpoints"."enabled", "webhook_endpoints"."disabled_reason", "webhook_endpoints"."secret_sealed", "webhook_endpoints"."last_success_at", "webhook_endpoints"."created_at", "webhook_endpoints"."updated_at" FROM "webhook_endpoints" WHERE (("webhook_endpoints"."org_id" = :org) AND ("webhook_endpoints"."enabled" = 't'))) AS webhooks FROM "audit_events" WHERE ("audit_events"."org_id" = :org) ORDER BY "audit_events"."seq" DESC LIMIT '1' \gset
INSERT INTO "audit_events" ("id", "org_id", "at", "actor_id", "actor_name", "action", "entity_type", "entity_id", "summary", "changes", "seq", "prev_hash", "hash") VALUES (gen_random_uuid()::text, :org, now()::timestamp, NULL, 'Bench', 'key.returned', 'key', :key_id, 'Key returned', '[{"field":"status","from":"issued","to":"returned"},{"field":"issuedTo","from":"Bench Runner","to": null}]', CAST(:seq AS INTEGER) + 1, :hash, md5(random()::text) || md5(random()::text));
SELECT "key_doors"."key_id", "key_doors"."door_id" FROM "key_doors" WHERE (("key_doors"."org_id" = :org) AND ("key_doors"."key_id" = ANY(ARRAY[:key_id]))) ORDER BY "key_doors"."key_id", "key_doors"."door_id";
COMMIT;
SELECT "users"."id", "users"."org_id", "users"."name", "users"."role" FROM ("sessions" INNER JOIN "users" ON ("sessions"."user_id" = "users"."id")) WHERE ((("sessions"."token_hash" = :th) AND ("sessions"."expires_at" > now()::timestamp)) AND ("users"."disabled" = 'f')) LIMIT '1';
BEGIN;
SELECT "organisations"."id" FROM "organisations" WHERE ("organisations"."id" = :org) FOR UPDATE;
SELECT "keys".* FROM "keys" WHERE (("keys"."org_id" = :org) AND ("keys"."id" = :key_id)) LIMIT '1';
UPDATE "keys" SET "status" = 'in_stock', "issued_to" = NULL, "issued_at" = NULL, "issued_by" = NULL, "updated_at" = now()::timestamp, "last_status_change_at" = now()::timestamp, "version" = "version" + 1, "search_text" = lower("key_ref" || E'\n' || "label" || E'\n') WHERE ((("keys"."org_id" = :org) AND ("keys"."id" = :key_id))) RETURNING "keys".*;
INSERT INTO "key_counts" ("org_id", "development_id", "status", "n") VALUES (:org, :dev, 'returned', -1), (:org, :dev, 'in_stock', 1) ON CONFLICT ("org_id", "development_id", "status") DO UPDATE SET "n" = ("key_counts"."n" + excluded."n");
INSERT INTO "key_movements" ("id", "org_id", "key_id", "at", "action", "actor_name", "issued_to", "purpose", "expected_return_at", "notes") VALUES (gen_random_uuid()::text, :org, :key_id, now()::timestamp, 'returned_to_stock', 'Bench', NULL, DEFAULT, DEFAULT, DEFAULT);
SELECT "audit_events"."seq", "audit_events"."hash", EXISTS (SELECT "webhook_endpoints"."id", "webhook_endpoints"."org_id", "webhook_endpoints"."url", "webhook_endpoints"."events", "webhook_endpoints"."enabled", "webhook_endpoints"."disabled_reason", "webhook_endpoints"."secret_sealed", "webhook_endpoints"."last_success_at", "webhook_endpoints"."created_at", "webhook_endpoints"."updated_at" FROM "webhook_endpoints" WHERE (("webhook_endpoints"."org_id" = :org) AND ("webhook_endpoints"."enabled" = 't'))) AS webhooks FROM "audit_events" WHERE ("audit_events"."org_id" = :org) ORDER BY "audit_events"."seq" DESC LIMIT '1' \gset
INSERT INTO "audit_events" ("id", "org_id", "at", "actor_id", "actor_name", "action", "entity_type", "entity_id", "summary", "changes", "seq", "prev_hash", "hash") VALUES (gen_random_uuid()::text, :org, now()::timestamp, NULL, 'Bench', 'key.returned_to_stock', 'key', :key_id, 'Key returned to stock', '[{"field":"status","from":"returned","to":"in_stock"}]', CAST(:seq AS INTEGER) + 1, :hash, md5(random()::text) || md5(random()::text));
SELECT "key_doors"."key_id", "key_doors"."door_id" FROM "key_doors" WHERE (("key_doors"."org_id" = :org) AND ("key_doors"."key_id" = ANY(ARRAY[:key_id]))) ORDER BY "key_doors"."key_id", "key_doors"."door_id";
COMMIT;
