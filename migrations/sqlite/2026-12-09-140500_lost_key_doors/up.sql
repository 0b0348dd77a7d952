-- Doors exposed by lost keys (issue 12 §5): each link of a key to a door says whether the
-- key is lost, kept by the key's status changes in the same transaction, so that the
-- summary counts the exposed doors from this index alone, never from the keys (decision
-- 123). The PostgreSQL set has the same column and index.
ALTER TABLE key_doors ADD COLUMN key_lost BOOLEAN NOT NULL DEFAULT 0;
UPDATE key_doors SET key_lost = 1
WHERE EXISTS (SELECT 1 FROM keys WHERE keys.id = key_doors.key_id AND keys.status = 'lost');
CREATE INDEX key_doors_org_lost_door ON key_doors (org_id, door_id) WHERE key_lost;
