-- Search by the organisation's own trigrams (decision 173, `repo/keys/grams.rs`): the FTS5
-- trigram table held every organisation's keys, and a search read every organisation's
-- matches. `keys_grams` indexes terms that carry the organisation (written by
-- `keyward_search_grams`, a function every keyward connection registers), so a search
-- reads its own organisation's candidates only. Contentless, with only row ids kept.
DROP TRIGGER keys_search_insert;
DROP TRIGGER keys_search_update;
DROP TRIGGER keys_search_delete;
DROP TABLE keys_search;

CREATE VIRTUAL TABLE keys_grams USING fts5 (
    grams, content = '', contentless_delete = 1, tokenize = 'ascii', detail = 'none'
);
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
CREATE TRIGGER keys_grams_delete AFTER DELETE ON keys BEGIN
    DELETE FROM keys_grams WHERE rowid = old.search_id;
END;
