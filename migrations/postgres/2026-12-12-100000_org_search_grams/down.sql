CREATE INDEX keys_org_search_trgm ON keys USING gin (org_id, search_text gin_trgm_ops);
DROP INDEX keys_org_search_grams;
DROP FUNCTION keyward_search_grams(text, text);
