ALTER TABLE organisations DROP COLUMN doorcode_length;
