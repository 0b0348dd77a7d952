//! The errors of each method. The procedure list does not declare a procedure's own
//! errors, so they are read from where the contract states them: the errors column of
//! the procedure table in `docs/api.md`, plus the errors its Conventions give every
//! procedure by its access (decision 110).

use std::collections::HashMap;

use keyward_domain::Role;
use serde_json::{Value, json};

use crate::error::ErrorKind;
use crate::procedure::Access;

/// The errors column of `docs/api.md`'s procedure table, per procedure.
pub struct Contract(HashMap<String, Vec<ErrorKind>>);

impl Contract {
    pub fn read() -> Contract {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
        let text = std::fs::read_to_string(&path).expect("docs/api.md");
        Contract::parse(&text)
    }

    /// Rows `| ns.method / other / … | roles | params | result | errors |`.
    fn parse(text: &str) -> Contract {
        let mut table = HashMap::new();
        for line in text.lines() {
            let line = line.replace("\\|", " ");
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            let [procedures, _roles, _params, _result, errors] = cells.as_slice() else { continue };
            let mut names = procedures.split('/').map(str::trim);
            let Some(first) = names.next() else { continue };
            let Some((namespace, _)) = first.split_once('.') else { continue };
            if first.contains(' ') || first.contains('`') {
                continue;
            }
            let kinds: Vec<ErrorKind> = errors
                .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .filter_map(|word| serde_json::from_value(json!(word)).ok())
                .collect();
            table.insert(first.to_owned(), kinds.clone());
            for method in names {
                table.insert(format!("{namespace}.{method}"), kinds.clone());
            }
        }
        Contract(table)
    }

    /// `procedure`'s errors as OpenRPC error objects: those of its access, then its own.
    pub fn of(&self, procedure: &str, access: Access) -> Vec<Value> {
        let mut kinds = Vec::new();
        if let Access::Signed(capability) = access {
            kinds.push(ErrorKind::Unauthenticated);
            if !Role::ALL.into_iter().all(|role| role.can(capability)) {
                kinds.push(ErrorKind::Forbidden);
            }
        }
        kinds.push(ErrorKind::InvalidInput);
        kinds.extend(self.0.get(procedure).into_iter().flatten().copied());
        kinds.extend([ErrorKind::Unavailable, ErrorKind::Internal]);
        let mut seen = Vec::new();
        kinds.retain(|kind| {
            !seen.contains(kind) && {
                seen.push(*kind);
                true
            }
        });
        kinds
            .into_iter()
            .map(|kind| {
                let name = serde_json::to_value(kind).expect("a kind");
                json!({ "code": kind.code(), "message": name, "data": { "kind": name } })
            })
            .collect()
    }
}

#[test]
fn the_errors_column_is_read_per_procedure() {
    let contract = Contract::parse(
        "| keys.getKey | all | `id` | `Key` | NOT_FOUND |\n\
         | keys.returnKey / markLost | OMT | `id, notes?` | `Key` | NOT_FOUND, INVALID_TRANSITION |\n\
         | keys.sendSms | OMT | `target: {type: \"key\", id} \\| {type: \"accessCode\", id}` | `{}` | RATE_LIMITED (see SMS) |\n\
         | `page`, `limit` | see `Page<T>` |\n",
    );
    assert_eq!(contract.0["keys.getKey"], [ErrorKind::NotFound]);
    assert_eq!(contract.0["keys.markLost"], [ErrorKind::NotFound, ErrorKind::InvalidTransition]);
    assert_eq!(contract.0["keys.sendSms"], [ErrorKind::RateLimited]);
    assert_eq!(contract.0.len(), 4);
}

#[test]
fn every_procedure_has_a_row_in_the_contract_and_every_row_is_a_procedure() {
    let contract = Contract::read();
    let names = crate::procedure::names();
    let missing: Vec<&&str> = names.iter().filter(|name| !contract.0.contains_key(**name)).collect();
    assert!(missing.is_empty(), "no row in docs/api.md's procedure table: {missing:?}");
    let unknown: Vec<&String> = contract.0.keys().filter(|name| !names.contains(&name.as_str())).collect();
    assert!(unknown.is_empty(), "rows of docs/api.md's procedure table that name no procedure: {unknown:?}");
}
