DROP INDEX key_doors_org_lost_door;
ALTER TABLE key_doors DROP COLUMN key_lost;
