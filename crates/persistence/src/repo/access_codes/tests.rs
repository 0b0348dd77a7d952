//! What offboarding will call (issue 11 §6, not on the wire yet): `codes_known_by_person`
//! and `flag_for_rotation`, on a real (SQLite) database. The wire paths of the ledger and
//! of rotation are tested end to end in `tests/e2e/code_ledger/`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use keyward_domain::entities::{CodeStatus, CodeType};
use keyward_domain::{Actor, Error, RotationReasonKind, Secret};

use super::ledger::{self, Disclosed, KnownCode};
use super::rotation::{self, Reason};
use super::{CodePatch, NewCode, Reveal};
use crate::connection::AnyConnection;
use crate::repo::{developments, users};
use crate::secrets::{Sealer, SecretKey};
use crate::{DatabaseUrl, Db, StoreResult};

fn owner(conn: &mut AnyConnection, org: &str) -> StoreResult<Actor> {
    let new = users::NewUser {
        email: format!("{org}@example.test"),
        name: format!("{org} owner"),
        role: keyward_domain::Role::Owner,
        password_hash: "x".into(),
    };
    let (org, user) = users::bootstrap(conn, org, new)?;
    Ok(Actor { user_id: user.id, org_id: org.id, name: user.name, role: keyward_domain::Role::Owner })
}

fn code(conn: &mut AnyConnection, sealer: &Sealer, actor: &Actor, label: &str) -> StoreResult<String> {
    let fields = developments::DevelopmentFields {
        name: format!("{label} court"),
        key_prefix: "LC".into(),
        time_zone: keyward_domain::doors::DEFAULT_TIME_ZONE.into(),
        audit_interval_days: None,
    };
    let dev = developments::create(conn, actor, fields)?;
    let new = NewCode {
        development_id: dev.id,
        code_type: CodeType::Gate,
        label: label.into(),
        code: Secret::from("1234#"),
        status: CodeStatus::Active,
        expires_on: None,
        notes: None,
        rotate_by: None,
        key_ids: Vec::new(),
        door_ids: Vec::new(),
    };
    Ok(super::create(conn, sealer, Reveal::Values, actor, new)?.id)
}

fn person(conn: &mut AnyConnection, org_id: &str, id: &str, user_id: Option<&str>) -> StoreResult<()> {
    let user = user_id.map_or("NULL".to_owned(), |u| format!("'{u}'"));
    conn.batch_execute(&format!(
        "INSERT INTO people (id, org_id, name, kind, user_id, created_at, updated_at, version, search_text) \
         VALUES ('{id}', '{org_id}', 'P {id}', 'staff', {user}, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'p')"
    ))?;
    Ok(())
}

#[tokio::test]
async fn offboarding_finds_the_codes_a_person_knows_and_flags_them() {
    let dir = std::env::temp_dir().join(format!("keyward-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.db");
    let _ = std::fs::remove_file(&path);
    let db = Db::connect(&DatabaseUrl::Sqlite(path), 2, Some(Duration::from_secs(5))).await.unwrap();
    db.migrate().await.unwrap();
    let sealer = Sealer::new(&SecretKey::generate());
    db.write(move |c| {
        let a = owner(c, "acme")?;
        let b = owner(c, "other")?;
        let (gate, lift) = (code(c, &sealer, &a, "Gate")?, code(c, &sealer, &a, "Lift")?);
        code(c, &sealer, &a, "Bins")?;
        // Pat is told the gate code; the owner, who is also a person (Olly), typed all
        // three and revealed the lift's.
        person(c, &a.org_id, "pat", None)?;
        person(c, &a.org_id, "olly", Some(&a.user_id))?;
        ledger::record_disclosure(c, &a, &gate, Disclosed::Person("pat".into()), None)?;
        ledger::reveal(c, &sealer, &a, &lift)?;
        let labels = |known: Vec<KnownCode>| known.into_iter().map(|k| k.label).collect::<Vec<_>>();
        assert_eq!(labels(ledger::codes_known_by_person(c, &a.org_id, "pat")?), ["Gate"]);
        assert_eq!(labels(ledger::codes_known_by_person(c, &a.org_id, "olly")?), ["Bins", "Gate", "Lift"]);
        // Another organisation's person is NOT_FOUND.
        let err = ledger::codes_known_by_person(c, &b.org_id, "pat").unwrap_err();
        assert!(matches!(Error::from(err), Error::NotFound));

        // Offboarding Pat: the gate code is due, with the reason; twice is two reasons.
        for known in ledger::codes_known_by_person(c, &a.org_id, "pat")? {
            rotation::flag_for_rotation(c, &a, &known.id, Reason::PersonOffboarded { person_id: "pat".into() })?;
        }
        let flagged = super::get(c, &sealer, Reveal::Values, &a.org_id, &gate)?;
        assert!(flagged.rotation_due);
        assert_eq!(flagged.rotation_reasons.len(), 1);
        assert_eq!(flagged.rotation_reasons[0].kind, RotationReasonKind::PersonOffboarded);
        assert_eq!(flagged.rotation_reasons[0].person_id.as_deref(), Some("pat"));
        assert_eq!(crate::repo::summary::summary(c, &a.org_id, None)?.codes_due_for_rotation, 1);
        assert!(!super::get(c, &sealer, Reveal::Values, &a.org_id, &lift)?.rotation_due);
        // Another organisation cannot flag it.
        let err = rotation::flag_for_rotation(c, &b, &gate, Reason::KeyLost { key_id: "k".into() }).unwrap_err();
        assert!(matches!(Error::from(err), Error::NotFound));

        // A new value: nobody but whoever typed it knows it, and the reasons are gone.
        let patch = CodePatch { code: Some(Secret::from("9999*")), ..CodePatch::default() };
        let rotated = super::update(c, &sealer, Reveal::Values, &a, &gate, None, patch)?;
        assert!(!rotated.rotation_due && rotated.rotation_reasons.is_empty());
        assert!(ledger::codes_known_by_person(c, &a.org_id, "pat")?.is_empty());
        assert_eq!(labels(ledger::codes_known_by_person(c, &a.org_id, "olly")?), ["Bins", "Gate", "Lift"]);
        assert_eq!(crate::repo::summary::summary(c, &a.org_id, None)?.codes_due_for_rotation, 0);
        Ok(())
    })
    .await
    .unwrap();
}
