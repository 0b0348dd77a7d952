//! Roles, what each may do, and the acting user.

use serde::{Deserialize, Serialize};
use specta::Type;

/// One role per user, one organisation per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Team,
    Installer,
    Housekeeping,
}

/// What a procedure requires of its caller. The contract's role table lives in
/// [`Role::can`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Any signed-in user: read keys, developments, summary; see oneself.
    Read,
    /// Create, update, issue, return, mark lost/found/damaged keys and codes.
    Edit,
    /// Delete keys, codes and developments; deactivate and reactivate keys; create and
    /// rename developments (the structure of the register).
    Administer,
    SeeCodeValues,
    SendSms,
    ReadAudit,
    /// Manage users and SMS settings.
    ManageOrganisation,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Manager, Role::Team, Role::Installer, Role::Housekeeping];

    pub fn can(self, capability: Capability) -> bool {
        use Capability::*;
        use Role::*;
        match capability {
            Read => true,
            Edit | SeeCodeValues | SendSms => matches!(self, Owner | Manager | Team),
            Administer | ReadAudit => matches!(self, Owner | Manager),
            ManageOrganisation => self == Owner,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Team => "team",
            Role::Installer => "installer",
            Role::Housekeeping => "housekeeping",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The signed-in user on whose behalf a call runs. The organisation always comes from
/// here (from the token), never from params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub org_id: String,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// keyward itself acting for an organisation (a job's SMS): no user id (the audit log
    /// records `actorId: null` and `name`). Its role is never checked: jobs are not calls.
    pub fn system(org_id: &str, name: &str) -> Actor {
        Actor { user_id: String::new(), org_id: org_id.to_owned(), name: name.to_owned(), role: Role::Owner }
    }

    /// A holder acting by SMS (issue 13 §3: `EXTEND`, `RETURNED`): a system actor named
    /// after the number, masked (`SMS from •••3456`).
    pub fn phone(org_id: &str, number: &str) -> Actor {
        Actor::system(org_id, &crate::inbound::phone_actor_name(number))
    }

    /// Whether this is [`Actor::system`] (or [`Actor::phone`]).
    pub fn is_system(&self) -> bool {
        self.user_id.is_empty()
    }

    pub fn require(&self, capability: Capability) -> crate::Result<()> {
        if self.role.can(capability) { Ok(()) } else { Err(crate::Error::Forbidden) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table_matches_the_contract() {
        use Capability::*;
        // Rows of the contract's table: owner, manager, team, installer, housekeeping.
        let table: [(Capability, [bool; 5]); 7] = [
            (Read, [true, true, true, true, true]),
            (SeeCodeValues, [true, true, true, false, false]),
            (Edit, [true, true, true, false, false]),
            (Administer, [true, true, false, false, false]),
            (SendSms, [true, true, true, false, false]),
            (ReadAudit, [true, true, false, false, false]),
            (ManageOrganisation, [true, false, false, false, false]),
        ];
        for (capability, allowed) in table {
            for (role, expected) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(role.can(capability), expected, "{role:?} {capability:?}");
            }
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
