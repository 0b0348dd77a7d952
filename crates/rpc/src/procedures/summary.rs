//! `keys.summary`: the dashboard's counts.

use keyward_domain::{Capability, Error, Summary};
use keyward_persistence::repo::summary;
use serde::Deserialize;
use specta::Type;

use crate::procedure::{Access, Call, Procedure};

#[derive(Debug, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SummaryInput {
    /// Count only this development.
    #[serde(default)]
    pub development_id: Option<String>,
}

pub struct KeysSummary;
impl Procedure for KeysSummary {
    const NAME: &'static str = "keys.summary";
    const ACCESS: Access = Access::Signed(Capability::Read);
    const READ_ONLY: bool = true;
    type Input = SummaryInput;
    type Output = Summary;

    async fn call(call: Call<'_>, input: SummaryInput) -> Result<Summary, Error> {
        let org_id = call.actor()?.org_id.clone();
        call.app.db.run(move |c| summary::summary(c, &org_id, input.development_id.as_deref())).await
    }
}
