//! `keys.accessCodeKnownBy`: the value in force at T and who had it by T, exact to the
//! microsecond, with the ledger entries each answer came from.

use super::*;
use crate::on_both_databases;

/// Who knew the value at `at`: (names, the value version).
async fn known_at(app: &TestApp, code: &Value, at: &str) -> (Vec<String>, Value) {
    let answer = app.owner.ok("keys.accessCodeKnownBy", json!({"id": code["id"], "at": at})).await;
    let names = answer["knownBy"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_owned()).collect();
    (names, answer["period"]["valueVersion"].clone())
}

on_both_databases! {
    async fn known_by_answers_to_the_microsecond_and_cites_its_entries(app: TestApp) {
        let (_, code) = gate_code(&app, json!({})).await;
        let owner = app.owner.ok("auth.me", json!({})).await["user"]["name"].as_str().unwrap().to_owned();
        let set = exposures(&app, &code).await.remove(0);
        let told = app.owner.ok("keys.recordCodeDisclosure", json!({"id": code["id"], "name": "Alex"})).await;
        let again = app.owner.ok("keys.recordCodeDisclosure", json!({"id": code["id"], "name": "Alex"})).await;
        let changed = app.owner.ok("keys.updateAccessCode", json!({"id": code["id"], "code": NEW_CODE})).await;
        let since2 = app.owner.ok("keys.accessCodeExposure", json!({"id": code["id"]})).await["period"]["since"].clone();
        assert_eq!(since2, changed["updatedAt"]);

        // Before the code had a value: no period, nobody.
        let before = app.owner.ok("keys.accessCodeKnownBy", json!({"id": code["id"], "at": shifted(&set["at"], -1)})).await;
        assert_eq!((before["period"].clone(), before["knownBy"].clone()), (Value::Null, json!([])));
        // The instant it was set: the owner who typed it.
        assert_eq!(known_at(&app, &code, &shifted(&set["at"], 0)).await, (vec![owner.clone()], json!(1)));
        // One microsecond before the disclosure: not yet Alex; at it: Alex.
        assert_eq!(known_at(&app, &code, &shifted(&told["at"], -1)).await, (vec![owner.clone()], json!(1)));
        let at_told = app.owner.ok("keys.accessCodeKnownBy", json!({"id": code["id"], "at": told["at"]})).await;
        assert_eq!(at_told["knownBy"][1]["name"], "Alex");
        assert_eq!(at_told["knownBy"][1]["since"], told["at"]);
        assert_eq!(at_told["knownBy"][1]["exposureIds"], json!([told["id"]]));
        assert_eq!(at_told["knownBy"][0]["exposureIds"], json!([set["id"]]));
        // The last microsecond of value 1: both of Alex's entries, and the period's end.
        let last = app.owner.ok("keys.accessCodeKnownBy", json!({"id": code["id"], "at": shifted(&since2, -1)})).await;
        assert_eq!(last["period"], json!({"valueVersion": 1, "since": set["at"], "until": since2}));
        assert_eq!(last["knownBy"][1]["exposureIds"], json!([told["id"], again["id"]]));
        // The first microsecond of value 2: only whoever typed it.
        assert_eq!(known_at(&app, &code, &shifted(&since2, 0)).await, (vec![owner.clone()], json!(2)));
        let now = app.owner.ok("keys.accessCodeKnownBy", json!({"id": code["id"], "at": "2999-01-01T00:00:00Z"})).await;
        assert_eq!(now["period"]["until"], Value::Null);
        assert_eq!(now["knownBy"].as_array().unwrap().len(), 1);

        // Bad instants.
        app.owner.err("keys.accessCodeKnownBy", json!({"id": code["id"], "at": "yesterday"})).await.assert_invalid("at");
        app.owner.err("keys.accessCodeKnownBy", json!({"id": code["id"]})).await.assert_invalid("at");
    }
}
