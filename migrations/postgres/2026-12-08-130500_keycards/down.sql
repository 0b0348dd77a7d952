DROP INDEX doorcodes_org_door_ended;
DROP INDEX doorcodes_org_door_created;
DROP INDEX keys_org_development_type_status_ref;
DROP TABLE keycards;
