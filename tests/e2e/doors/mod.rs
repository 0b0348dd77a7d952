//! Doors (issue 12): `doors.*`, development time zones, what opens what, blast radius and
//! the door log.

mod blast_radius;
mod crud;
mod door_log;
mod races;
mod what_opens;

use serde_json::{Value, json};

use crate::support::TestApp;

/// A door of a development, created by the owner.
pub async fn door(app: &TestApp, development_id: &Value, name: &str, kind: &str) -> Value {
    app.owner.ok("doors.create", json!({"developmentId": development_id, "name": name, "kind": kind})).await
}

pub fn ids(page: &Value) -> Vec<Value> {
    page["items"].as_array().expect("items").iter().map(|i| i["id"].clone()).collect()
}
