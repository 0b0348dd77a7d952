//! `users.*`: the organisation's people and their roles (owner only).

use keyward_domain::{Capability, Error, Role, Secret, User, validate};
use keyward_persistence::repo::users::{self, NewUser, UserUpdate};
use serde::Deserialize;
use specta::Type;

use super::{Items, NoParams};
use crate::procedure::{Access, Call, Procedure};

pub struct List;
impl Procedure for List {
    const NAME: &'static str = "users.list";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = Items<User>;

    async fn call(call: Call<'_>, _: NoParams) -> Result<Items<User>, Error> {
        let org_id = call.actor()?.org_id.clone();
        let items = call.app.db.run(move |c| users::list(c, &org_id)).await?;
        Ok(Items { items })
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// 10 to 200 characters.
    pub password: Secret,
}

pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "users.create";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    type Input = CreateUserInput;
    type Output = User;

    async fn call(call: Call<'_>, input: CreateUserInput) -> Result<User, Error> {
        let actor = call.actor()?.clone();
        let email = validate::email("email", &input.email)?;
        let name = validate::required_line("name", &input.name, validate::SHORT_TEXT_MAX)?;
        let password = validate::password("password", input.password)?;
        let password_hash = call.app.passwords.hash(password).await?;
        let new = NewUser { email, name, role: input.role, password_hash };
        call.app.db.write(move |c| users::create(c, &actor, new)).await
    }
}

#[derive(Debug, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserInput {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// A new role ends the user's sessions.
    #[serde(default)]
    pub role: Option<Role>,
    /// Disabling ends the user's sessions and refuses their logins.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// 10 to 200 characters; ends the user's sessions.
    #[serde(default)]
    pub password: Option<Secret>,
}

pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "users.update";
    const ACCESS: Access = Access::Signed(Capability::ManageOrganisation);
    type Input = UpdateUserInput;
    type Output = User;

    async fn call(call: Call<'_>, input: UpdateUserInput) -> Result<User, Error> {
        let actor = call.actor()?.clone();
        let name = input.name.map(|n| validate::required_line("name", &n, validate::SHORT_TEXT_MAX)).transpose()?;
        let password_hash = match input.password {
            Some(p) => Some(call.app.passwords.hash(validate::password("password", p)?).await?),
            None => None,
        };
        let update = UserUpdate { name, role: input.role, disabled: input.disabled, password_hash };
        let id = input.id;
        call.app.db.write(move |c| users::update(c, &actor, &id, update)).await
    }
}
