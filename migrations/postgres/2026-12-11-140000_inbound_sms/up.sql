-- Two-way SMS (issue 13 §3). The other database's set has the same changes.

-- The holder texted RETURNED: staff confirm with keys.returnKey (any status change clears it).
ALTER TABLE keys ADD COLUMN return_claimed_at TIMESTAMP;
-- The holder's number in E.164, as issued (issuedToPhone normalised, or the person's
-- phone): how a text finds the keys its sender holds. Null for keys issued before this
-- column, whose holders are found through the person's phone only.
ALTER TABLE keys ADD COLUMN holder_phone TEXT;
CREATE INDEX keys_org_holder_phone ON keys (org_id, holder_phone) WHERE holder_phone IS NOT NULL;
-- A text from a person of the directory finds their keys through keys_org_holder_ref.
CREATE INDEX people_org_phone ON people (org_id, phone) WHERE phone IS NOT NULL;

-- A text finds its organisation by the number it was sent to.
CREATE INDEX sms_settings_from_number ON sms_settings (from_number);
CREATE INDEX sms_settings_messaging_service ON sms_settings (messaging_service_sid);

-- A holder's EXTEND n asks for at most this many days.
ALTER TABLE reminder_settings ADD COLUMN max_extend_days INTEGER NOT NULL DEFAULT 7;

-- A number that texted STOP (or a synonym) to the organisation's number: no reminders
-- or escalations to it until it texts START.
CREATE TABLE sms_opt_outs (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    phone TEXT NOT NULL,
    opted_out_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, phone)
);
