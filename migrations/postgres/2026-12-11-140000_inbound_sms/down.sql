DROP TABLE sms_opt_outs;
ALTER TABLE reminder_settings DROP COLUMN max_extend_days;
DROP INDEX sms_settings_messaging_service;
DROP INDEX sms_settings_from_number;
DROP INDEX people_org_phone;
DROP INDEX keys_org_holder_phone;
ALTER TABLE keys DROP COLUMN holder_phone;
ALTER TABLE keys DROP COLUMN return_claimed_at;
