//! `grants.sendCredentials` (issue 12 §3): a holder's doorcodes opened for their SMS, and
//! the doorcode-exposure ledger (`doorcode_exposures`) written when the provider accepts
//! it, in the send's `finish` transaction (decision 127).

use diesel::prelude::*;
use keyward_domain::grant::CredentialStatus;
use keyward_domain::schedule::Schedule;
use keyward_domain::{Actor, Error, Secret};

use super::schedule_of;
use crate::connection::AnyConnection;
use crate::error::StoreResult;
use crate::schema::{developments, doorcode_exposures, doorcodes, doors, grant_doors, grant_people, grants};
use crate::secrets::Sealer;
use crate::time;

/// What a holder's SMS says: the grant, and each active doorcode with its door.
#[derive(Debug)]
pub struct CredentialsToSend {
    pub grant_name: String,
    pub development_name: String,
    /// Ordered by door name, then door id.
    pub doorcodes: Vec<DoorcodeToSend>,
}

/// One doorcode for the message. `code` prints `***`.
#[derive(Debug)]
pub struct DoorcodeToSend {
    pub sent: DoorcodeSent,
    pub door_name: String,
    pub code: Secret,
    pub schedule: Schedule,
}

/// What the ledger records of one doorcode sent (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorcodeSent {
    pub doorcode_id: String,
    pub door_id: String,
    pub grant_id: String,
    pub person_id: String,
}

/// The person's active doorcodes under the grant, opened. NOT_FOUND for another
/// organisation's grant; INVALID_INPUT `personId` when the person does not hold the grant
/// or holds no active doorcode under it (the grant gives none, or it ended).
pub fn to_send(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    org_id: &str,
    grant_id: &str,
    person_id: &str,
) -> StoreResult<CredentialsToSend> {
    let (grant_name, development_name): (String, String) = grants::table
        .inner_join(developments::table)
        .filter(grants::org_id.eq(org_id))
        .filter(grants::id.eq(grant_id))
        .select((grants::name, developments::name))
        .first(conn)?;
    let holds: bool = diesel::select(diesel::dsl::exists(
        grant_people::table.filter(grant_people::grant_id.eq(grant_id)).filter(grant_people::person_id.eq(person_id)),
    ))
    .get_result(conn)?;
    if !holds {
        return Err(Error::invalid("personId", "does not hold this grant").into());
    }
    let rows: Vec<(String, String, String, String, String)> = doorcodes::table
        .inner_join(doors::table.on(doors::id.eq(doorcodes::door_id)))
        .inner_join(
            grant_doors::table
                .on(grant_doors::grant_id.eq(doorcodes::grant_id).and(grant_doors::door_id.eq(doorcodes::door_id))),
        )
        .filter(doorcodes::org_id.eq(org_id))
        .filter(doorcodes::grant_id.eq(grant_id))
        .filter(doorcodes::person_id.eq(person_id))
        .filter(doorcodes::status.eq(CredentialStatus::Active.as_str()))
        .order((doors::name, doors::id))
        .select((doorcodes::id, doorcodes::door_id, doors::name, doorcodes::code_sealed, grant_doors::schedule))
        .load(conn)?;
    if rows.is_empty() {
        return Err(Error::invalid("personId", "holds no active doorcode under this grant").into());
    }
    let doorcodes = rows
        .into_iter()
        .map(|(doorcode_id, door_id, door_name, sealed, schedule)| {
            Ok(DoorcodeToSend {
                sent: DoorcodeSent {
                    doorcode_id,
                    door_id,
                    grant_id: grant_id.to_owned(),
                    person_id: person_id.to_owned(),
                },
                door_name,
                code: Secret::from(sealer.open(&sealed)?),
                schedule: schedule_of(&schedule)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(CredentialsToSend { grant_name, development_name, doorcodes })
}

/// Records that these doorcodes reached their person by SMS `sms_id` (inside the caller's
/// write transaction: the send's `finish`).
pub fn record_sent(conn: &mut AnyConnection, actor: &Actor, sms_id: &str, sent: &[DoorcodeSent]) -> StoreResult<()> {
    let now = time::now();
    for doorcode in sent {
        diesel::insert_into(doorcode_exposures::table)
            .values((
                doorcode_exposures::id.eq(time::new_id()),
                doorcode_exposures::org_id.eq(&actor.org_id),
                doorcode_exposures::doorcode_id.eq(&doorcode.doorcode_id),
                doorcode_exposures::door_id.eq(&doorcode.door_id),
                doorcode_exposures::grant_id.eq(&doorcode.grant_id),
                doorcode_exposures::person_id.eq(&doorcode.person_id),
                doorcode_exposures::at.eq(now),
                doorcode_exposures::channel.eq("sms"),
                doorcode_exposures::sms_id.eq(sms_id),
                doorcode_exposures::actor_id.eq(&actor.user_id),
                doorcode_exposures::actor_name.eq(&actor.name),
            ))
            .execute(conn)?;
    }
    Ok(())
}
