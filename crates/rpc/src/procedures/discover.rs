//! `rpc.discover`: the OpenRPC service discovery method (OpenRPC 1.3 § Service Discovery
//! Method). It answers `docs/openrpc.json`, which the rpc crate's tests generate from
//! this procedure list and its types (`cargo xtask bindings`, drift-checked by
//! `--check`), so the server carries the document, not its generator.

use std::collections::BTreeMap;

use keyward_domain::Error;
use serde::Serialize;
use serde_json::value::RawValue;
use specta::Type;

use super::NoParams;
use crate::procedure::{Access, Call, Procedure};

/// The checked-in document, as the server answers it.
pub const DOCUMENT: &str = include_str!("../../../../docs/openrpc.json");

/// The OpenRPC document: a JSON object whose shape is the OpenRPC meta-schema's
/// `OpenrpcDocument` (the `@open-rpc/meta-schema` package has its TypeScript type).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(transparent)]
pub struct OpenRpcDocument(#[specta(type = BTreeMap<String, JsonValue>)] &'static RawValue);

/// Any JSON value (for the bindings: specta's own refuses its 64-bit integers).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(untagged)]
#[expect(dead_code, reason = "the bindings' type of the document, never built")]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<JsonValue>),
    Object(BTreeMap<String, JsonValue>),
}

pub struct Discover;
impl Procedure for Discover {
    const NAME: &'static str = "rpc.discover";
    const ACCESS: Access = Access::Public;
    const READ_ONLY: bool = true;
    type Input = NoParams;
    type Output = OpenRpcDocument;

    async fn call(_call: Call<'_>, _input: NoParams) -> Result<OpenRpcDocument, Error> {
        let document = serde_json::from_str(DOCUMENT)
            .map_err(|e| Error::Internal(format!("docs/openrpc.json is not JSON: {e}")))?;
        Ok(OpenRpcDocument(document))
    }
}
