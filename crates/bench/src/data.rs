//! The data set, generated in memory from one fixed seed: the same rows on every run and
//! on both databases (only the sealed code values, the password hash and the instants,
//! which follow the day the seed runs, differ between runs).
//!
//! The rows are what the procedures would have written: search text through
//! [`keys::search_text`], code values through [`Sealer`], audit events chained through
//! [`ChainedEvent::hash_after`], in the order the procedures would have appended them.
//! Keys are generated in rounds that interleave the organisations row by row, as a
//! long-lived multi-tenant table is on disk.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use keyward_domain::{CodeStatus, CodeType, FieldChange, KeyStatus, KeyType, Role, SecurityLevel};
use keyward_persistence::Sealer;
use keyward_persistence::repo::audit::{ChainedEvent, GENESIS};
use keyward_persistence::repo::keys;
use keyward_persistence::schema::{access_codes, developments, key_movements, organisations, sessions, users};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names;

/// The generator's seed: change it and every row changes.
pub const SEED: u64 = 0x6b65_7977_6172_6421;
/// Every seeded user's password.
pub const PASSWORD: &str = "bench-password";
/// W1's keys: this many per connection, for this many connections.
pub const W1_CONNECTIONS: usize = 16;
pub const W1_KEYS_PER_CONNECTION: usize = 64;

/// How big the data set is.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub small_orgs: usize,
    pub small_devs: usize,
    pub small_keys_per_dev: usize,
    pub small_codes: usize,
    pub large_devs: usize,
    pub large_keys_per_dev: usize,
    pub large_codes_per_dev: usize,
}

impl Shape {
    /// The data set of the benchmark page: 1,000 organisations, 1.1 M keys.
    pub const FULL: Shape = Shape {
        small_orgs: 999,
        small_devs: 2,
        small_keys_per_dev: 500,
        small_codes: 20,
        large_devs: 20,
        large_keys_per_dev: 5_000,
        large_codes_per_dev: 500,
    };
    /// The smoke run's: the same shape, tiny (50 organisations, 7,000 keys).
    pub const QUICK: Shape = Shape {
        small_orgs: 49,
        small_devs: 2,
        small_keys_per_dev: 50,
        small_codes: 4,
        large_devs: 20,
        large_keys_per_dev: 100,
        large_codes_per_dev: 5,
    };

    /// This shape with `keys` keys in bench-large (a multiple of its developments).
    pub fn with_large_keys(self, keys: usize) -> Result<Shape, String> {
        if keys == 0 || !keys.is_multiple_of(self.large_devs) || keys / self.large_devs > 999_999 {
            return Err(format!(
                "--large-keys must be a positive multiple of {} and at most {}",
                self.large_devs,
                self.large_devs * 999_999
            ));
        }
        Ok(Shape { large_keys_per_dev: keys / self.large_devs, ..self })
    }

    pub fn orgs(&self) -> usize {
        1 + self.small_orgs
    }
    pub fn developments(&self) -> usize {
        self.large_devs + self.small_orgs * self.small_devs
    }
    pub fn large_keys(&self) -> usize {
        self.large_devs * self.large_keys_per_dev
    }
    pub fn small_keys(&self) -> usize {
        self.small_devs * self.small_keys_per_dev
    }
    pub fn keys(&self) -> usize {
        self.large_keys() + self.small_orgs * self.small_keys()
    }
    pub fn codes(&self) -> usize {
        self.large_devs * self.large_codes_per_dev + self.small_orgs * self.small_codes
    }
    /// Issued keys: statuses are by key index modulo 100, 60–84 issued.
    pub fn issued(&self) -> usize {
        issued_in(self.large_keys()) + self.small_orgs * issued_in(self.small_keys())
    }
    /// One event per user, organisation, development, key, code and issue.
    pub fn events(&self) -> usize {
        2 * self.orgs() + self.developments() + self.keys() + self.codes() + self.issued()
    }
    /// One movement per key created and per key issued.
    pub fn movements(&self) -> usize {
        self.keys() + self.issued()
    }
}

pub fn issued_in(keys: usize) -> usize {
    (0..keys).filter(|i| status_of(*i) == KeyStatus::Issued).count()
}

/// The status mix of the benchmark page, by key index modulo 100.
pub fn status_of(index: usize) -> KeyStatus {
    match index % 100 {
        0..=59 => KeyStatus::InStock,
        60..=84 => KeyStatus::Issued,
        85..=92 => KeyStatus::Returned,
        93..=96 => KeyStatus::Lost,
        97..=98 => KeyStatus::Damaged,
        _ => KeyStatus::Deactivated,
    }
}

#[derive(Insertable)]
#[diesel(table_name = organisations, treat_none_as_default_value = false)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserRow {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: String,
    pub org_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = developments, treat_none_as_default_value = false)]
pub struct DevRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub key_prefix: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = keyward_persistence::schema::keys, treat_none_as_default_value = false)]
pub struct KeyRow {
    pub id: String,
    pub org_id: String,
    pub development_id: String,
    pub key_ref: String,
    pub ref_prefix: Option<String>,
    pub ref_number: Option<i64>,
    pub key_type: String,
    pub label: String,
    pub status: String,
    pub notes: Option<String>,
    pub issued_to: Option<String>,
    pub issued_to_phone: Option<String>,
    pub issued_at: Option<NaiveDateTime>,
    pub issued_by: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<NaiveDateTime>,
    pub security_level: String,
    pub brand: Option<String>,
    pub key_number: Option<String>,
    pub quantity: i32,
    pub access_restrictions: Option<String>,
    pub emergency_contact: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_status_change_at: Option<NaiveDateTime>,
    pub last_status_change_by: Option<String>,
    pub version: i32,
    pub search_text: String,
}

#[derive(Insertable)]
#[diesel(table_name = key_movements, treat_none_as_default_value = false)]
pub struct MovementRow {
    pub id: String,
    pub org_id: String,
    pub key_id: String,
    pub at: NaiveDateTime,
    pub action: String,
    pub actor_name: String,
    pub issued_to: Option<String>,
    pub purpose: Option<String>,
    pub expected_return_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = access_codes, treat_none_as_default_value = false)]
pub struct CodeRow {
    pub id: String,
    pub org_id: String,
    pub development_id: String,
    pub code_type: String,
    pub label: String,
    pub code_sealed: String,
    pub code_lookup: String,
    pub status: String,
    pub expires_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
    pub search_text: String,
}

/// Everything the seed writes, and what the load generator needs.
#[derive(Default)]
pub struct Dataset {
    pub orgs: Vec<OrgRow>,
    pub users: Vec<UserRow>,
    pub sessions: Vec<SessionRow>,
    pub developments: Vec<DevRow>,
    pub keys: Vec<KeyRow>,
    pub movements: Vec<MovementRow>,
    pub codes: Vec<CodeRow>,
    pub events: Vec<ChainedEvent>,
    /// bench-large's bearer token and the id of its development D07.
    pub large_token: String,
    pub large_d07: String,
    /// One bearer token per small organisation.
    pub small_tokens: Vec<String>,
    /// W1's keys: `token key_id`, in-stock keys of small organisations, no key twice.
    pub w1: Vec<(String, String)>,
}

/// One organisation while it is generated.
struct Org {
    id: String,
    owner_id: String,
    owner_name: String,
    token: String,
    /// (id, prefix) of each development.
    devs: Vec<(String, String)>,
    keys_per_dev: usize,
    seq: i32,
    prev_hash: String,
}

/// A key issued, to be audited in the order of `issued_at` once every key exists.
struct Issue {
    at: NaiveDateTime,
    org: usize,
    key: usize,
}

struct Generator {
    rng: ChaCha8Rng,
    data: Dataset,
    orgs: Vec<Org>,
    /// Where key `index` of organisation `org` is in `data.keys`.
    key_at: HashMap<(usize, usize), usize>,
}

/// Generates the data set of `shape`. Instants count back from midnight UTC of `today`.
pub fn generate(shape: Shape, sealer: &Sealer, password_hash: &str, today: NaiveDate) -> Dataset {
    let anchor = today.and_hms_opt(0, 0, 0).expect("midnight exists");
    let mut g = Generator {
        rng: ChaCha8Rng::seed_from_u64(SEED),
        data: Dataset::default(),
        orgs: Vec::new(),
        key_at: HashMap::new(),
    };
    let founded = anchor - Duration::days(121);
    let expires = Utc::now().naive_utc() + Duration::days(365);
    let mut org_names = vec![("bench-large".to_owned(), shape.large_devs, shape.large_keys_per_dev)];
    org_names.extend(
        (1..=shape.small_orgs).map(|n| (format!("bench-small-{n:03}"), shape.small_devs, shape.small_keys_per_dev)),
    );
    for (n, (name, devs, keys_per_dev)) in org_names.into_iter().enumerate() {
        let at = founded + Duration::seconds(n as i64);
        g.organisation(name, devs, keys_per_dev, at, expires, password_hash);
    }
    g.data.large_token = g.orgs[0].token.clone();
    g.data.large_d07 = g.orgs[0].devs[6].0.clone();
    g.data.small_tokens = g.orgs[1..].iter().map(|o| o.token.clone()).collect();

    let issues = g.keys(shape, anchor);
    g.codes(shape, sealer, anchor - Duration::days(100));
    g.issues(issues);
    g.w1(shape);
    g.data
}

impl Generator {
    fn id(&mut self, at: NaiveDateTime) -> String {
        let mut random = [0u8; 10];
        self.rng.fill_bytes(&mut random);
        let millis = u64::try_from(at.and_utc().timestamp_millis()).expect("the seed's instants are after 1970");
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().to_string()
    }

    /// Appends an event to the organisation's chain, as `audit::record` does.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        org: usize,
        at: NaiveDateTime,
        action: &str,
        entity_type: &str,
        entity_id: &str,
        summary: String,
        changes: &[FieldChange],
    ) {
        let id = self.id(at);
        let o = &mut self.orgs[org];
        o.seq += 1;
        let mut event = ChainedEvent {
            id,
            org_id: o.id.clone(),
            at,
            actor_id: Some(o.owner_id.clone()),
            actor_name: o.owner_name.clone(),
            action: action.to_owned(),
            entity_type: entity_type.to_owned(),
            entity_id: entity_id.to_owned(),
            summary,
            changes: serde_json::to_string(changes).expect("field changes always serialise"),
            seq: o.seq,
            prev_hash: String::new(),
            hash: String::new(),
        };
        event.hash = event.hash_after(&o.prev_hash);
        event.prev_hash = std::mem::replace(&mut o.prev_hash, event.hash.clone());
        self.data.events.push(event);
    }

    /// The organisation, its owner (as `keyward bootstrap` makes them), a session, and its
    /// developments `Development 01` … with prefixes `D01` ….
    fn organisation(
        &mut self,
        name: String,
        devs: usize,
        keys_per_dev: usize,
        at: NaiveDateTime,
        expires: NaiveDateTime,
        password_hash: &str,
    ) {
        let org_id = self.id(at);
        let owner_id = self.id(at);
        let mut token = [0u8; 32];
        self.rng.fill_bytes(&mut token);
        let token = URL_SAFE_NO_PAD.encode(token);
        let owner_name = format!("Owner of {name}");
        let email = format!("owner@{name}.example");
        let role = Role::Owner.as_str().to_owned();
        let org = self.orgs.len();
        self.orgs.push(Org {
            id: org_id.clone(),
            owner_id: owner_id.clone(),
            owner_name: owner_name.clone(),
            token: token.clone(),
            devs: Vec::new(),
            keys_per_dev,
            seq: 0,
            prev_hash: GENESIS.to_owned(),
        });
        self.data.sessions.push(SessionRow {
            token_hash: keyward_rpc::security::hash_token(&token),
            user_id: owner_id.clone(),
            org_id: org_id.clone(),
            created_at: at,
            expires_at: expires,
        });
        self.event(
            org,
            at,
            "user.created",
            "user",
            &owner_id,
            format!("User {owner_name} ({email}) created as {role}"),
            &[
                FieldChange::new("email", None::<&str>, Some(&email)),
                FieldChange::new("name", None::<&str>, Some(&owner_name)),
                FieldChange::new("role", None::<&str>, Some(&role)),
            ],
        );
        self.data.users.push(UserRow {
            id: owner_id,
            org_id: org_id.clone(),
            email,
            name: owner_name,
            role,
            password_hash: password_hash.to_owned(),
            disabled: false,
            created_at: at,
            updated_at: at,
        });
        self.event(
            org,
            at,
            "organisation.created",
            "organisation",
            &org_id,
            format!("Organisation {name} created"),
            &[FieldChange::new("name", None::<&str>, Some(&name))],
        );
        self.data.orgs.push(OrgRow { id: org_id.clone(), name, created_at: at });
        for d in 1..=devs {
            let (dev_name, prefix) = (format!("Development {d:02}"), format!("D{d:02}"));
            let id = self.id(at);
            self.event(
                org,
                at,
                "development.created",
                "development",
                &id,
                format!("Development {dev_name} created"),
                &[
                    FieldChange::new("name", None::<&str>, Some(&dev_name)),
                    FieldChange::new("keyPrefix", None::<&str>, Some(&prefix)),
                ],
            );
            self.data.developments.push(DevRow {
                id: id.clone(),
                org_id: org_id.clone(),
                name: dev_name,
                key_prefix: prefix.clone(),
                created_at: at,
                updated_at: at,
            });
            self.orgs[org].devs.push((id, prefix));
        }
    }

    /// Every key with its `key.created` event and movement, in rounds: each round gives
    /// every small organisation its next key and bench-large its next few, spread evenly
    /// among them. Returns the keys that are issued.
    fn keys(&mut self, shape: Shape, anchor: NaiveDateTime) -> Vec<Issue> {
        let rounds = shape.small_keys().max(1);
        let large_per_round = shape.large_keys().div_ceil(rounds);
        let created = anchor - Duration::days(120);
        let mut issues = Vec::new();
        let mut written = 0i64;
        for round in 0..rounds {
            let large: Vec<usize> =
                (round * large_per_round..((round + 1) * large_per_round).min(shape.large_keys())).collect();
            let small = if round < shape.small_keys() { shape.small_orgs } else { 0 };
            let total = large.len() + small;
            let (mut l, mut s) = (0, 0);
            for k in 0..total {
                let (org, index) = if l < (k + 1) * large.len() / total {
                    l += 1;
                    (0, large[l - 1])
                } else {
                    s += 1;
                    (s, round)
                };
                let at = created + Duration::milliseconds(5 * written);
                written += 1;
                if let Some(issue) = self.key(org, index, at, anchor) {
                    issues.push(issue);
                }
            }
        }
        issues
    }

    fn key(&mut self, org: usize, index: usize, created: NaiveDateTime, anchor: NaiveDateTime) -> Option<Issue> {
        let o = &self.orgs[org];
        let (dev_id, prefix) = o.devs[index / o.keys_per_dev].clone();
        let number = index % o.keys_per_dev + 1;
        let key_ref = format!("{prefix}-{number:04}");
        let label = match index % 4 {
            0 => format!("Flat {number} front door"),
            1 => format!("Bin store fob {number}"),
            2 => format!("Plant room {number}"),
            _ => format!("Car park remote {number}"),
        };
        let key_type = KeyType::ALL[index % KeyType::ALL.len()].as_str().to_owned();
        let status = status_of(index);
        let owner = o.owner_name.clone();
        let org_id = o.id.clone();
        let id = self.id(created);
        self.event(
            org,
            created,
            "key.created",
            "key",
            &id,
            format!("Key {key_ref} ({label}) created"),
            &[
                FieldChange::new("keyRef", None::<&str>, Some(&key_ref)),
                FieldChange::new("label", None::<&str>, Some(&label)),
                FieldChange::new("keyType", None::<&str>, Some(&key_type)),
                FieldChange::new("status", None::<&str>, Some(KeyStatus::InStock.as_str())),
            ],
        );
        let movement_id = self.id(created);
        self.data.movements.push(MovementRow {
            id: movement_id,
            org_id: org_id.clone(),
            key_id: id.clone(),
            at: created,
            action: "created".to_owned(),
            actor_name: owner.clone(),
            issued_to: None,
            purpose: None,
            expected_return_at: None,
            notes: None,
        });
        let (mut issued_to, mut issued_at, mut expected) = (None, None, None);
        if status == KeyStatus::Issued {
            let name = format!(
                "{} {}",
                names::FIRST[self.rng.random_range(0..names::FIRST.len())],
                names::LAST[self.rng.random_range(0..names::LAST.len())]
            );
            let age = self.rng.random_range(3_600..90 * 86_400);
            let at = anchor - Duration::seconds(age) + Duration::microseconds(self.rng.random_range(0..1_000_000));
            if self.rng.random_bool(0.5) {
                // A third of the expected returns are past (the key is overdue).
                expected = Some(if self.rng.random_range(0..3) == 0 {
                    at + Duration::seconds(self.rng.random_range(60..age))
                } else {
                    anchor + Duration::seconds(self.rng.random_range(86_400..30 * 86_400))
                });
            }
            issued_to = Some(name);
            issued_at = Some(at);
        }
        let changed = issued_at.unwrap_or(created);
        let numbered = keyward_domain::key_ref::split_numbered(&key_ref).map(|(p, n)| (p.to_owned(), n));
        let (ref_prefix, ref_number) = numbered.unzip();
        self.data.keys.push(KeyRow {
            search_text: keys::search_text(&key_ref, &label, issued_to.as_deref()),
            id,
            org_id,
            development_id: dev_id,
            key_ref,
            ref_prefix,
            ref_number,
            key_type,
            label,
            status: status.as_str().to_owned(),
            notes: None,
            issued_by: issued_to.as_ref().map(|_| owner.clone()),
            issued_to,
            issued_to_phone: None,
            issued_at,
            purpose: None,
            expected_return_at: expected,
            security_level: SecurityLevel::Standard.as_str().to_owned(),
            brand: None,
            key_number: None,
            quantity: 1,
            access_restrictions: None,
            emergency_contact: None,
            created_at: created,
            updated_at: changed,
            last_status_change_at: Some(changed),
            last_status_change_by: Some(owner),
            version: if status == KeyStatus::InStock { 1 } else { 2 },
        });
        self.key_at.insert((org, index), self.data.keys.len() - 1);
        issued_at.map(|at| Issue { at, org, key: self.data.keys.len() - 1 })
    }

    /// The access codes, sealed as `access_codes::create` seals them, with their events.
    fn codes(&mut self, shape: Shape, sealer: &Sealer, start: NaiveDateTime) {
        let mut written = 0i64;
        for org in 0..self.orgs.len() {
            let devs = self.orgs[org].devs.clone();
            let per_dev = if org == 0 { shape.large_codes_per_dev } else { shape.small_codes / devs.len().max(1) };
            for (dev_id, _) in devs {
                for n in 1..=per_dev {
                    let at = start + Duration::milliseconds(5 * written);
                    written += 1;
                    let code_type = CodeType::ALL[n % CodeType::ALL.len()].as_str().to_owned();
                    let label =
                        format!("{} code {n}", CodeType::ALL[n % CodeType::ALL.len()].as_str().replace('_', " "));
                    let value = format!("{:06}", self.rng.random_range(0..1_000_000));
                    let status = CodeStatus::Active.as_str().to_owned();
                    let id = self.id(at);
                    self.event(
                        org,
                        at,
                        "accessCode.created",
                        "accessCode",
                        &id,
                        format!("Access code {label} created"),
                        &[
                            FieldChange::new("label", None::<&str>, Some(&label)),
                            FieldChange::new("codeType", None::<&str>, Some(&code_type)),
                            FieldChange::new("code", None::<&str>, Some("***")),
                            FieldChange::new("status", None::<&str>, Some(&status)),
                        ],
                    );
                    self.data.codes.push(CodeRow {
                        id,
                        org_id: self.orgs[org].id.clone(),
                        development_id: dev_id.clone(),
                        code_type,
                        search_text: label.to_lowercase(),
                        label,
                        code_sealed: sealer.seal(&value),
                        code_lookup: sealer.lookup(&value),
                        status,
                        expires_on: None,
                        notes: None,
                        created_at: at,
                        updated_at: at,
                        version: 1,
                    });
                }
            }
        }
    }

    /// The `key.issued` events and movements, in the order the keys were issued.
    fn issues(&mut self, mut issues: Vec<Issue>) {
        issues.sort_by_key(|i| (i.at, i.key));
        for issue in issues {
            let key = &self.data.keys[issue.key];
            let (key_id, key_ref, org_id) = (key.id.clone(), key.key_ref.clone(), key.org_id.clone());
            let (to, expected) = (key.issued_to.clone().expect("an issued key has a holder"), key.expected_return_at);
            let mut changes = vec![
                FieldChange::new("status", Some(KeyStatus::InStock.as_str()), Some(KeyStatus::Issued.as_str())),
                FieldChange::new("issuedTo", None::<&str>, Some(&to)),
            ];
            if let Some(expected) = expected {
                let text = expected.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true);
                changes.push(FieldChange::new("expectedReturnAt", None::<&str>, Some(text)));
            }
            self.event(
                issue.org,
                issue.at,
                "key.issued",
                "key",
                &key_id,
                format!("Key {key_ref} issued to {to}"),
                &changes,
            );
            let id = self.id(issue.at);
            self.data.movements.push(MovementRow {
                id,
                org_id,
                key_id,
                at: issue.at,
                action: "issued".to_owned(),
                actor_name: self.orgs[issue.org].owner_name.clone(),
                issued_to: Some(to),
                purpose: None,
                expected_return_at: expected,
                notes: None,
            });
        }
    }

    /// W1's keys: in-stock keys of small organisations drawn at random, none twice.
    fn w1(&mut self, shape: Shape) {
        let wanted = (W1_CONNECTIONS * W1_KEYS_PER_CONNECTION).min(shape.small_orgs * shape.small_keys() * 6 / 10);
        let mut taken = HashSet::new();
        while self.data.w1.len() < wanted {
            let org = self.rng.random_range(1..self.orgs.len());
            let index = self.rng.random_range(0..shape.small_keys());
            if status_of(index) == KeyStatus::InStock && taken.insert((org, index)) {
                let key = &self.data.keys[self.key_at[&(org, index)]];
                self.data.w1.push((self.orgs[org].token.clone(), key.id.clone()));
            }
        }
    }
}
