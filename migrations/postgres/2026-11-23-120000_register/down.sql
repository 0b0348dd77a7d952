DROP TABLE audit_events;
DROP TABLE key_movements;
DROP TABLE keys;
DROP TABLE developments;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE organisations;
