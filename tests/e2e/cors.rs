//! CORS: only the configured origins may call from a browser; none by default.

use crate::support::{Backend, TestApp};

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &app.url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap()
}

fn allowed_origin(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn configured_origins_are_allowed_and_no_others() {
    let env = [("KEYWARD_CORS_ORIGINS", "http://localhost:5173,https://app.example.com")];
    let app = TestApp::start_with(Backend::Sqlite, &env).await.unwrap();
    for origin in ["http://localhost:5173", "https://app.example.com"] {
        let resp = preflight(&app, origin).await;
        assert_eq!(allowed_origin(&resp).as_deref(), Some(origin));
        let headers = resp.headers().get("access-control-allow-headers").unwrap().to_str().unwrap().to_owned();
        assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    }
    assert_eq!(allowed_origin(&preflight(&app, "https://evil.example.com").await), None);

    let resp = reqwest::Client::new()
        .post(&app.url)
        .header("origin", "https://app.example.com")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"keys.listKeys"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&resp).as_deref(), Some("https://app.example.com"));
    let exposed = resp.headers().get("access-control-expose-headers").unwrap().to_str().unwrap();
    assert!(exposed.contains("x-request-id"));
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    assert_eq!(allowed_origin(&preflight(&app, "http://localhost:5173").await), None);
}

#[tokio::test]
async fn a_malformed_origin_is_a_startup_error() {
    let out = crate::support::server::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--cors-origins", "app.example.com/path"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an origin"));
}
