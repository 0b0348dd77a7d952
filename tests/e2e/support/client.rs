//! A minimal JSON-RPC 2.0 client over real HTTP.

use serde_json::{Value, json};

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

/// A JSON-RPC error object, with the contract's `data` fields pulled out.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub kind: Option<String>,
    pub field: Option<String>,
    pub data: Value,
}

impl Client {
    pub fn new(url: &str, token: Option<String>) -> Client {
        Client { http: reqwest::Client::new(), url: url.to_owned(), token }
    }

    /// A client whose connections come from another loopback address (`127.0.0.2`…):
    /// another client address to the server.
    pub fn from_address(url: &str, address: std::net::IpAddr) -> Client {
        let http = reqwest::Client::builder().local_address(address).build().expect("a client bound to the address");
        Client { http, url: url.to_owned(), token: None }
    }

    pub fn with_token(&self, token: Option<String>) -> Client {
        Client { token, ..self.clone() }
    }

    fn request(&self, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        let req = self.http.post(&self.url).header("content-type", "application/json").body(body);
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Posts a raw body; returns the HTTP status and the body (JSON if it parses).
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self.request(body).send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Calls a procedure with `params` (any JSON, so that tests can send bad shapes).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.try_call(method, params).await.expect("the server answers")
    }

    /// Calls a procedure; `Err` when no answer came back at all (the server is gone).
    pub async fn try_call(&self, method: &str, params: Value) -> Result<Result<Value, RpcError>, reqwest::Error> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let text = self.request(body).send().await?.text().await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(parse_response(&body))
    }

    /// Calls and expects success.
    #[track_caller]
    pub fn ok(&self, method: &'static str, params: Value) -> impl Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move { self.call(method, params).await.unwrap_or_else(|e| panic!("{method} failed at {caller}: {e:?}")) }
    }

    /// Calls and expects an error.
    #[track_caller]
    pub fn err(&self, method: &'static str, params: Value) -> impl Future<Output = RpcError> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.call(method, params).await {
                Ok(v) => panic!("{method} succeeded at {caller} but should have failed: {v}"),
                Err(e) => e,
            }
        }
    }
}

pub fn parse_response(body: &Value) -> Result<Value, RpcError> {
    assert_eq!(body["jsonrpc"], "2.0", "not a JSON-RPC response: {body}");
    if let Some(error) = body.get("error") {
        let data = error.get("data").cloned().unwrap_or(Value::Null);
        return Err(RpcError {
            code: error["code"].as_i64().expect("error code"),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            kind: data.get("kind").and_then(Value::as_str).map(str::to_owned),
            field: data.get("field").and_then(Value::as_str).map(str::to_owned),
            data,
        });
    }
    Ok(body["result"].clone())
}

impl RpcError {
    /// Asserts the contract's code and kind.
    #[track_caller]
    pub fn assert_kind(&self, code: i64, kind: &str) {
        assert_eq!((self.code, self.kind.as_deref()), (code, Some(kind)), "unexpected error: {self:?}");
    }

    /// Asserts INVALID_INPUT on `field`.
    #[track_caller]
    pub fn assert_invalid(&self, field: &str) {
        self.assert_kind(-32602, "INVALID_INPUT");
        assert_eq!(self.field.as_deref(), Some(field), "wrong field: {self:?}");
        assert!(self.data["reason"].as_str().is_some_and(|r| !r.is_empty()), "no reason: {self:?}");
    }
}
