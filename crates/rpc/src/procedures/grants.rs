//! `grants.*` and `access.check`: access grants (doors given to people for a period on a
//! weekly schedule, with doorcodes) and whether a person may go through a door.

use chrono::{DateTime, Utc};
use keyward_domain::doorcode::{AllocationPolicy, DoorcodeRequest};
use keyward_domain::grant::{AccessCheck, Grant, KeycardRequest, OldCard};
use keyward_domain::schedule::{AccessPeriod, Schedule, ScheduleWindow};
use keyward_domain::validate::{self, SHORT_TEXT_MAX};
use keyward_domain::{BlastRadius, Capability, Error, Page, Secret};
use keyward_persistence::repo::grants::{self, GrantFilter, NewGrant};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::IdInput;
use crate::procedure::{Access, Call, Procedure};

/// At most this many doors, and this many people, in one grant call.
const MAX_DOORS: usize = 100;
const MAX_PEOPLE: usize = 500;

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListGrantsInput {
    #[serde(default)]
    pub development_id: Option<String>,
    /// Only the grants given to this person.
    #[serde(default)]
    pub person_id: Option<String>,
    /// 1 or more, with page × limit at most 10,000; default 1.
    #[serde(default)]
    pub page: Option<i32>,
    /// 1 to 100; default 50.
    #[serde(default)]
    pub limit: Option<i32>,
}

pub struct ListGrants;
impl Procedure for ListGrants {
    const NAME: &'static str = "grants.list";
    const READ_ONLY: bool = true;
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ListGrantsInput;
    type Output = Page<Grant>;

    async fn call(call: Call<'_>, input: ListGrantsInput) -> Result<Page<Grant>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let page = super::people::numbered_page(input.page, input.limit)?;
        let filter = GrantFilter { development_id: input.development_id, person_id: input.person_id };
        call.app.db.run(move |c| grants::list(c, &org_id, &filter, page)).await
    }
}

pub struct GetGrant;
impl Procedure for GetGrant {
    const NAME: &'static str = "grants.get";
    const READ_ONLY: bool = true;
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = IdInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: IdInput) -> Result<Grant, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| grants::get(c, &org_id, &input.id)).await
    }
}

/// Doorcodes for a grant's people: how they are chosen, and the code for `preferred` /
/// `strict` (4 to 8 digits, not weak; then the grant has exactly one person).
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoorcodeInput {
    #[serde(default)]
    pub policy: AllocationPolicy,
    #[serde(default)]
    pub code: Option<Secret>,
}

/// Keycards for a grant's people: how the card is chosen, and the card (`keyRef`) for
/// `preferred` / `strict` (then the grant has exactly one person).
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeycardInput {
    #[serde(default)]
    pub policy: AllocationPolicy,
    #[serde(default)]
    pub key_ref: Option<String>,
}

/// A door of a grant and its weekly schedule.
#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantDoorInput {
    pub door_id: String,
    /// At most 28 windows; absent or `[]`: at any time of the access period.
    #[serde(default)]
    pub schedule: Vec<ScheduleWindow>,
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGrantInput {
    pub development_id: String,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    /// Null or absent: no end. After `startsAt`.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// 1 to 100 doors of the development, each once; a door's `schedule` (at most 28
    /// windows; `[]`: at any time) is read in the development's time zone.
    pub doors: Vec<GrantDoorInput>,
    /// People of the organisation, not archived; at most 500.
    #[serde(default)]
    pub person_ids: Vec<String>,
    /// Absent: the grant gives no doorcodes.
    #[serde(default)]
    pub doorcode: Option<DoorcodeInput>,
    /// Absent: the grant gives no keycards. Each person is issued a free `card` key of
    /// the development.
    #[serde(default)]
    pub keycard: Option<KeycardInput>,
}

pub struct CreateGrant;
impl Procedure for CreateGrant {
    const NAME: &'static str = "grants.create";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = CreateGrantInput;
    type Output = Grant;

    async fn call(call: Call<'_>, input: CreateGrantInput) -> Result<Grant, Error> {
        let actor = call.actor()?.clone();
        let new = new_grant(input)?;
        let sealer = call.app.sealer.clone();
        call.app.db.write(move |c| grants::create(c, &sealer, &actor, new)).await
    }
}

fn new_grant(input: CreateGrantInput) -> Result<NewGrant, Error> {
    let name = validate::required_line("name", &input.name, SHORT_TEXT_MAX)?;
    let period = AccessPeriod::new(input.starts_at, input.ends_at)?;
    let doors = grant_doors(&input.doors)?;
    let person_ids = people_of("personIds", input.person_ids)?;
    let doorcode = doorcode_request(input.doorcode, person_ids.len())?;
    let keycard = match input.keycard {
        None => None,
        Some(keycard) => {
            let request = KeycardRequest::new("keycard", keycard.policy, keycard.key_ref.as_deref())?;
            if request.key_ref.is_some() && person_ids.len() != 1 {
                return Err(Error::invalid("keycard.keyRef", "is given for exactly one person"));
            }
            Some(request)
        }
    };
    Ok(NewGrant { development_id: input.development_id, name, period, doors, person_ids, doorcode, keycard })
}

/// A grant's doors: 1 to 100, each once, each schedule valid.
pub(super) fn grant_doors(input: &[GrantDoorInput]) -> Result<Vec<(String, Schedule)>, Error> {
    if input.is_empty() || input.len() > MAX_DOORS {
        return Err(Error::invalid("doors", format!("must have 1 to {MAX_DOORS} doors")));
    }
    let mut doors: Vec<(String, Schedule)> = Vec::with_capacity(input.len());
    for (n, door) in input.iter().enumerate() {
        if doors.iter().any(|(door_id, _)| *door_id == door.door_id) {
            return Err(Error::invalid(format!("doors[{n}].doorId"), "is already in doors"));
        }
        let schedule = Schedule::parse(&format!("doors[{n}].schedule"), &door.schedule)?;
        doors.push((door.door_id.clone(), schedule));
    }
    Ok(doors)
}

/// People of a grant call: at most 500, deduplicated, ordered by id.
pub(super) fn people_of(field: &str, mut person_ids: Vec<String>) -> Result<Vec<String>, Error> {
    if person_ids.len() > MAX_PEOPLE {
        return Err(Error::invalid(field, format!("must have at most {MAX_PEOPLE} people")));
    }
    person_ids.sort();
    person_ids.dedup();
    Ok(person_ids)
}

/// A doorcode request for `people` people: a given code is for exactly one.
pub(super) fn doorcode_request(input: Option<DoorcodeInput>, people: usize) -> Result<Option<DoorcodeRequest>, Error> {
    let Some(doorcode) = input else { return Ok(None) };
    let request = DoorcodeRequest::new("doorcode.code", doorcode.policy, doorcode.code)?;
    if request.code.is_some() && people != 1 {
        return Err(Error::invalid("doorcode.code", "is given for exactly one person"));
    }
    Ok(Some(request))
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplaceKeycardInput {
    /// The grant.
    pub id: String,
    /// A person of the grant with an active keycard.
    pub person_id: String,
    /// What became of the old card: marked `lost`, or `returned`.
    pub old_card: OldCard,
    /// How the new card is chosen (default `random`).
    #[serde(default)]
    pub policy: AllocationPolicy,
    /// The card for `preferred` / `strict`.
    #[serde(default)]
    pub key_ref: Option<String>,
}

/// `grants.replaceKeycard`'s answer: the grant with the new keycard, and, when the old
/// card was lost, its blast radius after it was marked lost (as `keys.markLost` answers
/// it; decision 147).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReplacedKeycard {
    #[serde(flatten)]
    pub grant: Grant,
    /// The old card's blast radius when `oldCard` is `lost`; `null` when `returned`.
    pub blast_radius: Option<BlastRadius>,
}

pub struct ReplaceKeycard;
impl Procedure for ReplaceKeycard {
    const NAME: &'static str = "grants.replaceKeycard";
    const ACCESS: Access = Access::Signed(Capability::Edit);
    type Input = ReplaceKeycardInput;
    type Output = ReplacedKeycard;

    async fn call(call: Call<'_>, input: ReplaceKeycardInput) -> Result<ReplacedKeycard, Error> {
        let actor = call.actor()?.clone();
        let request = KeycardRequest::new("", input.policy, input.key_ref.as_deref())?;
        call.app
            .db
            .write(move |c| {
                let (grant, blast_radius) =
                    grants::replace_keycard(c, &actor, &input.id, &input.person_id, input.old_card, &request)?;
                Ok(ReplacedKeycard { grant, blast_radius })
            })
            .await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessCheckInput {
    pub person_id: String,
    pub door_id: String,
    /// Default: now.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

pub struct CheckAccess;
impl Procedure for CheckAccess {
    const NAME: &'static str = "access.check";
    const READ_ONLY: bool = true;
    const ACCESS: Access = Access::Signed(Capability::Read);
    type Input = AccessCheckInput;
    type Output = AccessCheck;

    async fn call(call: Call<'_>, input: AccessCheckInput) -> Result<AccessCheck, Error> {
        let org_id = call.actor()?.org_id.clone();
        let at = validate::instant("at", input.at.unwrap_or_else(keyward_persistence::time::now_utc))?;
        call.app.db.run(move |c| grants::check(c, &org_id, &input.person_id, &input.door_id, at)).await
    }
}
