use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases! {
    async fn developments_get_default_prefixes_and_list_by_name(app: TestApp) {
        for (name, prefix) in [("Oak Park", "OP"), ("Riverside Court West", "RCW"), ("Riverside", "RI")] {
            assert_eq!(app.development(name).await["keyPrefix"], prefix, "{name}");
        }
        let custom = app.owner.ok("developments.create", json!({"name": "Harbour View", "keyPrefix": "hv2"})).await;
        assert_eq!(custom["keyPrefix"], "HV2");
        let names: Vec<String> = app.owner.ok("developments.list", json!({})).await["items"]
            .as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["Harbour View", "Oak Park", "Riverside", "Riverside Court West"]);
        app.owner.err("developments.create", json!({"name": "X", "keyPrefix": "TOOLONGPREFIX"})).await.assert_invalid("keyPrefix");
        app.owner.err("developments.create", json!({"name": " "})).await.assert_invalid("name");
    }

    async fn developments_are_renamed_and_re_prefixed(app: TestApp) {
        let dev = app.development("Oak Park").await;
        app.key(&dev["id"], "Door").await;
        let renamed = app.owner.ok("developments.update", json!({"id": dev["id"], "name": "Oak Park North", "keyPrefix": "opn"})).await;
        assert_eq!(renamed["name"], "Oak Park North");
        assert_eq!(renamed["keyPrefix"], "OPN");
        assert_eq!(renamed["createdAt"], dev["createdAt"]);
        // New keys follow the new prefix; existing refs stay.
        assert_eq!(app.owner.ok("keys.suggestKeyRef", json!({"developmentId": dev["id"]})).await["keyRef"], "OPN-001");
        assert_eq!(app.owner.ok("keys.listKeys", json!({})).await["items"][0]["keyRef"], "OP-001");
    }

    async fn only_an_empty_development_can_be_deleted(app: TestApp) {
        let dev = app.development("Oak Park").await;
        let key = app.key(&dev["id"], "Door").await;
        app.owner.err("developments.delete", json!({"id": dev["id"]})).await.assert_kind(-32009, "DEVELOPMENT_NOT_EMPTY");
        app.owner.ok("keys.deleteKey", json!({"id": key["id"]})).await;
        assert_eq!(app.owner.ok("developments.delete", json!({"id": dev["id"]})).await, json!({}));
        assert_eq!(app.owner.ok("developments.list", json!({})).await["items"], json!([]));
        app.owner.err("developments.delete", json!({"id": dev["id"]})).await.assert_kind(-32004, "NOT_FOUND");
    }
}
