DROP TABLE key_set_members;
DROP TABLE key_sets;
