//! The OpenRPC document of the contract, `docs/openrpc.json`, generated from the procedure
//! list and the same specta types as the TypeScript client: params (by name) and result
//! as JSON Schema (draft 7, OpenRPC 1.3's dialect; specta-jsonschema), the named types in
//! `components.schemas`, the errors each procedure may answer with their `data.kind`, the
//! roles in the description, and an example whose params parse as the procedure's input.
//!
//! Written and drift-checked with the TypeScript files by `bindings::bindings_are_fresh`
//! (`cargo xtask bindings [--check]`); `rpc.discover` answers the checked-in file.

mod errors;
mod examples;

use std::collections::BTreeMap;

use keyward_domain::Role;
use serde_json::{Map, Value, json};
use specta_jsonschema::{JsonSchema, SchemaVersion};

use crate::procedure::{Access, Procedure, ProcedureVisitor};

/// The OpenRPC version the document follows.
const OPENRPC: &str = "1.3.2";
/// Where OpenRPC's draft-7 schemas keep their named types.
const COMPONENTS: &str = "#/components/schemas/";
/// The result schema of `rpc.discover`, as the OpenRPC specification gives it.
const META_SCHEMA: &str = "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json";

struct Collect {
    methods: Vec<Value>,
    schemas: BTreeMap<String, Value>,
    errors: errors::Contract,
}

impl ProcedureVisitor for Collect {
    fn visit<P: Procedure>(&mut self) {
        let input = self.absorb(P::NAME, schema_of::<P::Input>(P::NAME));
        let output = self.absorb(P::NAME, schema_of::<P::Output>(P::NAME));
        let params = self.params(P::NAME, &input);
        let result = if P::NAME == "rpc.discover" { json!({ "$ref": META_SCHEMA }) } else { output };
        let example = examples::params::<P>();
        let (namespace, _) = P::NAME.split_once('.').expect("procedure names are namespace.method");
        self.methods.push(json!({
            "name": P::NAME,
            "tags": [{ "name": namespace }],
            "description": description(P::ACCESS, P::READ_ONLY),
            "paramStructure": "by-name",
            "params": params,
            "result": { "name": "result", "schema": result },
            "errors": self.errors.of(P::NAME, P::ACCESS),
            "examples": [{
                "name": format!("{} example", P::NAME),
                "params": example
                    .into_iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect::<Vec<_>>(),
            }],
        }));
    }
}

impl Collect {
    /// Moves a schema's named types into `components.schemas` (one definition per name:
    /// two different types of one name fail) and answers its root, with every `$ref`
    /// pointing there.
    fn absorb(&mut self, procedure: &str, mut schema: Value) -> Value {
        rewrite_refs(&mut schema);
        let Value::Object(mut root) = schema else { panic!("{procedure}: a schema that is not an object") };
        if let Some(Value::Object(definitions)) = root.remove("definitions") {
            for (name, definition) in definitions {
                let name = component_name(&name);
                match self.schemas.get(&name) {
                    Some(known) if *known != definition => {
                        panic!("{procedure}: two different types are both named {name}")
                    }
                    Some(_) => {}
                    None => {
                        self.schemas.insert(name, definition);
                    }
                }
            }
        }
        root.remove("$schema");
        // Draft 7 keeps a root `$ref` in `allOf` (siblings of `$ref` are ignored there).
        if root.len() == 1
            && let Some(Value::Array(all_of)) = root.get("allOf")
            && let [only] = all_of.as_slice()
        {
            return only.clone();
        }
        Value::Object(root)
    }

    /// The input type's fields as OpenRPC content descriptors (params by name): required
    /// ones first, each group by name.
    fn params(&self, procedure: &str, input: &Value) -> Vec<Value> {
        let object = match input.get("$ref").and_then(Value::as_str) {
            Some(reference) => &self.schemas[reference.strip_prefix(COMPONENTS).expect("a component")],
            None => input,
        };
        let properties = object
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("{procedure}: params must be one object of named fields"));
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut params: Vec<(bool, &String, &Value)> =
            properties.iter().map(|(name, schema)| (required.contains(&name.as_str()), name, schema)).collect();
        params.sort_by_key(|(required, name, _)| (!*required, name.as_str()));
        params
            .into_iter()
            .map(|(required, name, schema)| {
                let mut schema = schema.clone();
                let mut descriptor = Map::new();
                descriptor.insert("name".into(), json!(name));
                if let Some(Value::String(text)) = schema.as_object_mut().and_then(|s| s.remove("description")) {
                    descriptor.insert("description".into(), json!(text));
                }
                descriptor.insert("required".into(), json!(required));
                descriptor.insert("schema".into(), schema);
                Value::Object(descriptor)
            })
            .collect()
    }
}

/// `T` as a draft-7 schema: named types in `definitions`, serde's renames applied.
fn schema_of<T: specta::Type>(procedure: &str) -> Value {
    JsonSchema::default()
        .schema_version(SchemaVersion::Draft7)
        .string_formats(true)
        .export_type_value::<T>(specta_serde::Format)
        .unwrap_or_else(|e| panic!("{procedure}: no JSON Schema for its types: {e}"))
}

/// `Page<Key>` → `Page_Key`: names OpenRPC's component keys and every tool accept.
fn component_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// Every `#/definitions/<name>` becomes `#/components/schemas/<component name>`; every
/// description loses the leading spaces of its doc comment.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => {
                        let name = reference
                            .strip_prefix("#/definitions/")
                            .unwrap_or_else(|| panic!("an unexpected $ref {reference}"));
                        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                        let name = name.replace("~1", "/").replace("~0", "~");
                        *reference = format!("{COMPONENTS}{}", component_name(&name));
                    }
                    ("description", Value::String(text)) => *text = doc_text(text),
                    (_, value) => rewrite_refs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// A Rust doc comment as a description: without the space after each `///`.
fn doc_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(|line| line.strip_prefix(' ').unwrap_or(line)).collect();
    lines.join("\n").trim().to_owned()
}

/// Who may call, and whether a call changes anything.
fn description(access: Access, read_only: bool) -> String {
    let roles = match access {
        Access::Public => "Roles: anyone, no token needed.".to_owned(),
        Access::Signed(capability) => {
            let roles: Vec<&str> = Role::ALL.into_iter().filter(|r| r.can(capability)).map(Role::as_str).collect();
            format!("Roles: {} (capability {capability:?}); any other role gets FORBIDDEN.", roles.join(", "))
        }
    };
    if read_only { format!("{roles} Changes nothing.") } else { roles }
}

/// The whole document, as `docs/openrpc.json` holds it.
pub fn document() -> String {
    let mut collect = Collect { methods: Vec::new(), schemas: BTreeMap::new(), errors: errors::Contract::read() };
    crate::procedures::visit(&mut collect);
    let document = json!({
        "openrpc": OPENRPC,
        "info": {
            "title": "keyward",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A JSON-RPC 2.0 register of keys and access codes per organisation. \
                The wire contract is docs/api.md; this document is generated from the same procedure \
                list and types as the TypeScript client (`cargo xtask bindings`).",
        },
        "methods": collect.methods,
        "components": { "schemas": collect.schemas },
    });
    let mut out = serde_json::to_string_pretty(&document).expect("a document");
    out.push('\n');
    out
}

#[test]
fn every_procedure_is_a_method_with_its_schemas_and_errors() {
    let document: Value = serde_json::from_str(&document()).expect("JSON");
    let methods = document["methods"].as_array().expect("methods");
    let names: Vec<&str> = methods.iter().map(|m| m["name"].as_str().expect("a name")).collect();
    assert_eq!(names, crate::procedure::names());
    let create_key = methods.iter().find(|m| m["name"] == "keys.createKey").expect("keys.createKey");
    let params = create_key["params"].as_array().expect("params");
    let label = params.iter().find(|p| p["name"] == "label").expect("a label param");
    assert_eq!(label["required"], json!(true));
    assert_eq!(label["schema"], json!({ "type": "string" }));
    let kinds: Vec<&Value> =
        create_key["errors"].as_array().expect("errors").iter().map(|e| &e["data"]["kind"]).collect();
    for kind in ["UNAUTHENTICATED", "FORBIDDEN", "INVALID_INPUT", "NOT_FOUND", "KEY_REF_TAKEN"] {
        assert!(kinds.contains(&&json!(kind)), "keys.createKey lacks {kind}");
    }
    assert_eq!(create_key["result"]["schema"], json!({ "$ref": "#/components/schemas/Key" }));
    let me = methods.iter().find(|m| m["name"] == "auth.me").expect("auth.me");
    assert!(!me["errors"].to_string().contains("FORBIDDEN"), "every role may call auth.me");
    assert!(document["components"]["schemas"]["Page_Key"].is_object());
    assert!(!document.to_string().contains("#/definitions/"), "every $ref points into components");
    assert!(!document.to_string().contains("\\n "), "descriptions keep no doc-comment indent");
}
