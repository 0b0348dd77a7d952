CREATE INDEX keys_org_search_grams ON keys USING gin (keyward_search_grams(org_id, search_text))
WITH (fastupdate = off);
DROP INDEX keys_org_holder_grams;
DROP TRIGGER keys_search_update ON keys;
DROP TRIGGER keys_search_insert ON keys;
DROP FUNCTION keyward_key_search();
DROP TABLE key_search;
DROP FUNCTION keyward_search_head(text);
DROP FUNCTION keyward_search_holder(text);
