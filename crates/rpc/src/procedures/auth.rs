//! `auth.*`: signing in and out.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use keyward_domain::{Capability, Error, Organisation, Secret, User, validate};
use keyward_persistence::repo::logins::{self, Attempt};
use keyward_persistence::repo::users;
use keyward_persistence::time;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{Empty, NoParams};
use crate::procedure::{Access, Call, Procedure};
use crate::security;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoginOutput {
    /// Send as `Authorization: Bearer <token>` on every other call.
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

pub struct Login;
impl Procedure for Login {
    const NAME: &'static str = "auth.login";
    const ACCESS: Access = Access::Public;
    type Input = LoginInput;
    type Output = LoginOutput;

    /// In order: the per-address and per-email limits (in memory), the email's lock
    /// (in the database), a hashing turn, the attempt counted as a failure against the
    /// email's lock (one write, which refuses it if concurrent attempts locked the email
    /// meanwhile), the password. So however many guesses arrive at once, on however many
    /// nodes, no more passwords are checked than the lock allows. Every email tried
    /// counts, whether or not an account has it, and every failure looks the same.
    async fn call(call: Call<'_>, input: LoginInput) -> Result<LoginOutput, Error> {
        let limits = &call.app.logins;
        if let Some(addr) = call.client_addr() {
            limits.per_address.check(&addr.ip().to_string()).map_err(rate_limited)?;
        }
        let email = validate::email("email", &input.email).map_err(|_| Error::WrongCredentials)?;
        let email_key = logins::email_key(&email);
        limits.per_email.check(&email_key).map_err(rate_limited)?;
        let key = email_key.clone();
        let (locked_until, found) = call
            .app
            .db
            .run(move |c| Ok((logins::locked_until(c, &key)?, users::login_credentials(c, &email)?)))
            .await?;
        if let Some(until) = locked_until {
            return Err(locked(until));
        }
        let (user_id, hash) = found.unzip();
        let turn = call.app.passwords.turn().await?;
        let (key, policy) = (email_key.clone(), limits.lock);
        if let Attempt::Locked(until) = call.app.db.write(move |c| logins::begin_attempt(c, &key, policy)).await? {
            return Err(locked(until));
        }
        let verified = turn.verify(input.password, hash).await?;
        let Some(user_id) = user_id.filter(|_| verified) else {
            return Err(Error::WrongCredentials);
        };
        let (token, token_hash) = security::new_token();
        // Whole seconds: what the database stores and the client sees are the same instant.
        let expires_at = (time::now_utc() + call.app.token_ttl).trunc_subsecs(0);
        let user = call
            .app
            .db
            .write(move |c| {
                logins::clear(c, &email_key)?;
                users::start_session(c, &user_id, &token_hash, expires_at)
            })
            .await?;
        Ok(LoginOutput { token: token.into(), expires_at, user })
    }
}

fn locked(until: DateTime<Utc>) -> Error {
    rate_limited((until - time::now_utc()).to_std().unwrap_or_default())
}

fn rate_limited(wait: Duration) -> Error {
    Error::RateLimited { retry_after_ms: u32::try_from(wait.as_millis().max(1)).unwrap_or(u32::MAX) }
}

pub struct Logout;
impl Procedure for Logout {
    const NAME: &'static str = "auth.logout";
    const ACCESS: Access = Access::Signed(Capability::Read);
    type Input = NoParams;
    type Output = Empty;

    async fn call(call: Call<'_>, _: NoParams) -> Result<Empty, Error> {
        let token_hash = call.token_hash()?.to_owned();
        call.app.db.write(move |c| users::end_session(c, &token_hash)).await?;
        Ok(Empty {})
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MeOutput {
    pub user: User,
    pub organisation: Organisation,
}

pub struct Me;
impl Procedure for Me {
    const NAME: &'static str = "auth.me";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = MeOutput;

    async fn call(call: Call<'_>, _: NoParams) -> Result<MeOutput, Error> {
        let actor = call.actor()?.clone();
        call.app
            .db
            .run(move |c| {
                Ok(MeOutput {
                    user: users::get(c, &actor.org_id, &actor.user_id)?,
                    organisation: users::organisation(c, &actor.org_id)?,
                })
            })
            .await
    }
}
