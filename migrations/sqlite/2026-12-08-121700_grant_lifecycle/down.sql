ALTER TABLE grants DROP COLUMN ended_at;
ALTER TABLE grants DROP COLUMN status;
