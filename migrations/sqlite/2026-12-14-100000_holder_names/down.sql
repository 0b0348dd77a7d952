DROP INDEX keys_org_issued_to;
DROP TRIGGER keys_holder_update;
DROP TRIGGER keys_holder_insert;
DROP TABLE holder_names;
DROP TABLE holder_grams;
DROP TRIGGER keys_grams_insert;
DROP TRIGGER keys_grams_update;
INSERT INTO keys_grams (keys_grams) VALUES ('delete-all');
INSERT INTO keys_grams (rowid, grams) SELECT search_id, keyward_search_grams(org_id, search_text) FROM keys;
CREATE TRIGGER keys_grams_insert AFTER INSERT ON keys BEGIN
    UPDATE keys SET search_id = (SELECT IFNULL(MAX(search_id), 0) + 1 FROM keys)
    WHERE id = new.id AND new.search_id IS NULL;
    INSERT INTO keys_grams (rowid, grams)
    SELECT search_id, keyward_search_grams(org_id, search_text) FROM keys WHERE id = new.id;
END;
CREATE TRIGGER keys_grams_update AFTER UPDATE OF search_text ON keys
WHEN old.search_text <> new.search_text BEGIN
    DELETE FROM keys_grams WHERE rowid = new.search_id;
    INSERT INTO keys_grams (rowid, grams) VALUES (new.search_id, keyward_search_grams(new.org_id, new.search_text));
END;
