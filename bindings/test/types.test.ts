// The generated client's types, checked by the compiler: `npm run typecheck` (and the build)
// fails if any `@ts-expect-error` line below compiles, so each one proves that a mistake an
// SPA could make is caught at compile time. The runtime tests at the end check, with a fake
// `fetch`, what the typed calls put on the wire and how answers become results or errors.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  createClient,
  KeywardError,
  PUBLIC_PROCEDURES,
  type AccessCode,
  type Client,
  type CreateKeyInput,
  type Empty,
  type ErrorKind,
  type Items,
  type Key,
  type KeyStatus,
  type LoginOutput,
  type Page,
  type Procedures,
  type Summary,
  type User,
} from "../src/index.js";

/** `true` only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only with `true`. */
type Expect<T extends true> = T;
type Result<F extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<F>>;

// Results are typed from the Rust types.
export type ResultTypes = [
  Expect<Equal<Result<Client["keys"]["getKey"]>, Key>>,
  Expect<Equal<Result<Client["keys"]["listKeys"]>, Page<Key>>>,
  Expect<Equal<Result<Client["keys"]["listAccessCodes"]>, Page<AccessCode>>>,
  Expect<Equal<Result<Client["keys"]["deleteKey"]>, Empty>>,
  Expect<Equal<Result<Client["keys"]["summary"]>, Summary>>,
  Expect<Equal<Result<Client["users"]["list"]>, Items<User>>>,
  Expect<Equal<Result<Client["auth"]["login"]>, LoginOutput>>,
  Expect<Equal<Key["status"], "in_stock" | "issued" | "returned" | "lost" | "damaged" | "deactivated">>,
  Expect<Equal<Key["keyType"], "physical_key" | "fob" | "card" | "remote" | "master_key" | "other">>,
  Expect<Equal<KeywardError["kind"], ErrorKind | undefined>>,
  Expect<Equal<(typeof PUBLIC_PROCEDURES)[number], "rpc.discover" | "auth.login">>,
];

/** Never called: its body only has to compile (or, on the marked lines, not to). */
export async function typeChecks(client: Client, key: Key, dev: string): Promise<void> {
  // --- what compiles -----------------------------------------------------------------
  await client.keys.listKeys();
  await client.keys.listKeys({ status: "issued", keyType: "fob", overdue: true, limit: 10 });
  await client.keys.listKeys({ developmentId: null, search: null });
  await client.keys.createKey({ developmentId: dev, keyType: "fob", label: "Bin store" });
  await client.keys.updateKey({ id: key.id, expectedVersion: key.version, notes: null });
  await client.call("keys.getKey", { id: key.id });
  const input: CreateKeyInput = { developmentId: dev, keyType: "master_key", label: "Master", quantity: 2 };
  await client.keys.createKey(input);

  // --- wrong field names (unknown fields are rejected) -------------------------------
  // @ts-expect-error `statuss` is not a field of ListKeysInput
  await client.keys.listKeys({ statuss: "issued" });
  // @ts-expect-error `ref` is not a field of CreateKeyInput (it is `keyRef`)
  await client.keys.createKey({ developmentId: dev, keyType: "fob", label: "x", ref: "OP-001" });
  // @ts-expect-error `key_ref` is snake_case; the wire is camelCase
  await client.keys.updateKey({ id: key.id, key_ref: "OP-001" });

  // --- wrong enum values ---------------------------------------------------------------
  // @ts-expect-error keyType is `fob`, not `Fob`
  await client.keys.createKey({ developmentId: dev, keyType: "Fob", label: "x" });
  // @ts-expect-error status is `issued`, not `Issued`
  await client.keys.listKeys({ status: "Issued" });
  // @ts-expect-error no such role
  await client.users.create({ email: "a@b.test", name: "A", role: "admin", password: "long enough password" });
  // @ts-expect-error codeType is snake_case: `bin_store`
  await client.keys.listAccessCodes({ codeType: "binStore" });
  // @ts-expect-error an SMS target is `{ type: "key" | "accessCode", id }`
  await client.keys.sendSms({ target: { type: "code", id: key.id }, recipientName: "Sam", phone: "07400 123456" });

  // --- missing required input ----------------------------------------------------------
  // @ts-expect-error createKey needs a label
  await client.keys.createKey({ developmentId: dev, keyType: "fob" });
  // @ts-expect-error issueKey needs an id
  await client.keys.issueKey({ holderId: key.id });
  // @ts-expect-error a person needs a kind
  await client.people.create({ name: "Sam" });
  // @ts-expect-error getKey takes `{ id }`
  await client.keys.getKey();
  // @ts-expect-error login needs a password
  await client.auth.login({ email: "a@b.test" });

  // --- wrong field types ---------------------------------------------------------------
  // @ts-expect-error quantity is a number
  await client.keys.createKey({ developmentId: dev, keyType: "fob", label: "x", quantity: "3" });
  // @ts-expect-error overdue is a boolean
  await client.keys.listKeys({ overdue: "yes" });
  // @ts-expect-error ids are strings
  await client.call("keys.getKey", { id: 42 });
  // @ts-expect-error with exactOptionalPropertyTypes, leave a field out (or send null) rather than undefined
  await client.keys.listKeys({ search: undefined });

  // --- unknown procedures --------------------------------------------------------------
  // @ts-expect-error no procedure `keys.nope`
  await client.call("keys.nope", {});
  // @ts-expect-error no such method on the client
  await client.keys.listKey();
  // @ts-expect-error not in the Procedures map
  type Nope = Procedures["keys.nope"];

  // --- typed results -------------------------------------------------------------------
  const got = await client.keys.getKey({ id: key.id });
  // @ts-expect-error label is a string
  const labelAsNumber: number = got.label;
  // @ts-expect-error notes may be null
  const notes: string = got.notes;
  // @ts-expect-error status is a KeyStatus, not any string
  const status: "Issued" = got.status;
  const page = await client.keys.listKeys();
  // @ts-expect-error with noUncheckedIndexedAccess an item may be missing
  const firstLabel: string = page.items[0].label;
  // @ts-expect-error no such field on Key
  void got.keyRefs;

  // --- typed errors --------------------------------------------------------------------
  try {
    await client.keys.deleteKey({ id: key.id });
  } catch (e) {
    if (e instanceof KeywardError) {
      // @ts-expect-error not an ErrorKind
      if (e.kind === "NOT_A_KIND") return;
      const current: KeyStatus | null | undefined = e.data?.currentStatus;
      // @ts-expect-error currentVersion is a number
      const version: string | null | undefined = e.data?.currentVersion;
      void [current, version];
    }
  }
  void [labelAsNumber, notes, status, firstLabel];
}

// --- the wire, with a fake fetch ---------------------------------------------------------

type Sent = { url: string; method: string; headers: Record<string, string>; body: unknown };

/** A fetch that records the request and answers `status` with `body` (JSON unless a string). */
function fakeFetch(answer: { status?: number; body: unknown }, sent: Sent[]): typeof fetch {
  return async (input, init) => {
    sent.push({
      url: String(input),
      method: init?.method ?? "GET",
      headers: { ...(init?.headers as Record<string, string>) },
      body: JSON.parse(String(init?.body)),
    });
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status ?? 200 });
  };
}

describe("generated client on the wire (fake fetch)", () => {
  it("posts a JSON-RPC 2.0 request with by-name params and the bearer token", async () => {
    const sent: Sent[] = [];
    let token: string | null = "tok-1";
    const client = createClient({
      url: "http://keyward.test/",
      token: () => token,
      headers: { "x-request-id": "req-1" },
      fetch: fakeFetch({ body: { jsonrpc: "2.0", id: 1, result: { items: [], total: 0, totalCapped: false, page: 1, limit: 50, nextCursor: null } } }, sent),
    });
    const page = await client.keys.listKeys({ status: "issued", limit: 10 });
    assert.deepEqual(page, { items: [], total: 0, totalCapped: false, page: 1, limit: 50, nextCursor: null });
    await client.keys.summary();
    token = null;
    await client.call("auth.login", { email: "a@b.test", password: "pw" });

    assert.equal(sent.length, 3);
    const [first, second, third] = sent;
    assert.equal(first?.url, "http://keyward.test/");
    assert.equal(first?.method, "POST");
    assert.equal(first?.headers["content-type"], "application/json");
    assert.equal(first?.headers["authorization"], "Bearer tok-1");
    assert.equal(first?.headers["x-request-id"], "req-1");
    const body = first?.body as { jsonrpc: string; id: unknown; method: string; params: unknown };
    assert.equal(body.jsonrpc, "2.0");
    assert.equal(typeof body.id, "number");
    assert.equal(body.method, "keys.listKeys");
    assert.deepEqual(body.params, { status: "issued", limit: 10 });
    assert.deepEqual((second?.body as { params: unknown }).params, {}, "left-out params are sent as {}");
    assert.notEqual((second?.body as { id: unknown }).id, body.id, "each call has its own id");
    assert.equal(third?.headers["authorization"], undefined, "no token, no header");
  });

  it("turns a JSON-RPC error into a KeywardError with kind, field and data", async () => {
    const client = createClient({
      url: "http://keyward.test/",
      fetch: fakeFetch(
        {
          body: {
            jsonrpc: "2.0",
            id: 1,
            error: { code: -32009, message: "version conflict", data: { kind: "VERSION_CONFLICT", currentVersion: 7 } },
          },
        },
        [],
      ),
    });
    const e = await client.keys.updateKey({ id: "k", expectedVersion: 6 }).then(
      () => assert.fail("expected an error"),
      (err: unknown) => err,
    );
    assert.ok(e instanceof KeywardError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "KeywardError");
    assert.equal(e.code, -32009);
    assert.equal(e.kind, "VERSION_CONFLICT");
    assert.equal(e.field, undefined);
    assert.equal(e.data?.currentVersion, 7);
    assert.equal(e.httpStatus, 200);
    assert.equal(e.message, "version conflict");
  });

  it("a protocol error without data has no kind; a non-JSON answer keeps its HTTP status", async () => {
    const protocol = createClient({
      url: "http://keyward.test/",
      fetch: fakeFetch({ body: { jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found" } } }, []),
    });
    const e1 = await protocol.keys.summary().catch((err: unknown) => err);
    assert.ok(e1 instanceof KeywardError);
    assert.equal(e1.code, -32601);
    assert.equal(e1.kind, undefined);
    assert.equal(e1.data, undefined);

    const tooBig = createClient({ url: "http://keyward.test/", fetch: fakeFetch({ status: 413, body: "Payload Too Large" }, []) });
    const e2 = await tooBig.keys.summary().catch((err: unknown) => err);
    assert.ok(e2 instanceof KeywardError);
    assert.equal(e2.httpStatus, 413);
    assert.equal(e2.kind, undefined);
    assert.equal(e2.message, "Payload Too Large");
  });

  it("a failed fetch (network, CORS) rejects with the fetch's own error", async () => {
    const client = createClient({
      url: "http://keyward.test/",
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    await assert.rejects(client.keys.summary(), (e: unknown) => e instanceof TypeError && !(e instanceof KeywardError));
  });
});
