//! One example call per procedure, for the OpenRPC document's `examples`: realistic
//! params a client would send. Each must parse as the procedure's input through the
//! server's own params parser (checked when the document is generated), and the bindings
//! tests check each against the document's params schema, so the two cannot drift apart
//! (decision 111). A procedure without an entry gets `{}`, which fails here unless all its
//! params are optional.

use serde_json::{Value, json};

use crate::procedure::Procedure;

const DEVELOPMENT: &str = "0193a1b2-7c00-7000-8000-0000000000a1";
const KEY: &str = "0193a1b2-7c00-7000-8000-0000000000b1";
const CODE: &str = "0193a1b2-7c00-7000-8000-0000000000c1";
const PERSON: &str = "0193a1b2-7c00-7000-8000-0000000000d1";
const FIRM: &str = "0193a1b2-7c00-7000-8000-0000000000e1";
const DOOR: &str = "0193a1b2-7c00-7000-8000-0000000000f1";
const USER: &str = "0193a1b2-7c00-7000-8000-0000000001a1";
const GRANT: &str = "0193a1b2-7c00-7000-8000-0000000001b1";
const AT: &str = "2026-03-02T09:30:00Z";
const WEBHOOK: &str = "0193a1b2-7c00-7000-8000-0000000001c1";
const DELIVERY: &str = "0193a1b2-7c00-7000-8000-0000000001d1";
const KEY_SET: &str = "0193a1b2-7c00-7000-8000-0000000001e1";
const AUDIT: &str = "0193a1b2-7c00-7000-8000-0000000001f1";

fn example(procedure: &str) -> Value {
    match procedure {
        "auth.login" => json!({ "email": "sam@acme.example", "password": "correct horse battery" }),
        "users.create" => json!({
            "email": "alex@acme.example", "name": "Alex Doe", "role": "team", "password": "a long passphrase",
        }),
        "users.update" => json!({ "id": USER, "role": "manager" }),
        "developments.create" => json!({
            "name": "Orchard Place", "keyPrefix": "OP", "timeZone": "Europe/London", "auditIntervalDays": 90,
        }),
        "developments.update" => json!({ "id": DEVELOPMENT, "name": "Orchard Place North", "auditIntervalDays": 30 }),
        "developments.delete"
        | "doors.get"
        | "doors.delete"
        | "keys.getKey"
        | "keys.keyHistory"
        | "keys.blastRadius"
        | "keys.deleteKey"
        | "people.get"
        | "people.archive"
        | "firms.get"
        | "firms.archive"
        | "keys.deleteAccessCode"
        | "keys.accessCodeHistory"
        | "keys.revealAccessCode"
        | "grants.get"
        | "keySets.get"
        | "keySets.delete" => {
            json!({ "id": id_for(procedure) })
        }
        "doors.list" => json!({ "developmentId": DEVELOPMENT, "kind": "entrance", "limit": 20 }),
        "doors.create" => json!({ "developmentId": DEVELOPMENT, "name": "Main entrance", "kind": "entrance" }),
        "doors.update" => json!({ "id": DOOR, "expectedVersion": 1, "notes": "Closer replaced" }),
        "doors.exportCsv" => json!({ "developmentId": DEVELOPMENT, "kind": "entrance" }),
        "doors.importCsv" => json!({
            "csv": format!("id,developmentId,name,kind,notes\r\n,{DEVELOPMENT},Bin store,bin_store,\r\n"), "dryRun": true,
        }),
        "keys.listKeys" => json!({ "developmentId": DEVELOPMENT, "status": "issued", "overdue": true, "limit": 50 }),
        "keys.suggestKeyRef" => json!({ "developmentId": DEVELOPMENT }),
        "keys.createKey" => json!({
            "developmentId": DEVELOPMENT, "keyType": "physical_key", "label": "Plant room", "securityLevel": "high",
        }),
        "keys.updateKey" => json!({ "id": KEY, "expectedVersion": 3, "label": "Plant room (spare)" }),
        "keys.issueKey" => json!({
            "id": KEY, "holderId": PERSON, "purpose": "Boiler service", "expectedReturnAt": "2026-03-02T17:00:00Z",
        }),
        "keys.returnKey" | "keys.returnToStock" | "keys.markLost" | "keys.markFound" | "keys.markDamaged"
        | "keys.deactivateKey" | "keys.reactivateKey" => json!({ "id": KEY, "notes": "Checked at the desk" }),
        "keys.holderAt" => json!({ "id": KEY, "at": AT }),
        "keys.confirmHandover" => json!({ "id": KEY, "code": "482913" }),
        "keys.setDoors" => json!({ "id": KEY, "expectedVersion": 3, "doorIds": [DOOR] }),
        "keySets.list" => json!({ "state": "incomplete", "limit": 20 }),
        "keySets.create" => json!({ "developmentId": DEVELOPMENT, "name": "Caretaker's ring", "keyIds": [KEY] }),
        "keySets.update" => json!({ "id": KEY_SET, "expectedVersion": 1, "name": "Caretaker's ring (spare)" }),
        "keySets.issue" => json!({
            "id": KEY_SET, "holderId": PERSON, "purpose": "Weekend cover", "expectedReturnAt": "2026-03-02T17:00:00Z",
        }),
        "keySets.return" => json!({ "id": KEY_SET, "keyIds": [KEY], "notes": "The fob is still with Jo" }),
        "people.list" => json!({ "search": "doe", "kind": "contractor", "archived": false }),
        "people.create" => json!({ "name": "Jo Doe", "kind": "contractor", "phone": "+447400123456", "firmId": FIRM }),
        "people.update" => json!({ "id": PERSON, "expectedVersion": 2, "email": "jo@sparks.example" }),
        "people.offboard" => json!({ "id": PERSON, "reason": "Contract ended" }),
        "people.holdingsAt" => json!({ "id": PERSON, "at": AT }),
        "people.exportCsv" => json!({ "kind": "contractor", "firmId": FIRM }),
        "people.importCsv" => json!({
            "csv": "name,kind,phone,email\r\nJo Doe,contractor,'+447400123456,jo@sparks.example\r\n", "dryRun": true,
        }),
        "firms.list" => json!({ "search": "sparks", "limit": 20 }),
        "firms.create" => json!({ "name": "Sparks Electrical", "phone": "+447400123401" }),
        "firms.update" => json!({ "id": FIRM, "expectedVersion": 1, "notes": "Out-of-hours callouts" }),
        "firms.offboard" => json!({ "id": FIRM, "reason": "Contract ended" }),
        "keys.listAccessCodes" => json!({ "developmentId": DEVELOPMENT, "codeType": "gate", "rotationDue": true }),
        "keys.exportAccessCodesCsv" => json!({ "developmentId": DEVELOPMENT, "includeValues": true }),
        "keys.importAccessCodesCsv" => json!({
            "csv": format!("developmentId,codeType,label,code\r\n{DEVELOPMENT},gate,Main gate,4821\r\n"), "dryRun": true,
        }),
        "keys.exportKeysCsv" => json!({ "developmentId": DEVELOPMENT, "status": "issued" }),
        "keys.importKeysCsv" => json!({
            "csv": format!("keyRef,developmentId,keyType,label\r\nOP-014,{DEVELOPMENT},physical_key,Plant room\r\n"),
            "dryRun": true,
        }),
        "keys.createAccessCode" => json!({
            "developmentId": DEVELOPMENT, "codeType": "gate", "label": "Car park gate", "code": "4821#",
            "rotateBy": "2026-06-30",
        }),
        "keys.updateAccessCode" => json!({ "id": CODE, "expectedVersion": 4, "code": "9930#" }),
        "keys.recordCodeDisclosure" => json!({ "id": CODE, "personId": PERSON, "note": "Told by phone" }),
        "keys.accessCodeExposure" => json!({ "id": CODE, "limit": 20 }),
        "keys.accessCodeKnownBy" => json!({ "id": CODE, "at": AT }),
        "grants.list" => json!({ "developmentId": DEVELOPMENT, "personId": PERSON }),
        "grants.create" => json!({
            "developmentId": DEVELOPMENT,
            "name": "Cleaning contract",
            "startsAt": "2026-03-01T00:00:00Z",
            "doors": [{ "doorId": DOOR, "schedule": [{ "days": ["mon", "wed", "fri"], "start": "07:00", "end": "10:00" }] }],
            "personIds": [PERSON],
            "doorcode": { "policy": "random" },
        }),
        "grants.update" => json!({
            "id": GRANT,
            "expectedVersion": 3,
            "endsAt": "2026-09-30T00:00:00Z",
            "doors": [{ "doorId": DOOR, "schedule": [{ "days": ["mon", "wed", "fri"], "start": "06:30", "end": "10:00" }] }],
        }),
        "grants.addPeople" => {
            json!({ "id": GRANT, "personIds": [PERSON], "doorcode": { "policy": "preferred", "code": "482913" } })
        }
        "grants.removePeople" => json!({ "id": GRANT, "personIds": [PERSON] }),
        "grants.end" => json!({ "id": GRANT, "at": AT }),
        "grants.replaceKeycard" => json!({ "id": GRANT, "personId": PERSON, "oldCard": "lost", "policy": "random" }),
        "grants.sendCredentials" => json!({ "id": GRANT, "personId": PERSON, "idempotencyKey": "credentials-7f3a" }),
        "access.check" => json!({ "personId": PERSON, "doorId": DOOR, "at": AT }),
        "reports.doorLog" => {
            json!({ "doorId": DOOR, "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z", "limit": 100 })
        }
        "reports.doorLogCsv" => json!({ "doorId": DOOR, "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z" }),
        "keys.summary" => json!({ "developmentId": DEVELOPMENT }),
        "keys.sendSms" => json!({
            "target": { "type": "accessCode", "id": CODE }, "personId": PERSON, "idempotencyKey": "send-7f3a",
        }),
        "settings.update" => json!({ "maskCodesInLists": true }),
        "settings.updateSms" => json!({
            "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "twilio-auth-token",
            "fromNumber": "+447400123400",
        }),
        "settings.updateReminders" => json!({
            "enabled": true, "firstAfterMinutes": 30, "repeatEveryHours": 24, "maxReminders": 3,
            "escalateAfterHours": 48, "escalateToUserIds": [], "escalatePhone": "+447400123499",
            "quietHours": { "start": "21:00", "end": "08:00" }, "maxExtendDays": 7,
        }),
        "reports.overdue" => json!({ "developmentId": DEVELOPMENT, "limit": 20 }),
        "audit.list" => json!({ "entityType": "key", "entityId": KEY, "limit": 20 }),
        // An address, not a name: the example must pass the create's check (a host that
        // resolves to public addresses) on a machine without DNS too. It is example.com's.
        "webhooks.create" => json!({
            "url": "https://93.184.215.14/keyward", "events": ["key.issued", "key.returned", "key.lost"],
        }),
        "webhooks.update" => json!({ "id": WEBHOOK, "events": ["key.issued", "access_code.changed"], "enabled": true }),
        "webhooks.delete" | "webhooks.rotateSecret" => json!({ "id": WEBHOOK }),
        "webhooks.deliveries" => json!({ "endpointId": WEBHOOK, "status": "failed" }),
        "webhooks.resend" => json!({ "deliveryId": DELIVERY }),
        "audits.start" => json!({ "developmentId": DEVELOPMENT }),
        "audits.record" => json!({ "id": AUDIT, "keyRef": "OP-001" }),
        "audits.complete" | "audits.resolve" | "audits.cancel" | "audits.get" => json!({ "id": AUDIT }),
        "audits.lines" => json!({ "id": AUDIT, "outcome": "missing" }),
        _ => json!({}),
    }
}

/// The entity an `{id}` example names.
fn id_for(procedure: &str) -> &'static str {
    match procedure.split_once('.') {
        Some(("developments", _)) => DEVELOPMENT,
        Some(("doors", _)) => DOOR,
        Some(("people", _)) => PERSON,
        Some(("firms", _)) => FIRM,
        Some(("grants", _)) => GRANT,
        Some(("keySets", _)) => KEY_SET,
        Some(("keys", method)) if method.contains("AccessCode") => CODE,
        _ => KEY,
    }
}

/// `P`'s example params, by name, once they parse as `P::Input`.
pub fn params<P: Procedure>() -> Vec<(String, Value)> {
    let example = example(P::NAME);
    if let Err(e) = crate::params::parse::<P::Input>(Some(&example.to_string())) {
        panic!(
            "{}: its example params {example} do not parse: {e}; give it one in crates/rpc/src/openrpc/examples.rs",
            P::NAME
        );
    }
    let Value::Object(fields) = example else { unreachable!("params parse only from an object") };
    fields.into_iter().collect()
}
