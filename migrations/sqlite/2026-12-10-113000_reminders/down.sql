DROP INDEX keys_org_development_status_due;
DROP TABLE key_reminders;
DROP TABLE reminder_settings;
