//! The test clock (`keyward serve --test-clock`, `POST /test/clock`): everything the
//! register stamps or compares follows it, it only goes forward, and without the flag
//! the path does not exist.

use serde_json::json;

use crate::support::TestApp;
use crate::support::server::{PASSWORD, move_clock};
use crate::{on_both_databases, on_both_databases_with};

const TEST_CLOCK: &[(&str, &str)] = &[("KEYWARD_TEST_CLOCK", "true")];

on_both_databases! {
    async fn without_the_flag_there_is_no_test_clock(app: TestApp) {
        let (status, body) = move_clock(&app.url, json!({"advanceSeconds": 60})).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], -32600);
    }
}

on_both_databases_with! { TEST_CLOCK;
    async fn writes_sessions_and_checks_follow_the_test_clock(app: TestApp) {
        // It stands still: two reads with nothing between them agree to the microsecond.
        let first = app.clock(json!({})).await;
        assert_eq!(app.clock(json!({})).await["now"], first["now"]);
        assert_eq!(first["jobsRun"], 0);

        let moved = app.clock(json!({"set": "2030-03-31T00:30:00+01:00"})).await;
        assert_eq!(moved["now"], "2030-03-30T23:30:00Z");
        // The owner's first session expired on the way; a new login lasts the token TTL
        // (12 hours by default) on this clock.
        app.owner.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
        let login = app.anonymous().ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
        assert_eq!(login["expiresAt"], "2030-03-31T11:30:00Z");
        let owner = app.owner.with_token(login["token"].as_str().map(str::to_owned));
        let dev = owner.ok("developments.create", json!({"name": "Clockwork Court"})).await;
        assert_eq!(dev["createdAt"], "2030-03-30T23:30:00Z");

        assert_eq!(app.clock(json!({"advanceSeconds": 90})).await["now"], "2030-03-30T23:31:30Z");
        let key = owner
            .ok("keys.createKey", json!({"developmentId": dev["id"], "keyType": "fob", "label": "Front door"}))
            .await;
        assert_eq!(key["createdAt"], "2030-03-30T23:31:30Z");

        // One second before the expiry the token works; at it, it is refused.
        app.clock(json!({"set": "2030-03-31T11:29:59Z"})).await;
        owner.ok("auth.me", json!({})).await;
        app.clock(json!({"advanceSeconds": 1})).await;
        owner.err("auth.me", json!({})).await.assert_kind(-32001, "UNAUTHENTICATED");
    }

    async fn the_test_clock_only_goes_forward_and_refuses_bad_moves(app: TestApp) {
        let now = app.clock(json!({"set": "2031-01-01T00:00:00Z"})).await["now"].clone();
        for body in [
            json!({"set": "2030-12-31T23:59:59Z"}),
            json!({"advanceSeconds": -1}),
            json!({"advanceSeconds": 1, "set": "2032-01-01T00:00:00Z"}),
            json!({"advanceSeconds": i64::MAX}),
            json!({"set": "tomorrow"}),
            json!({"speed": 2}),
            json!([1]),
        ] {
            let (status, answer) = move_clock(&app.url, body.clone()).await;
            assert_eq!(status, 400, "{body} is refused: {answer}");
            assert_eq!(answer["error"]["code"], -32600, "{answer}");
        }
        assert_eq!(app.clock(json!({})).await["now"], now, "a refused move changes nothing");
    }
}
