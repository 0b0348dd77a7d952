//! `rpc.discover` over HTTP: the OpenRPC document the server answers is the checked-in
//! `docs/openrpc.json` (which the drift check keeps equal to what the Rust types
//! generate), without a token; every method it lists is served; and every example call,
//! sent by the owner, gets past the server's whole input validation.

use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::support::TestApp;

fn checked_in() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openrpc.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openrpc.json")).expect("JSON")
}

/// A method's example params as the by-name object a client sends.
fn example(method: &Value) -> Value {
    let params = method["examples"][0]["params"].as_array().expect("an example");
    let fields: Map<String, Value> =
        params.iter().map(|p| (p["name"].as_str().expect("a name").to_owned(), p["value"].clone())).collect();
    Value::Object(fields)
}

on_both_databases! {
    async fn rpc_discover_answers_the_checked_in_document_without_a_token(app: TestApp) {
        let document = checked_in();
        let anonymous = app.anonymous();
        assert_eq!(anonymous.ok("rpc.discover", json!({})).await, document);
        assert_eq!(anonymous.ok("rpc.discover", Value::Null).await, document);
        // A token, even a wrong one, changes nothing: the method is public.
        assert_eq!(app.owner.ok("rpc.discover", json!({})).await, document);
        let stale = anonymous.with_token(Some("not-a-token".to_owned()));
        assert_eq!(stale.ok("rpc.discover", json!({})).await, document);
        // It takes no params.
        anonymous.err("rpc.discover", json!({"verbose": true})).await.assert_kind(-32602, "INVALID_INPUT");
        anonymous.err("rpc.discover", json!([1])).await.assert_kind(-32602, "INVALID_INPUT");
        assert_eq!(document["methods"][0]["name"], "rpc.discover");
    }

    async fn every_method_of_the_document_is_served_and_its_example_passes_validation(app: TestApp) {
        let document = checked_in();
        let methods = document["methods"].as_array().expect("methods");
        assert!(methods.len() > 60);
        let anonymous = app.anonymous();
        for method in methods {
            let name = method["name"].as_str().expect("a name");
            // Listed means served: an unknown name would be METHOD_NOT_FOUND.
            if let Err(e) = anonymous.call(name, example(method)).await {
                assert_ne!(e.kind.as_deref(), Some("METHOD_NOT_FOUND"), "{name} is listed but not served");
            }
        }
        // The examples name entities that do not exist: the owner's calls reach the
        // procedures' own rules (NOT_FOUND, a login that fails…), never an input refusal.
        for method in methods.iter().filter(|m| m["name"] != "auth.logout") {
            let name = method["name"].as_str().expect("a name");
            let params = example(method);
            if let Err(e) = app.owner.call(name, params.clone()).await {
                assert!(
                    !matches!(e.kind.as_deref(), Some("INVALID_INPUT" | "FORBIDDEN" | "INTERNAL")),
                    "{name} refused its own example {params}: {e:?}"
                );
            }
        }
        // The owner is still signed in, and logs out with the example last.
        let logout = methods.iter().find(|m| m["name"] == "auth.logout").expect("auth.logout");
        app.owner.ok("auth.logout", example(logout)).await;
        app.owner.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
    }
}
