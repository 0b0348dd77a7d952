//! Organisations, users and sessions (bearer tokens, stored only as hashes).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use keyward_domain::{Actor, Error, FieldChange, Organisation, Role, User, entities::diff};

use super::audit::{self, NewEvent};
use crate::connection::AnyConnection;
use crate::error::{StoreResult, is_unique_violation};
use crate::schema::{organisations, sessions, users};
use crate::time;

fn stored_role(role: &str) -> StoreResult<Role> {
    Role::parse(role).ok_or_else(|| Error::Internal(format!("unknown role {role:?} in the database")).into())
}

#[derive(Insertable, Queryable, Clone)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    org_id: String,
    email: String,
    name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl UserRow {
    fn role(&self) -> StoreResult<Role> {
        stored_role(&self.role)
    }

    fn into_user(self) -> StoreResult<User> {
        Ok(User {
            role: self.role()?,
            id: self.id,
            email: self.email,
            name: self.name,
            disabled: self.disabled,
            created_at: time::from_db(self.created_at),
        })
    }
}

/// A user to create. The password arrives already hashed (Argon2id, in the rpc crate).
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Creates an organisation and its owner (`keyward bootstrap`).
pub fn bootstrap(conn: &mut AnyConnection, org_name: &str, owner: NewUser) -> StoreResult<(Organisation, User)> {
    let org = Organisation { id: time::new_id(), name: org_name.to_owned() };
    diesel::insert_into(organisations::table)
        .values((
            organisations::id.eq(&org.id),
            organisations::name.eq(&org.name),
            organisations::created_at.eq(time::now()),
        ))
        .execute(conn)?;
    let owner_id = time::new_id();
    let actor =
        Actor { user_id: owner_id.clone(), org_id: org.id.clone(), name: owner.name.clone(), role: Role::Owner };
    let user = insert_user(conn, &actor, owner_id, owner)?;
    audit::record(
        conn,
        &actor,
        NewEvent {
            action: "organisation.created",
            entity_type: "organisation",
            entity_id: &org.id,
            summary: format!("Organisation {} created", org.name),
            changes: vec![FieldChange::new("name", None::<&str>, Some(&org.name))],
        },
    )?;
    Ok((org, user))
}

pub fn create(conn: &mut AnyConnection, actor: &Actor, new: NewUser) -> StoreResult<User> {
    super::lock_organisation(conn, &actor.org_id)?;
    insert_user(conn, actor, time::new_id(), new)
}

fn insert_user(conn: &mut AnyConnection, actor: &Actor, id: String, new: NewUser) -> StoreResult<User> {
    let now = time::now();
    let row = UserRow {
        id,
        org_id: actor.org_id.clone(),
        email: new.email,
        name: new.name,
        role: new.role.as_str().to_owned(),
        password_hash: new.password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    match diesel::insert_into(users::table).values(&row).execute(conn) {
        Ok(_) => {}
        Err(e) => {
            let e = e.into();
            return Err(if is_unique_violation(&e) {
                Error::invalid("email", "is already registered").into()
            } else {
                e
            });
        }
    }
    audit::record(
        conn,
        actor,
        NewEvent {
            action: "user.created",
            entity_type: "user",
            entity_id: &row.id,
            summary: format!("User {} ({}) created as {}", row.name, row.email, row.role),
            changes: vec![
                FieldChange::new("email", None::<&str>, Some(&row.email)),
                FieldChange::new("name", None::<&str>, Some(&row.name)),
                FieldChange::new("role", None::<&str>, Some(&row.role)),
            ],
        },
    )?;
    row.into_user()
}

/// The credentials to check at login: the user's id and password hash, if the email
/// belongs to an enabled user.
pub fn login_credentials(conn: &mut AnyConnection, email: &str) -> StoreResult<Option<(String, String)>> {
    Ok(users::table
        .filter(users::email.eq(email))
        .filter(users::disabled.eq(false))
        .select((users::id, users::password_hash))
        .first(conn)
        .optional()?)
}

/// Starts a session for a user; returns the user.
pub fn start_session(
    conn: &mut AnyConnection,
    user_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<User> {
    let row: UserRow = users::table.find(user_id).first(conn)?;
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash),
            sessions::user_id.eq(&row.id),
            sessions::org_id.eq(&row.org_id),
            sessions::created_at.eq(time::now()),
            sessions::expires_at.eq(time::to_db(expires_at)),
        ))
        .execute(conn)?;
    row.into_user()
}

/// The actor behind a bearer token, if the session exists, has not expired and its user
/// is enabled.
pub fn actor_for_token(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<Option<Actor>> {
    // Every signed call runs this: only the four columns an `Actor` needs.
    let found: Option<(String, String, String, String)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::expires_at.gt(time::now()))
        .filter(users::disabled.eq(false))
        .select((users::id, users::org_id, users::name, users::role))
        .first(conn)
        .optional()?;
    found
        .map(|(user_id, org_id, name, role)| Ok(Actor { role: stored_role(&role)?, user_id, org_id, name }))
        .transpose()
}

pub fn end_session(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<()> {
    diesel::delete(sessions::table.find(token_hash)).execute(conn)?;
    Ok(())
}

/// Removes sessions past their expiry (they are already refused; this keeps the table small).
pub fn purge_expired_sessions(conn: &mut AnyConnection) -> StoreResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(time::now()))).execute(conn)?)
}

pub fn organisation(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Organisation> {
    let (id, name) = organisations::table
        .find(org_id)
        .select((organisations::id, organisations::name))
        .first::<(String, String)>(conn)?;
    Ok(Organisation { id, name })
}

pub fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<User> {
    let row: UserRow = users::table.filter(users::org_id.eq(org_id)).filter(users::id.eq(id)).first(conn)?;
    row.into_user()
}

/// The organisation's users, ordered by name.
pub fn list(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Vec<User>> {
    let rows: Vec<UserRow> =
        users::table.filter(users::org_id.eq(org_id)).order((users::name, users::id)).load(conn)?;
    rows.into_iter().map(UserRow::into_user).collect()
}

#[derive(Debug, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// Changes a user. A new role, disabling, or a new password ends all of the user's
/// sessions, so the change takes effect at once.
pub fn update(conn: &mut AnyConnection, actor: &Actor, id: &str, update: UserUpdate) -> StoreResult<User> {
    super::lock_organisation(conn, &actor.org_id)?;
    let old: UserRow = users::table.filter(users::org_id.eq(&actor.org_id)).filter(users::id.eq(id)).first(conn)?;
    if id == actor.user_id {
        // An owner who demotes or disables themselves could leave nobody able to manage users.
        if update.role.is_some_and(|r| r.as_str() != old.role) {
            return Err(Error::invalid("role", "you cannot change your own role").into());
        }
        if update.disabled == Some(true) {
            return Err(Error::invalid("disabled", "you cannot disable yourself").into());
        }
    }
    let mut new = old.clone();
    if let Some(name) = update.name {
        new.name = name;
    }
    if let Some(role) = update.role {
        new.role = role.as_str().to_owned();
    }
    if let Some(disabled) = update.disabled {
        new.disabled = disabled;
    }
    let password_changed = update.password_hash.is_some();
    if let Some(hash) = update.password_hash {
        new.password_hash = hash;
    }
    new.updated_at = time::now();

    let mut changes = Vec::new();
    diff(&mut changes, "name", &Some(&old.name), &Some(&new.name));
    diff(&mut changes, "role", &Some(&old.role), &Some(&new.role));
    diff(&mut changes, "disabled", &Some(old.disabled), &Some(new.disabled));
    if password_changed {
        changes.push(FieldChange::new("password", Some("***"), Some("***")));
    }

    diesel::update(users::table.find(id))
        .set((
            users::name.eq(&new.name),
            users::role.eq(&new.role),
            users::disabled.eq(new.disabled),
            users::password_hash.eq(&new.password_hash),
            users::updated_at.eq(new.updated_at),
        ))
        .execute(conn)?;
    if new.role != old.role || new.disabled || password_changed {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
    }
    if !changes.is_empty() {
        audit::record(
            conn,
            actor,
            NewEvent {
                action: "user.updated",
                entity_type: "user",
                entity_id: id,
                summary: format!("User {} updated", new.name),
                changes,
            },
        )?;
    }
    new.into_user()
}

/// Disables an enabled user of the organisation and ends all their sessions, inside the
/// caller's write transaction (offboarding), which records the one audit event of its
/// action. Returns whether the user was enabled until now.
pub(crate) fn disable_within(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> StoreResult<bool> {
    let disabled = diesel::update(
        users::table.filter(users::org_id.eq(org_id)).filter(users::id.eq(user_id)).filter(users::disabled.eq(false)),
    )
    .set((users::disabled.eq(true), users::updated_at.eq(time::now())))
    .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    Ok(disabled > 0)
}
