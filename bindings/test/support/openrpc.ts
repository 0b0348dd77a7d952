// The checked-in OpenRPC document (docs/openrpc.json, which `rpc.discover` answers) and a
// JSON Schema validator for it: the document against the OpenRPC meta-schema, and params
// against a method's params (by name).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { Ajv, type AnySchemaObject, type ValidateFunction } from "ajv";

const require = createRequire(import.meta.url);
// CommonJS packages whose type declarations describe only types: loaded as values here.
const addFormats = require("ajv-formats") as (ajv: Ajv) => Ajv;
const openrpcMetaSchema = (require("@open-rpc/meta-schema") as { default: AnySchemaObject }).default;
const jsonSchemaMetaSchema = (require("@json-schema-tools/meta-schema") as { default: AnySchemaObject }).default;

export type ContentDescriptor = { name: string; required?: boolean; schema: AnySchemaObject };
export type ExamplePairing = { name: string; params: { name: string; value: unknown }[] };
export type Method = {
  name: string;
  paramStructure: string;
  params: ContentDescriptor[];
  result: ContentDescriptor;
  errors: { code: number; message: string; data: { kind: string } }[];
  examples: ExamplePairing[];
  description: string;
};
export type Document = {
  openrpc: string;
  info: { title: string; version: string };
  methods: Method[];
  components: { schemas: Record<string, AnySchemaObject> };
};

/** The text of docs/openrpc.json (from dist/test/support, the compiled location). */
export const documentText = readFileSync(new URL("../../../../docs/openrpc.json", import.meta.url), "utf8");
export const document = JSON.parse(documentText) as Document;

/** A validator of draft-7 schemas (OpenRPC's dialect), with the `format`s it names. */
export function newAjv(): Ajv {
  // Not strict: the OpenRPC meta-schema uses keywords of its own dialect.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

/** Validates a whole document against the OpenRPC meta-schema (its JSON Schema dialect included). */
export function metaSchemaValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  // The OpenRPC meta-schema refers to it both with and without the trailing slash.
  ajv.addSchema(jsonSchemaMetaSchema);
  ajv.addSchema({ ...jsonSchemaMetaSchema, $id: "https://meta.json-schema.tools" });
  return ajv.compile(openrpcMetaSchema);
}

/**
 * One method's params as one object schema: its content descriptors as properties, the
 * required ones required, nothing else allowed (the server refuses unknown fields), and
 * the document's components beside them for the `$ref`s.
 */
export function paramsSchema(method: Method, doc: Document = document): AnySchemaObject {
  return {
    type: "object",
    properties: Object.fromEntries(method.params.map((p) => [p.name, p.schema])),
    required: method.params.filter((p) => p.required === true).map((p) => p.name),
    additionalProperties: false,
    components: doc.components,
  };
}

/** A params validator per method name, compiled once. */
export function paramsValidators(doc: Document = document): Map<string, ValidateFunction> {
  const ajv = newAjv();
  return new Map(doc.methods.map((m) => [m.name, ajv.compile(paramsSchema(m, doc))]));
}

/** A method's example params as the by-name object a client sends. */
export function exampleParams(example: ExamplePairing): Record<string, unknown> {
  return Object.fromEntries(example.params.map((p) => [p.name, p.value]));
}
