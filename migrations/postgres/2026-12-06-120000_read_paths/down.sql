DROP INDEX keys_org_search_trgm;
CREATE INDEX keys_search_trgm ON keys USING gin (search_text gin_trgm_ops);
DROP INDEX keys_org_status_due;
DROP INDEX keys_org_development_status_ref;
CREATE INDEX keys_org_development_status ON keys (org_id, development_id, status);
DROP TABLE key_ref_floors;
DROP TABLE access_code_counts;
DROP TABLE key_due_days;
DROP TABLE key_counts;
