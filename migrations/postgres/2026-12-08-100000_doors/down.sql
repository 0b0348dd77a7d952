DROP TABLE access_code_doors;
DROP TABLE key_doors;
DROP TABLE doors;
ALTER TABLE developments DROP COLUMN time_zone;
