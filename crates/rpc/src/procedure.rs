//! What a procedure is, and the path every call takes: authenticate → authorise → parse
//! params by name → run → map the error.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use keyward_domain::{Actor, Capability, Error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use specta::Type;

use crate::error::ErrorObject;
use crate::jsonrpc::CallContext;
use crate::security::hash_token;
use crate::{App, error, params};

/// Who may call a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (`rpc.discover`, `auth.login`).
    Public,
    /// A signed-in user whose role has this capability.
    Signed(Capability),
}

/// One procedure of the contract. Declared once; listed in [`crate::procedures::visit`].
pub trait Procedure: Send + Sync + 'static {
    const NAME: &'static str;
    const ACCESS: Access;
    /// `true` when a call changes nothing (no write, no audit event, no recorded reveal):
    /// the TanStack Query bindings make it a query (cached, refetched); otherwise a
    /// mutation. Left out, a procedure is a mutation, which is never wrong, only uncached.
    const READ_ONLY: bool = false;
    type Input: DeserializeOwned + Type + Send + 'static;
    type Output: Serialize + Clone + Type + Send + 'static;

    fn call(call: Call<'_>, input: Self::Input) -> impl Future<Output = Result<Self::Output, Error>> + Send;
}

/// Walks the procedure list (server registration, bindings, tests).
pub trait ProcedureVisitor {
    fn visit<P: Procedure>(&mut self);
}

/// The bearer token of the HTTP request (or WebSocket upgrade) that carried a call.
#[derive(Clone)]
pub struct BearerToken(pub String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

/// The peer address of the connection that carried a call (put into the request's
/// extensions by the server; absent for calls that did not come over a socket).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// A call in progress: the app and, for signed procedures, the caller.
pub struct Call<'a> {
    pub app: &'a App,
    shared: Arc<App>,
    actor: Option<Actor>,
    token_hash: Option<String>,
    client_addr: Option<SocketAddr>,
}

impl Call<'_> {
    /// The signed-in caller. Always there for [`Access::Signed`] procedures.
    pub fn actor(&self) -> Result<&Actor, Error> {
        self.actor.as_ref().ok_or(Error::Unauthenticated)
    }

    /// The app, owned: for work that must finish even if the caller hangs up.
    pub fn app_owned(&self) -> Arc<App> {
        Arc::clone(&self.shared)
    }

    /// The caller's address, when the server knows it (per-address login limits).
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client_addr
    }

    /// The hash of the caller's session token (for logout).
    pub fn token_hash(&self) -> Result<&str, Error> {
        self.token_hash.as_deref().ok_or(Error::Unauthenticated)
    }
}

/// What the registry keeps per procedure: [`dispatch`] for its type.
pub(crate) type Handler = for<'a> fn(
    &'a Arc<App>,
    &'a CallContext,
    Option<&'a RawValue>,
) -> Pin<Box<dyn Future<Output = Result<Box<RawValue>, ErrorObject>> + Send + 'a>>;

/// Every procedure of the list by name, built once when the server starts.
pub(crate) fn handlers() -> HashMap<&'static str, Handler> {
    struct Register(HashMap<&'static str, Handler>);
    impl ProcedureVisitor for Register {
        fn visit<P: Procedure>(&mut self) {
            let handler: Handler = |app, ctx, params| Box::pin(dispatch::<P>(app, ctx, params));
            if self.0.insert(P::NAME, handler).is_some() {
                panic!("procedure {} is listed twice", P::NAME);
            }
        }
    }
    let mut register = Register(HashMap::new());
    crate::procedures::visit(&mut register);
    register.0
}

/// One call of `P`: authenticate → authorise → parse → run → the result as JSON, or the
/// error object.
async fn dispatch<P: Procedure>(
    app: &Arc<App>,
    ctx: &CallContext,
    params: Option<&RawValue>,
) -> Result<Box<RawValue>, ErrorObject> {
    // One deadline and one connection for the token check and the work: the call answers
    // within the bound and takes one connection from the pool at most once.
    let result = app
        .db
        .one_call(async {
            let token_hash = ctx.token.as_ref().map(|t| hash_token(&t.0));
            let actor = match P::ACCESS {
                Access::Public => None,
                Access::Signed(capability) => {
                    let actor = authenticate(app, token_hash.clone()).await?;
                    tracing::Span::current().record("org", actor.org_id.as_str());
                    actor.require(capability)?;
                    Some(actor)
                }
            };
            let input: P::Input = params::parse(params.map(RawValue::get))?;
            let call = Call { app, shared: Arc::clone(app), actor, token_hash, client_addr: ctx.client_addr };
            let output = P::call(call, input).await?;
            serde_json::value::to_raw_value(&output)
                .map_err(|e| Error::Internal(format!("cannot serialise the result: {e}")))
        })
        .await;
    result.map_err(|e| {
        if let Error::Internal(detail) = &e {
            tracing::error!(procedure = P::NAME, %detail, "internal error");
        }
        error::to_rpc(&e)
    })
}

async fn authenticate(app: &App, token_hash: Option<String>) -> Result<Actor, Error> {
    let token_hash = token_hash.ok_or(Error::Unauthenticated)?;
    app.db
        .run(move |c| keyward_persistence::repo::users::actor_for_token(c, &token_hash))
        .await?
        .ok_or(Error::Unauthenticated)
}

/// The names of every listed procedure, in list order.
pub fn names() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl ProcedureVisitor for Names {
        fn visit<P: Procedure>(&mut self) {
            self.0.push(P::NAME);
        }
    }
    let mut names = Names(Vec::new());
    crate::procedures::visit(&mut names);
    names.0
}

/// Every procedure name with the access it requires (for tests of the role table).
pub fn access_table() -> Vec<(&'static str, Access)> {
    struct Table(Vec<(&'static str, Access)>);
    impl ProcedureVisitor for Table {
        fn visit<P: Procedure>(&mut self) {
            self.0.push((P::NAME, P::ACCESS));
        }
    }
    let mut table = Table(Vec::new());
    crate::procedures::visit(&mut table);
    table.0
}

/// The procedures that change nothing ([`Procedure::READ_ONLY`]), in list order.
pub fn read_only() -> Vec<&'static str> {
    struct Reads(Vec<&'static str>);
    impl ProcedureVisitor for Reads {
        fn visit<P: Procedure>(&mut self) {
            if P::READ_ONLY {
                self.0.push(P::NAME);
            }
        }
    }
    let mut reads = Reads(Vec::new());
    crate::procedures::visit(&mut reads);
    reads.0
}

#[cfg(test)]
mod tests {
    use keyward_domain::Capability::*;

    use super::Access::{self, *};

    /// The contract's role table, restated per procedure. A procedure added to the list
    /// without a row here fails this test.
    #[test]
    fn every_procedure_requires_what_the_contract_says() {
        let expected: &[(&str, Access)] = &[
            ("rpc.discover", Public),
            ("auth.login", Public),
            ("auth.logout", Signed(Read)),
            ("auth.me", Signed(Read)),
            ("users.list", Signed(ManageOrganisation)),
            ("users.create", Signed(ManageOrganisation)),
            ("users.update", Signed(ManageOrganisation)),
            ("developments.list", Signed(Read)),
            ("developments.create", Signed(Administer)),
            ("developments.update", Signed(Administer)),
            ("developments.delete", Signed(Administer)),
            ("doors.list", Signed(Read)),
            ("doors.get", Signed(Read)),
            ("doors.create", Signed(Edit)),
            ("doors.update", Signed(Edit)),
            ("doors.delete", Signed(Edit)),
            ("doors.exportCsv", Signed(Read)),
            ("doors.importCsv", Signed(Edit)),
            ("keys.listKeys", Signed(Read)),
            ("keys.getKey", Signed(Read)),
            ("keys.keyHistory", Signed(Read)),
            ("keys.suggestKeyRef", Signed(Read)),
            ("keys.createKey", Signed(Edit)),
            ("keys.updateKey", Signed(Edit)),
            ("keys.deleteKey", Signed(Administer)),
            ("keys.issueKey", Signed(Edit)),
            ("keys.returnKey", Signed(Edit)),
            ("keys.returnToStock", Signed(Edit)),
            ("keys.markLost", Signed(Edit)),
            ("keys.markFound", Signed(Edit)),
            ("keys.markDamaged", Signed(Edit)),
            ("keys.deactivateKey", Signed(Administer)),
            ("keys.reactivateKey", Signed(Administer)),
            ("keys.holderAt", Signed(Read)),
            ("keys.confirmHandover", Signed(Edit)),
            ("keys.setDoors", Signed(Edit)),
            ("keys.blastRadius", Signed(Edit)),
            ("keys.exportKeysCsv", Signed(Read)),
            ("keys.importKeysCsv", Signed(Edit)),
            ("keySets.list", Signed(Read)),
            ("keySets.get", Signed(Read)),
            ("keySets.create", Signed(Edit)),
            ("keySets.update", Signed(Edit)),
            ("keySets.delete", Signed(Edit)),
            ("keySets.issue", Signed(Edit)),
            ("keySets.return", Signed(Edit)),
            ("people.list", Signed(Read)),
            ("people.get", Signed(Read)),
            ("people.create", Signed(Edit)),
            ("people.update", Signed(Edit)),
            ("people.archive", Signed(Administer)),
            ("people.offboard", Signed(Administer)),
            ("people.holdingsAt", Signed(Read)),
            ("people.exportCsv", Signed(Read)),
            ("people.importCsv", Signed(Edit)),
            ("firms.list", Signed(Read)),
            ("firms.get", Signed(Read)),
            ("firms.create", Signed(Edit)),
            ("firms.update", Signed(Edit)),
            ("firms.archive", Signed(Administer)),
            ("firms.offboard", Signed(Administer)),
            ("keys.listAccessCodes", Signed(Read)),
            ("keys.createAccessCode", Signed(Edit)),
            ("keys.updateAccessCode", Signed(Edit)),
            ("keys.deleteAccessCode", Signed(Administer)),
            ("keys.accessCodeHistory", Signed(Read)),
            ("keys.revealAccessCode", Signed(SeeCodeValues)),
            ("keys.recordCodeDisclosure", Signed(Edit)),
            ("keys.accessCodeExposure", Signed(SeeCodeValues)),
            ("keys.accessCodeKnownBy", Signed(SeeCodeValues)),
            ("keys.exportAccessCodesCsv", Signed(Read)),
            ("keys.importAccessCodesCsv", Signed(Edit)),
            ("grants.list", Signed(Edit)),
            ("grants.get", Signed(Edit)),
            ("grants.create", Signed(Edit)),
            ("grants.update", Signed(Edit)),
            ("grants.addPeople", Signed(Edit)),
            ("grants.removePeople", Signed(Edit)),
            ("grants.end", Signed(Edit)),
            ("grants.replaceKeycard", Signed(Edit)),
            ("grants.sendCredentials", Signed(SendSms)),
            ("access.check", Signed(Read)),
            ("reports.doorLog", Signed(Read)),
            ("reports.doorLogCsv", Signed(Read)),
            ("keys.summary", Signed(Read)),
            ("keys.sendSms", Signed(SendSms)),
            ("settings.get", Signed(Read)),
            ("settings.update", Signed(ManageOrganisation)),
            ("settings.getSms", Signed(ManageOrganisation)),
            ("settings.updateSms", Signed(ManageOrganisation)),
            ("settings.getReminders", Signed(ManageOrganisation)),
            ("settings.updateReminders", Signed(ManageOrganisation)),
            ("reports.overdue", Signed(Read)),
            ("audit.list", Signed(ReadAudit)),
            ("audit.head", Signed(ReadAudit)),
            ("audit.verify", Signed(ReadAudit)),
            ("webhooks.list", Signed(ManageOrganisation)),
            ("webhooks.create", Signed(ManageOrganisation)),
            ("webhooks.update", Signed(ManageOrganisation)),
            ("webhooks.delete", Signed(ManageOrganisation)),
            ("webhooks.rotateSecret", Signed(ManageOrganisation)),
            ("webhooks.deliveries", Signed(ManageOrganisation)),
            ("webhooks.resend", Signed(ManageOrganisation)),
            ("audits.start", Signed(Edit)),
            ("audits.record", Signed(Edit)),
            ("audits.complete", Signed(Edit)),
            ("audits.resolve", Signed(Edit)),
            ("audits.cancel", Signed(Edit)),
            ("audits.get", Signed(Edit)),
            ("audits.lines", Signed(Edit)),
            ("audits.list", Signed(Edit)),
        ];
        assert_eq!(super::access_table(), expected);
    }

    /// The procedures that change nothing, restated: each is a query in the TanStack
    /// bindings. `keys.revealAccessCode` records the reveal, as
    /// `keys.exportAccessCodesCsv` may, `auth.login` a session.
    #[test]
    fn read_only_procedures_are_these() {
        let expected = [
            "rpc.discover",
            "auth.me",
            "users.list",
            "developments.list",
            "doors.list",
            "doors.get",
            "doors.exportCsv",
            "keys.listKeys",
            "keys.getKey",
            "keys.keyHistory",
            "keys.suggestKeyRef",
            "keys.holderAt",
            "keys.blastRadius",
            "keys.exportKeysCsv",
            "keySets.list",
            "keySets.get",
            "people.list",
            "people.get",
            "people.holdingsAt",
            "people.exportCsv",
            "firms.list",
            "firms.get",
            "keys.listAccessCodes",
            "keys.accessCodeHistory",
            "keys.accessCodeExposure",
            "keys.accessCodeKnownBy",
            "grants.list",
            "grants.get",
            "access.check",
            "reports.doorLog",
            "reports.doorLogCsv",
            "keys.summary",
            "settings.get",
            "settings.getSms",
            "settings.getReminders",
            "reports.overdue",
            "audit.list",
            "audit.head",
            "audit.verify",
            "webhooks.list",
            "webhooks.deliveries",
            "audits.get",
            "audits.lines",
            "audits.list",
        ];
        assert_eq!(super::read_only(), expected);
    }

    #[test]
    fn procedure_names_are_unique() {
        let names = super::names();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
