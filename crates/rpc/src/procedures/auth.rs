//! `auth.*`: signing in and out.

use chrono::{DateTime, SubsecRound, Utc};
use keyward_domain::{Capability, Error, Organisation, User, validate};
use keyward_persistence::repo::users;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{Empty, NoParams};
use crate::procedure::{Access, Call, Procedure};
use crate::security;

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoginOutput {
    /// Send as `Authorization: Bearer <token>` on every other call.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

pub struct Login;
impl Procedure for Login {
    const NAME: &'static str = "auth.login";
    const ACCESS: Access = Access::Public;
    type Input = LoginInput;
    type Output = LoginOutput;

    async fn call(call: Call<'_>, input: LoginInput) -> Result<LoginOutput, Error> {
        // One answer for an unknown email, a disabled user and a wrong password.
        let email = validate::email("email", &input.email).map_err(|_| Error::Unauthenticated)?;
        let found = call.app.db.run(move |c| users::login_credentials(c, &email)).await?;
        let (user_id, hash) = found.unzip();
        if !security::verify_password(input.password, hash).await {
            return Err(Error::Unauthenticated);
        }
        let user_id = user_id.ok_or(Error::Unauthenticated)?;
        let (token, token_hash) = security::new_token();
        // Whole seconds: what the database stores and the client sees are the same instant.
        let expires_at = (Utc::now() + call.app.token_ttl).trunc_subsecs(0);
        let user = call.app.db.write(move |c| users::start_session(c, &user_id, &token_hash, expires_at)).await?;
        Ok(LoginOutput { token, expires_at, user })
    }
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
