use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases! {
    async fn health_login_and_issue(app: TestApp) {
        let dev = app.development("Oak Park").await;
        assert_eq!(dev["keyPrefix"], "OP");
        let key = app.key(&dev["id"], "Flat 12 front door").await;
        assert_eq!(key["keyRef"], "OP-001");
        let issued = app.owner.ok("keys.issueKey", json!({"id": key["id"], "issuedTo": "Sam Smith"})).await;
        assert_eq!(issued["status"], "issued");
        assert_eq!(issued["version"], 2);
    }
}
