DROP TABLE sms_daily_usage;
DROP TABLE sms_messages;
DROP TABLE sms_settings;
