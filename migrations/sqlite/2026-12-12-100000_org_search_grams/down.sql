DROP TRIGGER keys_grams_insert;
DROP TRIGGER keys_grams_update;
DROP TRIGGER keys_grams_delete;
DROP TABLE keys_grams;

CREATE VIRTUAL TABLE keys_search USING fts5 (search_text, tokenize = 'trigram');
INSERT INTO keys_search (rowid, search_text) SELECT search_id, search_text FROM keys;
CREATE TRIGGER keys_search_insert AFTER INSERT ON keys BEGIN
    UPDATE keys SET search_id = (SELECT IFNULL(MAX(search_id), 0) + 1 FROM keys)
    WHERE id = new.id AND new.search_id IS NULL;
    INSERT INTO keys_search (rowid, search_text)
    SELECT search_id, search_text FROM keys WHERE id = new.id;
END;
CREATE TRIGGER keys_search_update AFTER UPDATE OF search_text ON keys
WHEN old.search_text <> new.search_text BEGIN
    UPDATE keys_search SET search_text = new.search_text WHERE rowid = new.search_id;
END;
CREATE TRIGGER keys_search_delete AFTER DELETE ON keys BEGIN
    DELETE FROM keys_search WHERE rowid = old.search_id;
END;
