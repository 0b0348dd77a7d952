//! The code-exposure ledger: every time a code's value reached someone (`set`, `sms`,
//! `disclosure`, `reveal`), tied to the value it exposed. Who has known the current
//! value, who knew the value in force at an instant, and which codes a person knows.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::{
    AccessCode, AccessCodeExposure, AccessCodeKnownBy, Actor, CodeExposure, Error, ExposureChannel, FieldChange,
    KnownBy, Page, PageRequest, RevealedCode, Secret, ValuePeriod,
};

use super::{CodeRow, ENTITY, find};
use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult};
use crate::repo::audit::{self, NewEvent};
use crate::repo::people::{self, PersonRef};
use crate::schema::{access_code_values, access_codes, code_exposures};
use crate::secrets::Sealer;
use crate::time;

/// Who learnt a value: a person of the directory, a user, or a bare name and/or phone.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub person_id: Option<String>,
    pub user_id: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    pub sms_id: Option<String>,
    pub note: Option<String>,
}

impl Recipient {
    /// The signed-in user themselves (`set`, `reveal`).
    pub fn user(actor: &Actor) -> Recipient {
        Recipient { user_id: Some(actor.user_id.clone()), name: actor.name.clone(), ..Recipient::default() }
    }

    /// A person of the directory, as they are now.
    pub fn person(person: &PersonRef) -> Recipient {
        Recipient {
            person_id: Some(person.id.clone()),
            user_id: person.user_id.clone(),
            name: person.name.clone(),
            phone: person.phone.clone(),
            ..Recipient::default()
        }
    }
}

/// A person who may be told a code: one of the organisation's (NOT_FOUND otherwise), not
/// archived (PERSON_ARCHIVED, as for `keys.issueKey`).
pub fn active_person(conn: &mut AnyConnection, org_id: &str, person_id: &str) -> StoreResult<PersonRef> {
    let person = people::person_ref(conn, org_id, person_id)?;
    if person.archived() {
        return Err(Error::PersonArchived.into());
    }
    Ok(person)
}

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = code_exposures)]
struct ExposureRow {
    id: String,
    org_id: String,
    code_id: String,
    value_version: i32,
    at: NaiveDateTime,
    channel: String,
    person_id: Option<String>,
    user_id: Option<String>,
    name: String,
    phone: Option<String>,
    sms_id: Option<String>,
    note: Option<String>,
    actor_id: Option<String>,
    actor_name: String,
}

impl ExposureRow {
    fn into_exposure(self) -> StoreResult<CodeExposure> {
        Ok(CodeExposure {
            channel: ExposureChannel::parse(&self.channel).ok_or_else(|| {
                StoreError::from(Error::Internal(format!("unknown exposure channel {:?}", self.channel)))
            })?,
            id: self.id,
            at: time::from_db(self.at),
            value_version: self.value_version,
            person_id: self.person_id,
            user_id: self.user_id,
            name: self.name,
            phone: self.phone,
            sms_id: self.sms_id,
            note: self.note,
            actor_name: self.actor_name,
        })
    }
}

/// Appends one exposure of value `value_version` of the code, recorded by `actor`.
pub(crate) fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    code_id: &str,
    value_version: i32,
    at: NaiveDateTime,
    channel: ExposureChannel,
    who: Recipient,
) -> StoreResult<CodeExposure> {
    let row = ExposureRow {
        id: time::new_id(),
        org_id: actor.org_id.clone(),
        code_id: code_id.to_owned(),
        value_version,
        at,
        channel: channel.as_str().to_owned(),
        person_id: who.person_id,
        user_id: who.user_id,
        name: who.name,
        phone: who.phone,
        sms_id: who.sms_id,
        note: who.note,
        actor_id: Some(actor.user_id.clone()),
        actor_name: actor.name.clone(),
    };
    diesel::insert_into(code_exposures::table).values(&row).execute(conn)?;
    row.into_exposure()
}

/// `keys.sendSms` of a code, once the provider accepted it: value `value_version` (the one
/// the message carried) reached `who`. Inside the send's outcome transaction; nothing is
/// recorded if the code was deleted meanwhile.
pub fn record_sms(
    conn: &mut AnyConnection,
    actor: &Actor,
    code_id: &str,
    value_version: i32,
    who: Recipient,
) -> StoreResult<()> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        access_codes::table.filter(access_codes::org_id.eq(&actor.org_id)).filter(access_codes::id.eq(code_id)),
    ))
    .get_result(conn)?;
    if exists {
        record(conn, actor, code_id, value_version, time::now(), ExposureChannel::Sms, who)?;
    }
    Ok(())
}

/// `keys.revealAccessCode`: the value, recorded in the ledger against the value returned
/// (read and recorded in one transaction, after the organisation's lock, so that a
/// concurrent change of value is wholly before or after it), with an audit event.
pub fn reveal(conn: &mut AnyConnection, sealer: &Sealer, actor: &Actor, id: &str) -> StoreResult<RevealedCode> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let row = find(conn, &actor.org_id, id)?;
    let code = Secret::from(sealer.open(&row.code_sealed)?);
    let summary = format!("Access code {} revealed", row.label);
    let exposure = record_reveal(conn, actor, id, row.value_version, time::now(), summary)?;
    Ok(RevealedCode { id: row.id, code, value_version: row.value_version, exposure_id: exposure.id })
}

/// A value shown to the actor: its exposure `reveal` and the audit event
/// `accessCode.revealed`.
fn record_reveal(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    value_version: i32,
    at: NaiveDateTime,
    summary: String,
) -> StoreResult<CodeExposure> {
    let exposure = record(conn, actor, id, value_version, at, ExposureChannel::Reveal, Recipient::user(actor))?;
    let event =
        NewEvent { action: "accessCode.revealed", entity_type: ENTITY, entity_id: id, summary, changes: Vec::new() };
    audit::record(conn, actor, event)?;
    Ok(exposure)
}

/// `keys.exportAccessCodesCsv {includeValues: true}`: the codes that match with their
/// values ([`super::export`], at most `max + 1`), each value revealed to the exporting
/// user and recorded as `keys.revealAccessCode` records one (an exposure `reveal` and an
/// audit event `accessCode.revealed`). The codes are read after the organisation's lock,
/// so that a code deleted or changed meanwhile is wholly before or after the export (read
/// before the lock, a code deleted in between failed its exposure's foreign key). Over
/// `max`, nothing is recorded: the caller refuses the export.
pub fn export_revealed(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    actor: &Actor,
    f: &super::CodeFilter,
    max: usize,
) -> StoreResult<Vec<AccessCode>> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let codes = super::export(conn, sealer, super::Reveal::Unmasked, &actor.org_id, f, max)?;
    if codes.len() <= max {
        let now = time::now();
        for code in &codes {
            let summary = format!("Access code {} revealed (CSV export)", code.label);
            record_reveal(conn, actor, &code.id, code.value_version, now, summary)?;
        }
    }
    Ok(codes)
}

/// Who staff told the code to.
#[derive(Debug, Clone)]
pub enum Disclosed {
    Person(String),
    Name(String),
}

/// `keys.recordCodeDisclosure`: staff told the current value to someone.
pub fn record_disclosure(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    to: Disclosed,
    note: Option<String>,
) -> StoreResult<CodeExposure> {
    crate::repo::lock_organisation(conn, &actor.org_id)?;
    let row = find(conn, &actor.org_id, id)?;
    let who = match to {
        Disclosed::Person(person_id) => Recipient::person(&active_person(conn, &actor.org_id, &person_id)?),
        Disclosed::Name(name) => Recipient { name, ..Recipient::default() },
    };
    let who = Recipient { note, ..who };
    let name = who.name.clone();
    let exposure = record(conn, actor, id, row.value_version, time::now(), ExposureChannel::Disclosure, who)?;
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "accessCode.disclosed",
            entity_type: ENTITY,
            entity_id: id,
            summary: format!("Access code {} disclosed to {name}", row.label),
            changes: vec![FieldChange::new("disclosedTo", None::<&str>, Some(&name))],
        },
    )?;
    Ok(exposure)
}

/// When value `version` of the code was set; the code's last update for a value the
/// ledger never saw start (a code loaded in bulk).
fn period(conn: &mut AnyConnection, code: &CodeRow, version: i32) -> StoreResult<ValuePeriod> {
    let started = |conn: &mut AnyConnection, v: i32| -> StoreResult<Option<NaiveDateTime>> {
        Ok(access_code_values::table
            .filter(access_code_values::code_id.eq(&code.id))
            .filter(access_code_values::value_version.eq(v))
            .select(access_code_values::started_at)
            .first(conn)
            .optional()?)
    };
    let since = started(conn, version)?.unwrap_or(code.updated_at);
    let until = if version < code.value_version { started(conn, version + 1)? } else { None };
    Ok(ValuePeriod { value_version: version, since: time::from_db(since), until: until.map(time::from_db) })
}

/// `keys.accessCodeExposure`: a page of the current value's exposures, oldest first.
pub fn exposure(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    page: PageRequest,
) -> StoreResult<AccessCodeExposure> {
    let code = find(conn, org_id, id)?;
    let period = period(conn, &code, code.value_version)?;
    let of_value = || {
        code_exposures::table
            .filter(code_exposures::code_id.eq(&code.id))
            .filter(code_exposures::value_version.eq(code.value_version))
    };
    let total: i64 = of_value().count().get_result(conn)?;
    let rows: Vec<ExposureRow> = of_value()
        .order((code_exposures::at, code_exposures::id))
        .limit(i64::from(page.limit))
        .offset(page.offset())
        .select(ExposureRow::as_select())
        .load(conn)?;
    let items = rows.into_iter().map(ExposureRow::into_exposure).collect::<StoreResult<Vec<_>>>()?;
    Ok(AccessCodeExposure {
        id: code.id.clone(),
        period,
        exposures: Page::counted(items, crate::repo::count_i32(total), page),
    })
}

/// `keys.accessCodeKnownBy`: the value in force at `at` (the last one set at or before
/// it) and everyone it had reached by `at`, each with the exposures that say so.
pub fn known_by(conn: &mut AnyConnection, org_id: &str, id: &str, at: DateTime<Utc>) -> StoreResult<AccessCodeKnownBy> {
    let at = time::to_db(at);
    let code = find(conn, org_id, id)?;
    let version: Option<i32> = access_code_values::table
        .filter(access_code_values::code_id.eq(&code.id))
        .filter(access_code_values::started_at.le(at))
        .order(access_code_values::value_version.desc())
        .select(access_code_values::value_version)
        .first(conn)
        .optional()?;
    let mut answer =
        AccessCodeKnownBy { id: code.id.clone(), at: time::from_db(at), period: None, known_by: Vec::new() };
    let Some(version) = version else { return Ok(answer) };
    answer.period = Some(period(conn, &code, version)?);
    let rows: Vec<ExposureRow> = code_exposures::table
        .filter(code_exposures::code_id.eq(&code.id))
        .filter(code_exposures::value_version.eq(version))
        .filter(code_exposures::at.le(at))
        .order((code_exposures::at, code_exposures::id))
        .select(ExposureRow::as_select())
        .load(conn)?;
    for row in rows {
        let same = |k: &KnownBy| match (&row.person_id, &row.user_id) {
            (Some(p), _) => k.person_id.as_ref() == Some(p),
            (None, Some(u)) => k.person_id.is_none() && k.user_id.as_ref() == Some(u),
            (None, None) => k.person_id.is_none() && k.user_id.is_none() && k.name == row.name && k.phone == row.phone,
        };
        match answer.known_by.iter_mut().find(|k| same(k)) {
            Some(known) => known.exposure_ids.push(row.id),
            None => answer.known_by.push(KnownBy {
                since: time::from_db(row.at),
                exposure_ids: vec![row.id],
                person_id: row.person_id,
                user_id: row.user_id,
                name: row.name,
                phone: row.phone,
            }),
        }
    }
    Ok(answer)
}

/// A code a person knows the current value of.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct KnownCode {
    pub id: String,
    pub label: String,
    pub development_id: String,
}

/// The codes whose current value has reached the person (directly, or as the user they
/// are), ordered by label: what offboarding marks due for rotation. Reads the person's
/// exposures (`code_exposures_org_person`), not the organisation's codes.
pub fn codes_known_by_person(conn: &mut AnyConnection, org_id: &str, person_id: &str) -> StoreResult<Vec<KnownCode>> {
    let person = people::person_ref(conn, org_id, person_id)?;
    let mut query = code_exposures::table
        .inner_join(access_codes::table)
        .filter(code_exposures::org_id.eq(org_id))
        .filter(access_codes::org_id.eq(org_id))
        .filter(code_exposures::value_version.eq(access_codes::value_version))
        .into_boxed();
    query = match &person.user_id {
        Some(user_id) => {
            query.filter(code_exposures::person_id.eq(person_id).or(code_exposures::user_id.eq(user_id.clone())))
        }
        None => query.filter(code_exposures::person_id.eq(person_id)),
    };
    Ok(query
        .select((access_codes::id, access_codes::label, access_codes::development_id))
        .distinct()
        .order((access_codes::label, access_codes::id))
        .load(conn)?)
}
