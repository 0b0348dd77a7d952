//! No log level prints a secret (issue 9, § 2 and § 6): a server at `RUST_LOG=trace` is
//! taken through every path that carries one — signing in (right and wrong password, over
//! HTTP and WebSocket), users created and re-passworded, access codes created, changed and
//! searched by value, the Twilio auth token saved, a code sent by SMS (sent, replayed,
//! rejected, of unknown outcome), and bad input around each — and then every line it wrote
//! is searched for every secret the test used. `keyward bootstrap` at `trace` likewise.
//!
//! Until the HTTP layer stops going through jsonrpsee's, this fails: `jsonrpsee-http`
//! logs every request body at TRACE ("HTTP body: …"). Every other line is clean.

use base64::Engine;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::sms::{assert_rejected, assert_unavailable, failed, mobile, sent};
use crate::support::database::Backend;
use crate::support::server::{PASSWORD, SECRET_KEY, command};
use crate::support::sms::{FROM, PHONE};
use crate::support::{Client, SmsApp};
use fake_twilio::{Scripted, numbers};

const FIRST_CODE: &str = "Qx7-58213#";
/// `FIRST_CODE` as Twilio's form body carries it.
const FIRST_CODE_FORM: &str = "Qx7-58213%23";
const SECOND_CODE: &str = "Zr4-77419*";
/// Doorcodes are digits only: eight of them, unlikely in any other log text.
const DOORCODE: &str = "60491738";
const REFUSED_DOORCODE: &str = "73925146";
const USER_PASSWORD: &str = "lh-user-password-Kp3";
const NEW_PASSWORD: &str = "lh-new-password-Wd8";
const WRONG_PASSWORD: &str = "lh-wrong-password-Jn5";
const BOOTSTRAP_PASSWORD: &str = "lh-bootstrap-password-Hs2";
/// Refused inputs: each must be refused without being repeated.
const SHORT_PASSWORD: &str = "lh-Vb6-x9";
const LONG_CODE: &str = "Yk9-longer-than-thirty-two-chars-";
const CONTROL_CODE: &str = "Wv2-1\u{1}2";
/// What of `CONTROL_CODE` a log would show as is (the control character is escaped).
const CONTROL_CODE_SHOWN: &str = "Wv2-1";
const LONG_TOKEN: &str = "Tt8-an-auth-token-far-too-long-to-be-a-real-twilio-token-0123456789";
const UNPARSEABLE_PASSWORD: &str = "lh-parse-error-password-Gm4";

/// Fails naming every secret found and the lines (at most three each) that hold it.
fn assert_no_secret(log: &str, secrets: &[(&str, &str)]) {
    let mut found = Vec::new();
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "{what}: an empty needle finds nothing");
        let lines: Vec<&str> = log.lines().filter(|line| line.contains(secret)).take(3).collect();
        if !lines.is_empty() {
            found.push(format!("{what} ({secret:?}) in:\n  {}", lines.join("\n  ")));
        }
    }
    assert!(found.is_empty(), "secrets in the log ({} bytes):\n{}", log.len(), found.join("\n"));
}

/// Signs in over a WebSocket (rightly and wrongly), then creates a code on a socket opened
/// with `?access_token=`; returns the session's token.
async fn over_websocket(url: &str, development_id: &Value) -> String {
    let ws_url = url.replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await.expect("upgrade");
    let login = json!({"email": "owner@acme.test", "password": PASSWORD});
    let signed_in = crate::websocket::call(&mut socket, 1, "auth.login", login).await;
    let token = signed_in["result"]["token"].as_str().expect("signed in over the socket").to_owned();
    let wrong = json!({"email": "owner@acme.test", "password": WRONG_PASSWORD});
    let refused = crate::websocket::call(&mut socket, 2, "auth.login", wrong).await;
    assert_eq!(refused["error"]["code"], -32001, "{refused}");
    socket.close(None).await.expect("close");

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}?access_token={token}")).await.expect("upgrade with a token");
    let params =
        json!({"developmentId": development_id, "codeType": "door", "label": "Bin store", "code": SECOND_CODE});
    let created = crate::websocket::call(&mut socket, 3, "keys.createAccessCode", params).await;
    assert_eq!(created["result"]["code"], SECOND_CODE, "{created}");
    socket.close(None).await.expect("close");
    token
}

on_both_databases! {
    async fn no_log_line_holds_a_secret_even_at_trace(app: SmsApp) {
        every_secret_bearing_path_at_trace(app).await;
    }
}

/// The body of the test above (outside the macro, so that rustfmt formats it).
async fn every_secret_bearing_path_at_trace(app: SmsApp) {
    let logged = app.spawn_logged_server(&[("RUST_LOG", "trace"), ("NO_COLOR", "1")]).await;
    let anonymous = Client::new(&logged.url, None);

    // Signing in: right, wrong, and a body that does not parse.
    let login = anonymous.ok("auth.login", json!({"email": "owner@acme.test", "password": PASSWORD})).await;
    let owner_token = login["token"].as_str().expect("a token").to_owned();
    let owner = anonymous.with_token(Some(owner_token.clone()));
    anonymous
        .err("auth.login", json!({"email": "owner@acme.test", "password": WRONG_PASSWORD}))
        .await
        .assert_kind(-32001, "UNAUTHENTICATED");
    let login_params = format!(r#"{{"email":"owner@acme.test","password":"{UNPARSEABLE_PASSWORD}""#);
    let cut_short = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"auth.login","params":{login_params}"#);
    let (_, answer) = anonymous.post_raw(cut_short).await;
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    // Users: created with a password, refused one too short, given a new one.
    owner
        .err("users.create", json!({"email": "x@acme.test", "name": "X", "role": "team", "password": SHORT_PASSWORD}))
        .await
        .assert_invalid("password");
    let user = owner
        .ok("users.create", json!({"email": "lee@acme.test", "name": "Lee", "role": "team", "password": USER_PASSWORD}))
        .await;
    let lee = anonymous.ok("auth.login", json!({"email": "lee@acme.test", "password": USER_PASSWORD})).await;
    let lee_token = lee["token"].as_str().expect("a token").to_owned();
    owner.err("users.update", json!({"id": user["id"], "password": SHORT_PASSWORD})).await.assert_invalid("password");
    owner.ok("users.update", json!({"id": user["id"], "password": NEW_PASSWORD})).await;
    let relogin = anonymous.ok("auth.login", json!({"email": "lee@acme.test", "password": NEW_PASSWORD})).await;
    let relogin_token = relogin["token"].as_str().expect("a token").to_owned();

    // Access codes: created, refused, changed, searched for by value.
    let dev = owner.ok("developments.create", json!({"name": "Oak Park"})).await;
    let new_code =
        |code: &str| json!({"developmentId": dev["id"], "codeType": "gate", "label": "Main Gate", "code": code});
    for bad in [LONG_CODE, CONTROL_CODE] {
        owner.err("keys.createAccessCode", new_code(bad)).await.assert_invalid("code");
    }
    // A bad date next to a good code: the refusal names the date, and repeats neither.
    let mut bad_date = new_code(FIRST_CODE);
    bad_date["expiresOn"] = json!(FIRST_CODE);
    owner.err("keys.createAccessCode", bad_date).await.assert_invalid("expiresOn");
    let code = owner.ok("keys.createAccessCode", new_code(FIRST_CODE)).await;
    assert_eq!(code["code"], FIRST_CODE);
    owner.err("keys.updateAccessCode", json!({"id": code["id"], "code": LONG_CODE})).await.assert_invalid("code");
    owner.ok("keys.updateAccessCode", json!({"id": code["id"], "code": SECOND_CODE})).await;
    let found = owner.ok("keys.listAccessCodes", json!({"search": SECOND_CODE})).await;
    assert_eq!(found["total"], 1, "{found}");
    owner.ok("keys.updateAccessCode", json!({"id": code["id"], "code": FIRST_CODE})).await;
    // A reveal answers the value and records it in the ledger; the log holds neither.
    assert_eq!(owner.ok("keys.revealAccessCode", json!({"id": code["id"]})).await["code"], FIRST_CODE);
    owner.ok("keys.recordCodeDisclosure", json!({"id": code["id"], "name": "Sam Smith"})).await;
    owner.ok("keys.accessCodeExposure", json!({"id": code["id"]})).await;
    let ws_token = over_websocket(&logged.url, &dev["id"]).await;

    // A doorcode: given (strict), refused (a code with `random`), taken (CODE_TAKEN).
    let door = owner.ok("doors.create", json!({"developmentId": dev["id"], "name": "Front", "kind": "entrance"})).await;
    let person = owner.ok("people.create", json!({"name": "Ann Staff", "kind": "staff"})).await;
    let grant = |policy: &str, code: &str| {
        json!({"developmentId": dev["id"], "name": "Staff", "startsAt": "2027-01-01T00:00:00Z",
        "doors": [{"doorId": door["id"]}], "personIds": [person["id"]], "doorcode": {"policy": policy, "code": code}})
    };
    owner.err("grants.create", grant("random", REFUSED_DOORCODE)).await.assert_invalid("doorcode.code");
    let staff_grant = owner.ok("grants.create", grant("strict", DOORCODE)).await;
    owner.err("grants.create", grant("strict", DOORCODE)).await.assert_kind(-32009, "CODE_TAKEN");

    // The Twilio auth token: refused, then saved (the fake's own, so that sends work).
    let auth_token = fake_twilio::Config::default().auth_token;
    let settings =
        |token: &str| json!({"accountSid": fake_twilio::DEFAULT_ACCOUNT_SID, "authToken": token, "fromNumber": FROM});
    owner.err("settings.updateSms", settings(LONG_TOKEN)).await.assert_invalid("authToken");
    owner.ok("settings.updateSms", settings(&auth_token)).await;

    // The code by SMS: sent, replayed, rejected, and twice of unknown outcome.
    let target = json!({"type": "accessCode", "id": code["id"]});
    let request = |phone: &str, key: Option<&str>| {
        let mut params = json!({"target": target, "recipientName": "Sam Smith", "phone": phone});
        if let Some(key) = key {
            params["idempotencyKey"] = json!(key);
        }
        params
    };
    sent(owner.call("keys.sendSms", request(PHONE, Some("log-1"))).await);
    sent(owner.call("keys.sendSms", request(PHONE, Some("log-1"))).await);
    failed(owner.call("keys.sendSms", request("+44 7400 12345a", None)).await).assert_invalid("phone");
    assert_rejected(owner.call("keys.sendSms", request(numbers::TO_OPTED_OUT, None)).await, 21610);
    assert_unavailable(owner.call("keys.sendSms", request(numbers::FAULT_500, None)).await, true);
    app.fake.script(vec![Scripted { status: 201, delay_ms: Some(5_000), ..Scripted::default() }]);
    assert_unavailable(owner.call("keys.sendSms", request(&mobile(1), None)).await, true);
    // The doorcode by SMS (`grants.sendCredentials`), to the person's phone.
    owner.ok("people.update", json!({"id": person["id"], "phone": PHONE})).await;
    let credentials = json!({"id": staff_grant["id"], "personId": person["id"]});
    sent(owner.call("grants.sendCredentials", credentials).await);
    let log = logged.stop().await;
    let doorcode_body = app.fake.requests().last().and_then(|r| r.field("Body").map(str::to_owned));
    assert!(doorcode_body.is_some_and(|body| body.contains(DOORCODE)), "the doorcode went out by SMS");

    // `keyward bootstrap` logs to stderr too.
    let bootstrap = command()
        .args(["bootstrap", "--org", "Second Lettings", "--email", "owner@second.test", "--name", "Sue Owner"])
        .env("KEYWARD_DATABASE_URL", &app.db.url)
        .env("KEYWARD_PASSWORD", BOOTSTRAP_PASSWORD)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run keyward bootstrap");
    assert!(bootstrap.status.success(), "{}", String::from_utf8_lossy(&bootstrap.stderr));
    let bootstrap_log = String::from_utf8_lossy(&bootstrap.stderr).into_owned();

    // The secrets did travel: the body went out with the code, and the log is the
    // whole run at trace, calls and SMS lines included.
    assert_eq!(app.fake.requests()[0].field("Body"), Some(format!("Oak Park: Main Gate code {FIRST_CODE}.").as_str()));
    for line in [
        "users.create",
        "keys.createAccessCode",
        "grants.create",
        "settings.updateSms",
        "twilio answered",
        "SMS outcome unknown",
    ] {
        assert!(log.contains(line), "the log holds {line:?} ({} bytes)", log.len());
    }
    assert!(bootstrap_log.contains("database ready"), "bootstrap's log was captured: {bootstrap_log}");

    let secret_key = match app.db.backend {
        Backend::Postgres => SECRET_KEY.to_owned(),
        Backend::Sqlite => {
            std::fs::read_to_string(format!("{}.key", app.db.url.strip_prefix("sqlite://").expect("a sqlite URL")))
                .expect("the key file beside the database")
                .trim()
                .to_owned()
        }
    };
    // How the token travels to Twilio: HTTP Basic, `base64(accountSid:authToken)`.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{auth_token}", fake_twilio::DEFAULT_ACCOUNT_SID));
    assert_eq!(app.fake.requests()[0].auth_user.as_deref(), Some(fake_twilio::DEFAULT_ACCOUNT_SID));
    let secrets = [
        ("the owner's password", PASSWORD),
        ("a wrong password", WRONG_PASSWORD),
        ("a password in a body that does not parse", UNPARSEABLE_PASSWORD),
        ("a user's password", USER_PASSWORD),
        ("a user's new password", NEW_PASSWORD),
        ("a refused password", SHORT_PASSWORD),
        ("a code value", FIRST_CODE),
        ("a code value, form-encoded", FIRST_CODE_FORM),
        ("a changed code value", SECOND_CODE),
        ("a refused code value", LONG_CODE),
        ("a refused code value", CONTROL_CODE_SHOWN),
        ("a doorcode", DOORCODE),
        ("a refused doorcode", REFUSED_DOORCODE),
        ("the Twilio auth token", auth_token.as_str()),
        ("a refused auth token", LONG_TOKEN),
        ("the Twilio auth token as HTTP Basic credentials", basic.as_str()),
        ("the owner's session token", owner_token.as_str()),
        ("a user's session token", lee_token.as_str()),
        ("a user's new session token", relogin_token.as_str()),
        ("a WebSocket session token", ws_token.as_str()),
        ("the secret key", secret_key.as_str()),
    ];
    assert_no_secret(&log, &secrets);
    assert_no_secret(
        &bootstrap_log,
        &[("the bootstrap password", BOOTSTRAP_PASSWORD), ("the secret key", secret_key.as_str())],
    );
}
