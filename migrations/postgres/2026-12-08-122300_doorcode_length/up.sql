-- The number of digits of random doorcodes (issue 12 §3): 4 to 8, an organisation setting.
ALTER TABLE organisations ADD COLUMN doorcode_length INTEGER NOT NULL DEFAULT 6;
