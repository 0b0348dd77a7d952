// The OpenRPC document (docs/openrpc.json): valid against the OpenRPC meta-schema, one
// method per procedure of the generated bindings, and every method's example params valid
// against its own params schema. Each check is shown to be able to fail.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PUBLIC_PROCEDURES, type Procedures } from "../src/index.js";
import { READ_PROCEDURES, WRITE_PROCEDURES } from "../src/tanstack.js";
import {
  document,
  exampleParams,
  metaSchemaValidator,
  newAjv,
  paramsSchema,
  paramsValidators,
  type Document,
} from "./support/openrpc.js";

const ajvErrors = (errors: unknown) => JSON.stringify(errors, null, 1);

describe("docs/openrpc.json", () => {
  it("is a valid OpenRPC 1.3 document", () => {
    const validate = metaSchemaValidator();
    assert.equal(validate(document), true, ajvErrors(validate.errors));
    assert.match(document.openrpc, /^1\.3\.\d+$/);
    assert.equal(document.info.title, "keyward");
  });

  it("is refused by the meta-schema when broken", () => {
    const validate = metaSchemaValidator();
    const broken = structuredClone(document) as unknown as { methods: { errors: unknown[] }[] };
    broken.methods[0]!.errors.push({ code: "not a number", message: 7 });
    assert.equal(validate(broken), false);
    assert.equal(validate({ ...document, openrpc: "9.9.9" }), false);
  });

  it("has one method per procedure, in the bindings' order, params by name", () => {
    const procedures = [...READ_PROCEDURES, ...WRITE_PROCEDURES].sort();
    const methods = document.methods.map((m) => m.name);
    assert.deepEqual([...methods].sort(), procedures);
    const names: (keyof Procedures)[] = methods as (keyof Procedures)[];
    assert.equal(new Set(names).size, names.length);
    for (const m of document.methods) assert.equal(m.paramStructure, "by-name", m.name);
    for (const name of PUBLIC_PROCEDURES) {
      assert.match(document.methods.find((m) => m.name === name)!.description, /anyone, no token/, name);
    }
    const discover = document.methods.find((m) => m.name === "rpc.discover")!;
    assert.ok(!discover.errors.some((e) => e.data.kind === "UNAUTHENTICATED"));
  });

  it("names each error's kind and its code", () => {
    for (const m of document.methods) {
      assert.ok(m.errors.some((e) => e.data.kind === "INVALID_INPUT" && e.code === -32602), m.name);
      assert.ok(m.errors.some((e) => e.data.kind === "INTERNAL" && e.code === -32603), m.name);
    }
    const createKey = document.methods.find((m) => m.name === "keys.createKey")!;
    const kinds = createKey.errors.map((e) => e.data.kind);
    for (const kind of ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "KEY_REF_TAKEN"]) assert.ok(kinds.includes(kind), kind);
    assert.match(createKey.description, /owner, manager, team/);
  });

  it("compiles every params and result schema", () => {
    const ajv = newAjv();
    for (const m of document.methods) {
      ajv.compile(paramsSchema(m));
      if (m.name !== "rpc.discover") ajv.compile({ ...m.result.schema, components: document.components });
    }
  });

  it("gives every method an example whose params validate against its params schema", () => {
    const validators = paramsValidators();
    for (const m of document.methods) {
      assert.equal(m.examples.length, 1, `${m.name} has no example`);
      const params = exampleParams(m.examples[0]!);
      const validate = validators.get(m.name)!;
      assert.equal(validate(params), true, `${m.name} example ${JSON.stringify(params)}: ${ajvErrors(validate.errors)}`);
    }
  });

  it("refuses params that break the schema", () => {
    const validate = paramsValidators().get("keys.createKey")!;
    const good = exampleParams(document.methods.find((m) => m.name === "keys.createKey")!.examples[0]!);
    assert.equal(validate(good), true);
    const { label: _label, ...noLabel } = good;
    assert.equal(validate(noLabel), false, "a required param left out");
    assert.equal(validate({ ...good, keyType: "spaceship" }), false, "not a KeyType");
    assert.equal(validate({ ...good, quantity: "ten" }), false, "a string for an int");
    assert.equal(validate({ ...good, colour: "red" }), false, "an unknown param");
    const at = paramsValidators().get("keys.holderAt")!;
    assert.equal(at({ id: "x", at: "yesterday" }), false, "not a date-time");
  });

  it("refuses a $ref to a schema the components do not have", () => {
    const doc = structuredClone(document) as Document;
    delete doc.components.schemas["KeyType"];
    assert.throws(() => paramsValidators(doc));
  });
});
