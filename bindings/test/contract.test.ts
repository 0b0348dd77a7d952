// Contract tests: every procedure of the generated `Procedures` type, called through the
// generated client against the real keyward binary (fresh SQLite database, bootstrapped
// organisation), with the results and error kinds that docs/api.md promises.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import {
  createClient,
  KeywardError,
  type AccessCode,
  type Client,
  type CreateKeyInput,
  type Development,
  type ErrorKind,
  type Key,
  type ListKeysInput,
  type Procedures,
  type User,
} from "../src/index.js";
import { startFakeTwilio, type FakeTwilio } from "./support/fake-twilio.js";
import { document as openrpc, paramsValidators } from "./support/openrpc.js";

/** The Twilio account the fake accepts, and the SMS settings the owner saves. */
const SID = "AC0123456789abcdef0123456789abcdef";
const AUTH = "test-auth-token";
import { startKeyward, type Keyward } from "./support/keyward.js";

/**
 * Every procedure of the generated bindings. A procedure added on the Rust side makes this
 * object incomplete, so the bindings stop compiling until a test here calls it; the last
 * test checks that each one was really called, and answered with a result at least once.
 */
const covered: Record<keyof Procedures, true> = {
  "rpc.discover": true,
  "auth.login": true,
  "auth.logout": true,
  "auth.me": true,
  "users.list": true,
  "users.create": true,
  "users.update": true,
  "developments.list": true,
  "developments.create": true,
  "developments.update": true,
  "developments.delete": true,
  "doors.list": true,
  "doors.get": true,
  "doors.create": true,
  "doors.update": true,
  "doors.delete": true,
  "keys.listKeys": true,
  "keys.getKey": true,
  "keys.keyHistory": true,
  "keys.suggestKeyRef": true,
  "keys.createKey": true,
  "keys.updateKey": true,
  "keys.deleteKey": true,
  "keys.issueKey": true,
  "keys.returnKey": true,
  "keys.returnToStock": true,
  "keys.markLost": true,
  "keys.markFound": true,
  "keys.markDamaged": true,
  "keys.deactivateKey": true,
  "keys.reactivateKey": true,
  "keys.holderAt": true,
  "keys.confirmHandover": true,
  "people.list": true,
  "people.get": true,
  "people.create": true,
  "people.update": true,
  "people.archive": true,
  "people.holdingsAt": true,
  "people.offboard": true,
  "firms.list": true,
  "firms.get": true,
  "firms.create": true,
  "firms.update": true,
  "firms.archive": true,
  "firms.offboard": true,
  "keys.listAccessCodes": true,
  "keys.createAccessCode": true,
  "keys.updateAccessCode": true,
  "keys.deleteAccessCode": true,
  "keys.accessCodeHistory": true,
  "keys.revealAccessCode": true,
  "keys.recordCodeDisclosure": true,
  "keys.accessCodeExposure": true,
  "keys.accessCodeKnownBy": true,
  "grants.list": true,
  "grants.get": true,
  "grants.create": true,
  "grants.update": true,
  "grants.addPeople": true,
  "grants.removePeople": true,
  "grants.end": true,
  "grants.replaceKeycard": true,
  "grants.sendCredentials": true,
  "keys.setDoors": true,
  "keys.blastRadius": true,
  "keySets.list": true,
  "keySets.get": true,
  "keySets.create": true,
  "keySets.update": true,
  "keySets.delete": true,
  "keySets.issue": true,
  "keySets.return": true,
  "access.check": true,
  "reports.doorLog": true,
  "reports.doorLogCsv": true,
  "keys.exportKeysCsv": true,
  "keys.importKeysCsv": true,
  "keys.exportAccessCodesCsv": true,
  "keys.importAccessCodesCsv": true,
  "people.exportCsv": true,
  "people.importCsv": true,
  "doors.exportCsv": true,
  "doors.importCsv": true,
  "keys.summary": true,
  "keys.sendSms": true,
  "settings.get": true,
  "settings.update": true,
  "settings.getSms": true,
  "settings.updateSms": true,
  "settings.getReminders": true,
  "settings.updateReminders": true,
  "reports.overdue": true,
  "audit.list": true,
  "audit.head": true,
  "audit.verify": true,
  "webhooks.list": true,
  "webhooks.create": true,
  "webhooks.update": true,
  "webhooks.delete": true,
  "webhooks.rotateSecret": true,
  "webhooks.deliveries": true,
  "webhooks.resend": true,
  "audits.start": true,
  "audits.record": true,
  "audits.complete": true,
  "audits.resolve": true,
  "audits.cancel": true,
  "audits.get": true,
  "audits.lines": true,
  "audits.list": true,
};

/** Procedures that answered with a `result` (seen on the wire by `recordingFetch`). */
const answered = new Set<string>();
/** The params of every call that answered with a result, for the OpenRPC check. */
const accepted: { method: string; params: unknown }[] = [];

/** The global fetch, noting which procedures answered with a result, and with what params. */
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  try {
    const request = JSON.parse(String(init?.body)) as { method?: unknown; params?: unknown };
    const answer = JSON.parse(await response.clone().text()) as { result?: unknown };
    if (typeof request.method === "string" && answer !== null && "result" in answer) {
      answered.add(request.method);
      accepted.push({ method: request.method, params: request.params });
    }
  } catch {
    // not JSON: the client reports it
  }
  return response;
};

/** Awaits a call that must fail with `kind`; returns the error for more checks. */
async function failsWith(call: Promise<unknown>, kind: ErrorKind): Promise<KeywardError> {
  let result: unknown;
  try {
    result = await call;
  } catch (e) {
    assert.ok(e instanceof KeywardError, `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.kind, kind, `expected ${kind}, got ${e.kind} (code ${e.code}): ${e.message} ${JSON.stringify(e.data)}`);
    assert.equal(e.name, "KeywardError");
    assert.equal(e.data?.kind, kind);
    assert.ok(e.message.length > 0, "error message is empty");
    return e;
  }
  assert.fail(`expected ${kind}, but the call answered ${JSON.stringify(result)}`);
}

const NO_SUCH_ID = "01900000-0000-7000-8000-000000000000";
const PAST = "2020-01-01T09:00:00Z";

describe("keyward contract through the generated client", () => {
  let server: Keyward;
  let twilio: FakeTwilio;
  let ownerToken: string | null = null;
  let owner: Client;
  let ownerUser: User;
  let hkToken: string | null = null;
  let housekeeping: Client;
  let hkUser: User;
  const hkPassword = "housekeeping-secret-42";
  let oakPark: Development;
  let riverside: Development;
  let rcw: Development;
  let keyA: Key;
  let keyB: Key;
  let codeGate: AccessCode;
  let codeAlarm: AccessCode;

  const client = (token: string | null | (() => string | null)) =>
    createClient({ url: server.url, token, fetch: recordingFetch });

  before(async () => {
    twilio = await startFakeTwilio(SID, AUTH);
    server = await startKeyward({
      env: {
        KEYWARD_TWILIO_BASE_URL: twilio.url,
        // The webhook test's receiver is on loopback; its delivery runs on the next poll.
        KEYWARD_ALLOW_PRIVATE_WEBHOOKS: "true",
        KEYWARD_JOBS_POLL_MS: "200",
      },
    });
    owner = client(() => ownerToken);
    housekeeping = client(() => hkToken);
  });

  after(async () => {
    await server?.stop();
    await twilio?.stop();
  });

  it("auth.login refuses a wrong password and an unknown email alike", async () => {
    const anon = client(null);
    const wrong = await failsWith(anon.auth.login({ email: server.ownerEmail, password: "wrong password!" }), "UNAUTHENTICATED");
    const unknown = await failsWith(anon.auth.login({ email: "nobody@acme.test", password: server.ownerPassword }), "UNAUTHENTICATED");
    assert.equal(wrong.code, -32001);
    assert.equal(wrong.message, "wrong email or password");
    assert.equal(wrong.message, unknown.message, "unknown email and wrong password must answer the same");
  });

  it("calls without a token, or with an unknown one, are UNAUTHENTICATED", async () => {
    const e = await failsWith(client(null).keys.listKeys(), "UNAUTHENTICATED");
    assert.equal(e.code, -32001);
    await failsWith(client("not-a-real-token").keys.listKeys(), "UNAUTHENTICATED");
    await failsWith(client(null).auth.me(), "UNAUTHENTICATED");
  });

  it("auth.login answers a token and the user; auth.me the user and organisation", async () => {
    const login = await client(null).auth.login({ email: server.ownerEmail, password: server.ownerPassword });
    assert.ok(login.token.length > 0);
    assert.ok(Date.parse(login.expiresAt) > Date.now(), `expiresAt ${login.expiresAt} is not in the future`);
    assert.equal(login.user.email, server.ownerEmail);
    assert.equal(login.user.name, server.ownerName);
    assert.equal(login.user.role, "owner");
    assert.equal(login.user.disabled, false);
    ownerToken = login.token;
    ownerUser = login.user;

    const me = await owner.auth.me();
    assert.deepEqual(me.user, login.user);
    assert.deepEqual(me.organisation, { id: server.orgId, name: server.orgName });
  });

  it("users.list, users.create, users.update", async () => {
    const before = await owner.users.list();
    assert.deepEqual(before.items.map((u) => u.email), [server.ownerEmail]);

    hkUser = await owner.users.create({ email: "hk@acme.test", name: "Hana Housekeeping", role: "housekeeping", password: hkPassword });
    assert.equal(hkUser.email, "hk@acme.test");
    assert.equal(hkUser.role, "housekeeping");
    assert.equal(hkUser.disabled, false);
    assert.ok(hkUser.id && hkUser.id !== ownerUser.id);

    const short = await failsWith(
      owner.users.create({ email: "short@acme.test", name: "Short", role: "team", password: "short" }),
      "INVALID_INPUT",
    );
    assert.equal(short.code, -32602);
    assert.equal(short.field, "password");
    assert.ok(short.data?.reason, "INVALID_INPUT carries a reason");
    const taken = await failsWith(
      owner.users.create({ email: "hk@acme.test", name: "Again", role: "team", password: hkPassword }),
      "INVALID_INPUT",
    );
    assert.equal(taken.field, "email");

    const renamed = await owner.users.update({ id: hkUser.id, name: "Hana H." });
    assert.equal(renamed.name, "Hana H.");
    assert.equal(renamed.role, "housekeeping");
    hkUser = renamed;
    await failsWith(owner.users.update({ id: NO_SUCH_ID, name: "Ghost" }), "NOT_FOUND");

    const after = await owner.users.list();
    assert.deepEqual(after.items.map((u) => u.email).sort(), ["hk@acme.test", server.ownerEmail].sort());

    hkToken = (await client(null).auth.login({ email: "hk@acme.test", password: hkPassword })).token;
    assert.equal((await housekeeping.auth.me()).user.role, "housekeeping");
  });

  it("developments.create, update, list; key prefixes from names", async () => {
    oakPark = await owner.developments.create({ name: "Oak Park" });
    assert.equal(oakPark.name, "Oak Park");
    assert.equal(oakPark.keyPrefix, "OP");
    riverside = await owner.developments.create({ name: "Riverside" });
    assert.equal(riverside.keyPrefix, "RI");
    rcw = await owner.developments.create({ name: "Riverside Court West" });
    assert.equal(rcw.keyPrefix, "RCW");

    oakPark = await owner.developments.update({ id: oakPark.id, keyPrefix: "OAK" });
    assert.equal(oakPark.keyPrefix, "OAK");
    assert.equal(oakPark.name, "Oak Park");
    const bad = await failsWith(owner.developments.update({ id: oakPark.id, keyPrefix: "OAK!" }), "INVALID_INPUT");
    assert.equal(bad.field, "keyPrefix");
    await failsWith(owner.developments.update({ id: NO_SUCH_ID, name: "Nowhere" }), "NOT_FOUND");

    const list = await owner.developments.list();
    assert.deepEqual(list.items.map((d) => d.name), ["Oak Park", "Riverside", "Riverside Court West"]);
    assert.deepEqual(list.items[0], oakPark);
  });

  it("keys.suggestKeyRef and keys.createKey (assigned and given refs, KEY_REF_TAKEN)", async () => {
    assert.deepEqual(await owner.keys.suggestKeyRef({ developmentId: oakPark.id }), { keyRef: "OAK-001" });

    keyA = await owner.keys.createKey({ developmentId: oakPark.id, keyType: "physical_key", label: "Front door" });
    assert.equal(keyA.keyRef, "OAK-001");
    assert.equal(keyA.developmentId, oakPark.id);
    assert.equal(keyA.keyType, "physical_key");
    assert.equal(keyA.label, "Front door");
    assert.equal(keyA.status, "in_stock");
    assert.equal(keyA.securityLevel, "standard");
    assert.equal(keyA.quantity, 1);
    assert.equal(keyA.overdue, false);
    assert.equal(keyA.issuedTo, null);
    assert.equal(typeof keyA.version, "number");

    keyB = await owner.keys.createKey({
      developmentId: oakPark.id,
      keyType: "fob",
      label: "Bin store fob",
      keyRef: " oak-010 ",
      securityLevel: "high",
      quantity: 3,
      brand: "Paxton",
      notes: "Blue tag",
    });
    assert.equal(keyB.keyRef, "OAK-010", "keyRef is trimmed and upper-cased");
    assert.equal(keyB.securityLevel, "high");
    assert.equal(keyB.quantity, 3);
    assert.equal(keyB.brand, "Paxton");
    assert.equal(keyB.notes, "Blue tag");

    const taken = await failsWith(
      owner.keys.createKey({ developmentId: riverside.id, keyType: "card", label: "Dup", keyRef: "OAK-010" }),
      "KEY_REF_TAKEN",
    );
    assert.equal(taken.code, -32009);
    assert.equal(taken.field, "keyRef");
    const badRef = await failsWith(
      owner.keys.createKey({ developmentId: oakPark.id, keyType: "card", label: "Bad", keyRef: "-bad ref" }),
      "INVALID_INPUT",
    );
    assert.equal(badRef.field, "keyRef");

    assert.deepEqual(await owner.keys.suggestKeyRef({ developmentId: oakPark.id }), { keyRef: "OAK-002" });
    await failsWith(owner.keys.suggestKeyRef({ developmentId: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("keys.getKey, keys.listKeys (filters, search, paging), INVALID_INPUT on range", async () => {
    assert.deepEqual(await owner.keys.getKey({ id: keyA.id }), keyA);
    assert.deepEqual(await owner.call("keys.getKey", { id: keyB.id }), keyB);
    await failsWith(owner.keys.getKey({ id: NO_SUCH_ID }), "NOT_FOUND");

    const all = await owner.keys.listKeys();
    assert.equal(all.total, 2);
    assert.equal(all.page, 1);
    assert.equal(all.limit, 50);
    assert.deepEqual(all.items.map((k) => k.keyRef), ["OAK-001", "OAK-010"]);

    assert.deepEqual((await owner.keys.listKeys({ search: "oak-0" })).items.map((k) => k.id), [keyA.id, keyB.id]);
    assert.deepEqual((await owner.keys.listKeys({ search: "FRONT" })).items.map((k) => k.id), [keyA.id]);
    assert.equal((await owner.keys.listKeys({ search: "%%%" })).total, 0, "% is a literal character");
    assert.deepEqual((await owner.keys.listKeys({ search: "oa" })).items.map((k) => k.id), [keyA.id, keyB.id], "short: a keyRef prefix");
    assert.equal((await owner.keys.listKeys({ search: "fr" })).total, 0, "short searches match keyRef prefixes only");
    assert.deepEqual((await owner.keys.listKeys({ keyType: "fob" })).items.map((k) => k.id), [keyB.id]);
    assert.deepEqual((await owner.keys.listKeys({ securityLevel: "high" })).items.map((k) => k.id), [keyB.id]);
    assert.equal((await owner.keys.listKeys({ developmentId: riverside.id })).total, 0);
    assert.equal((await owner.keys.listKeys({ status: "issued" })).total, 0);

    const page2 = await owner.keys.listKeys({ limit: 1, page: 2 });
    assert.equal(page2.total, 2);
    assert.equal(page2.page, 2);
    assert.equal(page2.limit, 1);
    assert.deepEqual(page2.items.map((k) => k.id), [keyB.id]);
    assert.equal(page2.totalCapped, false);
    assert.equal(page2.nextCursor, null, "the last page has no cursor");
    const first = await owner.keys.listKeys({ limit: 1 });
    assert.equal(typeof first.nextCursor, "string");
    const next = await owner.keys.listKeys({ limit: 1, cursor: first.nextCursor! });
    assert.equal(next.page, 0, "a page asked by cursor has no number");
    assert.deepEqual(next.items.map((k) => k.id), [keyB.id]);
    assert.equal((await failsWith(owner.keys.listKeys({ page: 201 }), "INVALID_INPUT")).field, "page");

    const tooMany = await failsWith(owner.keys.listKeys({ limit: 101 }), "INVALID_INPUT");
    assert.equal(tooMany.code, -32602);
    assert.equal(tooMany.field, "limit");
    assert.ok(tooMany.data?.reason);
    assert.equal((await failsWith(owner.keys.listKeys({ page: 0 }), "INVALID_INPUT")).field, "page");
    // Unknown fields are rejected (the types forbid them, so this goes around them).
    const unknown = await failsWith(owner.keys.listKeys({ bogus: 1 } as unknown as ListKeysInput), "INVALID_INPUT");
    assert.equal(unknown.field, "bogus");
  });

  it("keys.updateKey with expectedVersion; VERSION_CONFLICT carries currentVersion", async () => {
    const updated = await owner.keys.updateKey({ id: keyA.id, expectedVersion: keyA.version, label: "Front door (main)" });
    assert.equal(updated.label, "Front door (main)");
    assert.ok(updated.version > keyA.version, "version increases with every change");
    assert.equal(updated.keyRef, keyA.keyRef);

    const conflict = await failsWith(
      owner.keys.updateKey({ id: keyA.id, expectedVersion: keyA.version, label: "Stale write" }),
      "VERSION_CONFLICT",
    );
    assert.equal(conflict.code, -32009);
    assert.equal(conflict.data?.currentVersion, updated.version);
    assert.equal((await owner.keys.getKey({ id: keyA.id })).label, "Front door (main)", "a conflict changes nothing");

    const cleared = await owner.keys.updateKey({ id: keyB.id, notes: null, quantity: 4 });
    assert.equal(cleared.notes, null, "null clears an optional text field");
    assert.equal(cleared.quantity, 4);
    assert.equal(cleared.brand, "Paxton", "omitted fields stay as they are");
    keyB = cleared;
    keyA = updated;

    const taken = await failsWith(owner.keys.updateKey({ id: keyB.id, keyRef: "oak-001" }), "KEY_REF_TAKEN");
    assert.equal(taken.field, "keyRef");
    await failsWith(owner.keys.updateKey({ id: NO_SUCH_ID, label: "x" }), "NOT_FOUND");
  });

  it("status transitions: issue, return, returnToStock, lost, found, damaged, deactivate, reactivate", async () => {
    const notIssued = await failsWith(owner.keys.returnKey({ id: keyA.id }), "INVALID_TRANSITION");
    assert.equal(notIssued.code, -32009);
    assert.equal(notIssued.data?.currentStatus, "in_stock");
    assert.equal((await owner.keys.getKey({ id: keyA.id })).version, keyA.version, "a refused transition changes nothing");

    const issued = await owner.keys.issueKey({
      id: keyA.id,
      issuedTo: "Pat Plumber",
      issuedToPhone: "07400 123456",
      purpose: "Boiler service",
      expectedReturnAt: PAST,
      notes: "Back by noon",
    });
    assert.equal(issued.status, "issued");
    assert.equal(issued.issuedTo, "Pat Plumber");
    assert.equal(issued.purpose, "Boiler service");
    assert.equal(issued.issuedBy, server.ownerName);
    assert.equal(issued.lastStatusChangeBy, server.ownerName);
    assert.ok(issued.issuedAt && !Number.isNaN(Date.parse(issued.issuedAt)));
    assert.equal(Date.parse(issued.expectedReturnAt ?? ""), Date.parse(PAST));
    assert.equal(issued.overdue, true, "issued and past expectedReturnAt");

    assert.equal((await failsWith(owner.keys.issueKey({ id: keyA.id, issuedTo: "Someone else" }), "INVALID_TRANSITION")).data?.currentStatus, "issued");
    assert.equal((await failsWith(owner.keys.deleteKey({ id: keyA.id }), "INVALID_TRANSITION")).data?.currentStatus, "issued");
    const badDate = await failsWith(owner.keys.issueKey({ id: keyB.id, issuedTo: "X", expectedReturnAt: "tomorrow" }), "INVALID_INPUT");
    assert.equal(badDate.field, "expectedReturnAt");

    assert.deepEqual((await owner.keys.listKeys({ overdue: true })).items.map((k) => k.id), [keyA.id]);
    assert.deepEqual((await owner.keys.listKeys({ overdue: false })).items.map((k) => k.id), [keyB.id]);
    assert.deepEqual((await owner.keys.listKeys({ status: "issued" })).items.map((k) => k.id), [keyA.id]);
    assert.deepEqual((await owner.keys.listKeys({ search: "plumber" })).items.map((k) => k.id), [keyA.id], "search matches issuedTo");

    const returned = await owner.keys.returnKey({ id: keyA.id, notes: "Returned at reception" });
    assert.equal(returned.status, "returned");
    assert.equal(returned.overdue, false);
    assert.equal(returned.issuedTo, "Pat Plumber", "the last holder is kept while returned");
    const inStock = await owner.keys.returnToStock({ id: keyA.id });
    assert.equal(inStock.status, "in_stock");
    assert.equal(inStock.issuedTo, null, "the holder is cleared back in stock");
    const lost = await owner.keys.markLost({ id: keyA.id, notes: "Not on the hook" });
    assert.equal(lost.status, "lost");
    const found = await owner.keys.markFound({ id: keyA.id });
    assert.equal(found.status, "in_stock");
    const damaged = await owner.keys.markDamaged({ id: keyA.id, notes: "Bent" });
    assert.equal(damaged.status, "damaged");
    assert.equal((await failsWith(owner.keys.markFound({ id: keyA.id }), "INVALID_TRANSITION")).data?.currentStatus, "damaged");
    const deactivated = await owner.keys.deactivateKey({ id: keyA.id });
    assert.equal(deactivated.status, "deactivated");
    assert.equal((await failsWith(owner.keys.deactivateKey({ id: keyA.id }), "INVALID_TRANSITION")).data?.currentStatus, "deactivated");
    const reactivated = await owner.keys.reactivateKey({ id: keyA.id });
    assert.equal(reactivated.status, "in_stock");
    assert.ok(reactivated.version > keyA.version);
    assert.ok(reactivated.lastStatusChangeAt);
    keyA = reactivated;
    await failsWith(owner.keys.markLost({ id: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("keys.keyHistory lists creation and every status change, newest first", async () => {
    const history = await owner.keys.keyHistory({ id: keyA.id });
    assert.equal(history.items.length, 9, JSON.stringify(history.items.map((m) => m.action)));
    const oldest = history.items[history.items.length - 1];
    assert.equal(oldest?.action, "created");
    const issued = history.items[history.items.length - 2];
    assert.equal(issued?.action, "issued");
    assert.equal(issued?.issuedTo, "Pat Plumber");
    assert.equal(issued?.purpose, "Boiler service");
    assert.equal(issued?.notes, "Back by noon");
    assert.equal(history.items[history.items.length - 3]?.action, "returned");
    assert.equal(history.items[history.items.length - 4]?.action, "returned_to_stock");
    assert.equal(history.items[history.items.length - 5]?.action, "marked_lost");
    for (const m of history.items) assert.equal(m.actorName, server.ownerName);
    const times = history.items.map((m) => Date.parse(m.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
    await failsWith(owner.keys.keyHistory({ id: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("access codes: create, list, search, update (VERSION_CONFLICT), history without values", async () => {
    codeGate = await owner.keys.createAccessCode({ developmentId: oakPark.id, codeType: "gate", label: "Main gate", code: "4821#" });
    assert.equal(codeGate.code, "4821#");
    assert.equal(codeGate.status, "active");
    assert.equal(codeGate.expired, false);
    assert.equal(codeGate.expiresOn, null);
    codeAlarm = await owner.keys.createAccessCode({
      developmentId: oakPark.id,
      codeType: "alarm",
      label: "Alarm panel",
      code: "990011",
      status: "inactive",
      expiresOn: "2020-01-31",
      notes: "Old panel",
    });
    assert.equal(codeAlarm.status, "inactive");
    assert.equal(codeAlarm.expiresOn, "2020-01-31");
    assert.equal(codeAlarm.expired, true);
    const empty = await failsWith(
      owner.keys.createAccessCode({ developmentId: oakPark.id, codeType: "door", label: "Empty", code: "" }),
      "INVALID_INPUT",
    );
    assert.equal(empty.field, "code");

    const all = await owner.keys.listAccessCodes();
    assert.equal(all.total, 2);
    assert.deepEqual(all.items.map((c) => c.label), ["Alarm panel", "Main gate"], "ordered by label");
    assert.deepEqual((await owner.keys.listAccessCodes({ search: "MAIN" })).items.map((c) => c.id), [codeGate.id]);
    assert.deepEqual((await owner.keys.listAccessCodes({ search: "4821#" })).items.map((c) => c.id), [codeGate.id], "exact code value");
    assert.equal((await owner.keys.listAccessCodes({ search: "482" })).total, 0, "code values match exactly, not as substrings");
    assert.deepEqual((await owner.keys.listAccessCodes({ codeType: "alarm" })).items.map((c) => c.id), [codeAlarm.id]);
    assert.deepEqual((await owner.keys.listAccessCodes({ status: "active" })).items.map((c) => c.id), [codeGate.id]);
    assert.equal((await owner.keys.listAccessCodes({ developmentId: riverside.id })).total, 0);
    assert.equal((await failsWith(owner.keys.listAccessCodes({ limit: 0 }), "INVALID_INPUT")).field, "limit");

    const updated = await owner.keys.updateAccessCode({
      id: codeGate.id,
      expectedVersion: codeGate.version,
      code: "5555",
      label: "Main gate (north)",
    });
    assert.equal(updated.code, "5555");
    assert.equal(updated.label, "Main gate (north)");
    assert.ok(updated.version > codeGate.version);
    const conflict = await failsWith(
      owner.keys.updateAccessCode({ id: codeGate.id, expectedVersion: codeGate.version, label: "Stale" }),
      "VERSION_CONFLICT",
    );
    assert.equal(conflict.data?.currentVersion, updated.version);
    const cleared = await owner.keys.updateAccessCode({ id: codeAlarm.id, expiresOn: null, notes: null });
    assert.equal(cleared.expiresOn, null);
    assert.equal(cleared.expired, false);
    assert.equal(cleared.notes, null);
    codeGate = updated;
    codeAlarm = cleared;
    await failsWith(owner.keys.updateAccessCode({ id: NO_SUCH_ID, label: "x" }), "NOT_FOUND");

    const history = await owner.keys.accessCodeHistory({ id: codeGate.id });
    assert.ok(history.items.length >= 2, JSON.stringify(history));
    for (const h of history.items) {
      assert.equal(h.actorName, server.ownerName);
      assert.ok(h.change.length > 0);
    }
    const text = JSON.stringify(history);
    assert.ok(!text.includes("4821#") && !text.includes("5555"), `history shows a code value: ${text}`);
    await failsWith(owner.keys.accessCodeHistory({ id: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("housekeeping: reads allowed, code values hidden, everything else FORBIDDEN", async () => {
    assert.equal((await housekeeping.keys.listKeys()).total, 2);
    assert.equal((await housekeeping.developments.list()).items.length, 3);
    assert.equal((await housekeeping.keys.summary()).totalKeys, 2);
    assert.equal((await housekeeping.keys.getKey({ id: keyA.id })).id, keyA.id);
    const codes = await housekeeping.keys.listAccessCodes();
    assert.equal(codes.total, 2);
    for (const c of codes.items) assert.equal(c.code, null, "housekeeping may not see code values");
    assert.equal((await housekeeping.keys.listAccessCodes({ search: "5555" })).total, 0, "no match by value without the right to see it");

    const e = await failsWith(
      housekeeping.keys.createKey({ developmentId: oakPark.id, keyType: "fob", label: "Not allowed" }),
      "FORBIDDEN",
    );
    assert.equal(e.code, -32003);
    await failsWith(housekeeping.keys.issueKey({ id: keyB.id, issuedTo: "Me" }), "FORBIDDEN");
    await failsWith(housekeeping.keys.deleteKey({ id: keyB.id }), "FORBIDDEN");
    await failsWith(housekeeping.keys.createAccessCode({ developmentId: oakPark.id, codeType: "door", label: "x", code: "1" }), "FORBIDDEN");
    await failsWith(housekeeping.developments.create({ name: "Elm Row" }), "FORBIDDEN");
    await failsWith(housekeeping.audit.list(), "FORBIDDEN");
    await failsWith(housekeeping.users.list(), "FORBIDDEN");
    await failsWith(housekeeping.users.create({ email: "x@acme.test", name: "X", role: "owner", password: hkPassword }), "FORBIDDEN");
    // The role is checked before the params.
    await failsWith(housekeeping.users.update({ id: "", role: "owner" }), "FORBIDDEN");
    await failsWith(housekeeping.keys.createKey({ bogus: true } as unknown as CreateKeyInput), "FORBIDDEN");
  });

  it("keys.summary counts the organisation or one development", async () => {
    await owner.keys.issueKey({ id: keyB.id, issuedTo: "Cleaner", expectedReturnAt: "2099-01-01T00:00:00Z" });
    const summary = await owner.keys.summary();
    assert.deepEqual(summary, {
      totalKeys: 2,
      inStock: 1,
      issued: 1,
      returned: 0,
      lost: 0,
      damaged: 0,
      deactivated: 0,
      overdue: 0,
      accessCodes: 2,
      codesDueForRotation: 0,
      doorsExposedByLostKeys: 0,
      auditsOverdue: 0,
      smsReady: false,
    });
    assert.deepEqual(await owner.keys.summary({ developmentId: oakPark.id }), summary);
    const none = await owner.keys.summary({ developmentId: riverside.id });
    assert.equal(none.totalKeys, 0);
    assert.equal(none.accessCodes, 0);
    await owner.keys.returnKey({ id: keyB.id });
  });

  it("settings.getSms, settings.updateSms, keys.sendSms (through a fake Twilio)", async () => {
    const PHONE = "+447400123456";
    const toKey = { target: { type: "key", id: keyA.id }, recipientName: "Sam Smith", phone: "07400 123456" } as const;

    assert.deepEqual(await owner.settings.getSms(), {
      configured: false,
      accountSid: null,
      fromNumber: null,
      messagingServiceSid: null,
    });
    const notConfigured = await failsWith(owner.keys.sendSms(toKey), "SMS_NOT_CONFIGURED");
    assert.equal(notConfigured.code, -32050);
    await failsWith(housekeeping.settings.getSms(), "FORBIDDEN");
    await failsWith(housekeeping.settings.updateSms({ accountSid: SID, authToken: AUTH, fromNumber: "+15005550006" }), "FORBIDDEN");
    const badSid = await failsWith(owner.settings.updateSms({ accountSid: "AC123", authToken: AUTH, fromNumber: "+15005550006" }), "INVALID_INPUT");
    assert.equal(badSid.field, "accountSid");

    const settings = await owner.settings.updateSms({ accountSid: SID, authToken: AUTH, fromNumber: "+15005550006" });
    assert.deepEqual(settings, { configured: true, accountSid: SID, fromNumber: "+15005550006", messagingServiceSid: null });
    assert.deepEqual(await owner.settings.getSms(), settings, "the auth token is never answered");
    assert.equal((await owner.keys.summary()).smsReady, true);

    const sent = await owner.keys.sendSms({ ...toKey, idempotencyKey: "send-key-1" });
    assert.equal(sent.status, "sent");
    assert.ok(sent.smsId);
    assert.match(sent.providerMessageId ?? "", /^SM[0-9a-f]{32}$/);
    assert.equal((await twilio.requests()).length, 1);
    const request = (await twilio.requests())[0];
    assert.equal(request?.path, `/2010-04-01/Accounts/${SID}/Messages.json`);
    assert.equal(request?.authUser, SID);
    assert.equal(request?.fields.get("To"), PHONE, "the phone is normalised to E.164");
    assert.equal(request?.fields.get("From"), "+15005550006");
    assert.equal(request?.fields.get("Body"), "Oak Park: key ref OAK-001 (Front door (main)).");

    assert.deepEqual(await owner.keys.sendSms({ ...toKey, idempotencyKey: "send-key-1" }), sent, "same key: the first answer");
    assert.equal((await twilio.requests()).length, 1, "a replay sends nothing");
    const reused = await failsWith(owner.keys.sendSms({ ...toKey, recipientName: "Other", idempotencyKey: "send-key-1" }), "INVALID_INPUT");
    assert.equal(reused.field, "idempotencyKey");
    const badPhone = await failsWith(owner.keys.sendSms({ ...toKey, phone: "12" }), "INVALID_INPUT");
    assert.equal(badPhone.field, "phone");
    await failsWith(owner.keys.sendSms({ ...toKey, target: { type: "accessCode", id: codeAlarm.id } }), "CODE_NOT_ACTIVE");
    await failsWith(owner.keys.sendSms({ ...toKey, target: { type: "key", id: NO_SUCH_ID } }), "NOT_FOUND");
    await failsWith(housekeeping.keys.sendSms(toKey), "FORBIDDEN");
    assert.equal((await twilio.requests()).length, 1, "refused sends reach no provider");

    const code = await owner.keys.sendSms({ ...toKey, target: { type: "accessCode", id: codeGate.id } });
    assert.equal(code.status, "sent");
    assert.equal((await twilio.requests()).length, 2);
    assert.equal((await twilio.requests())[1]?.fields.get("Body"), "Oak Park: Main gate (north) code 5555.");

    const events = await owner.audit.list({ entityType: "sms" });
    assert.equal(events.total, 2);
    assert.ok(!JSON.stringify(events).includes("5555"), "the audit log never holds a code value");
  });

  it("settings.getReminders, settings.updateReminders, reports.overdue", async () => {
    const defaults = await owner.settings.getReminders();
    assert.equal(defaults.enabled, false);
    assert.equal(defaults.firstAfterMinutes, 60);
    await failsWith(housekeeping.settings.getReminders(), "FORBIDDEN");
    await failsWith(owner.settings.updateReminders({ maxReminders: 11 }), "INVALID_INPUT");
    // Left off: this server's clock is real and its jobs poll, so nothing is sent here
    // (the sending is tested end to end on the test clock).
    const on = await owner.settings.updateReminders({
      firstAfterMinutes: 30,
      escalatePhone: "07400 123499",
      quietHours: { start: "21:00", end: "08:00" },
      maxExtendDays: 10,
    });
    assert.equal(defaults.maxExtendDays, 7);
    assert.equal(on.maxExtendDays, 10);
    assert.equal(on.escalatePhone, "+447400123499");
    assert.deepEqual(on.quietHours, { start: "21:00", end: "08:00" });
    const off = await owner.settings.updateReminders({ escalatePhone: null, quietHours: null, maxExtendDays: 7 });
    assert.deepEqual(off, { ...defaults, firstAfterMinutes: 30 });

    const report = await housekeeping.reports.overdue({ limit: 10 });
    assert.equal(report.limit, 10);
    for (const item of report.items) assert.ok(item.overdueMinutes >= 0 && item.remindersSent === 0, JSON.stringify(item));
    await failsWith(owner.reports.overdue({ developmentId: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("the code-exposure ledger: reveal, disclosure, exposure, knownBy, maskCodesInLists", async () => {
    assert.deepEqual(await housekeeping.settings.get(), { maskCodesInLists: false, doorcodeLength: 6 });
    assert.deepEqual(await owner.settings.update({ maskCodesInLists: true }), { maskCodesInLists: true, doorcodeLength: 6 });
    await failsWith(housekeeping.settings.update({ maskCodesInLists: false }), "FORBIDDEN");
    const masked = await owner.keys.listAccessCodes();
    for (const c of masked.items) assert.equal(c.code, null, "masked in lists");

    const revealed = await owner.keys.revealAccessCode({ id: codeGate.id });
    assert.equal(revealed.code, "5555");
    assert.equal(revealed.valueVersion, codeGate.valueVersion);
    const told = await owner.keys.recordCodeDisclosure({ id: codeGate.id, name: "Pat the plumber", note: "by phone" });
    assert.equal(told.channel, "disclosure");
    assert.equal(told.name, "Pat the plumber");
    await failsWith(owner.keys.recordCodeDisclosure({ id: codeGate.id }), "INVALID_INPUT");
    await failsWith(housekeeping.keys.revealAccessCode({ id: codeGate.id }), "FORBIDDEN");

    const exposure = await owner.keys.accessCodeExposure({ id: codeGate.id });
    assert.equal(exposure.period.valueVersion, codeGate.valueVersion);
    const channels = exposure.exposures.items.map((e) => e.channel);
    assert.ok(channels.includes("reveal") && channels.includes("disclosure") && channels.includes("sms"), channels.join());
    const knownBy = await owner.keys.accessCodeKnownBy({ id: codeGate.id, at: told.at });
    assert.ok(knownBy.knownBy.some((k) => k.name === "Pat the plumber" && k.exposureIds.includes(told.id)));
    await failsWith(owner.keys.accessCodeKnownBy({ id: NO_SUCH_ID, at: told.at }), "NOT_FOUND");
    assert.deepEqual(await owner.settings.update({ maskCodesInLists: false }), { maskCodesInLists: false, doorcodeLength: 6 });
  });

  it("deletes: access code, key, development (DEVELOPMENT_NOT_EMPTY while it has keys or codes)", async () => {
    assert.deepEqual(await owner.keys.deleteAccessCode({ id: codeAlarm.id }), {});
    await failsWith(owner.keys.deleteAccessCode({ id: codeAlarm.id }), "NOT_FOUND");
    assert.equal((await owner.keys.listAccessCodes()).total, 1);

    const notEmpty = await failsWith(owner.developments.delete({ id: oakPark.id }), "DEVELOPMENT_NOT_EMPTY");
    assert.equal(notEmpty.code, -32009);

    assert.deepEqual(await owner.keys.deleteKey({ id: keyB.id }), {});
    await failsWith(owner.keys.getKey({ id: keyB.id }), "NOT_FOUND");
    await failsWith(owner.keys.deleteKey({ id: keyB.id }), "NOT_FOUND");
    assert.equal((await owner.keys.listKeys()).total, 1);

    assert.deepEqual(await owner.developments.delete({ id: rcw.id }), {});
    await failsWith(owner.developments.delete({ id: rcw.id }), "NOT_FOUND");
    assert.deepEqual((await owner.developments.list()).items.map((d) => d.id), [oakPark.id, riverside.id]);

    // A development with only an access code left is not empty either.
    const flat = await owner.developments.create({ name: "Flat Block" });
    await owner.keys.createAccessCode({ developmentId: flat.id, codeType: "bin_store", label: "Bins", code: "0000" });
    await failsWith(owner.developments.delete({ id: flat.id }), "DEVELOPMENT_NOT_EMPTY");
  });

  it("audit.list: newest first, filters, code values masked", async () => {
    const page = await owner.audit.list();
    assert.equal(page.page, 1);
    assert.equal(page.limit, 50);
    assert.ok(page.total >= page.items.length && page.items.length > 10, `total ${page.total}`);
    const times = page.items.map((e) => Date.parse(e.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
    assert.ok(!JSON.stringify(page).includes("4821#"), "the audit log shows a code value");

    const issued = await owner.audit.list({ action: "key.issued", entityId: keyA.id });
    assert.equal(issued.total, 1);
    const event = issued.items[0];
    assert.equal(event?.entityType, "key");
    assert.equal(event?.entityId, keyA.id);
    assert.equal(event?.actorId, ownerUser.id);
    assert.equal(event?.actorName, server.ownerName);
    assert.ok(event?.summary);

    const codeEvents = await owner.audit.list({ entityId: codeGate.id });
    const codeChange = codeEvents.items.flatMap((e) => e.changes).find((c) => c.field === "code");
    assert.deepEqual(codeChange, { field: "code", from: "***", to: "***" });

    const devs = await owner.audit.list({ entityType: "development", limit: 2, page: 1 });
    assert.equal(devs.limit, 2);
    assert.ok(devs.total >= 4, `development events: ${devs.total}`);
    for (const e of devs.items) assert.equal(e.entityType, "development");
    assert.equal((await owner.audit.list({ from: "2099-01-01T00:00:00Z" })).total, 0);
    assert.equal((await failsWith(owner.audit.list({ limit: 101 }), "INVALID_INPUT")).field, "limit");
  });

  it("audit.head and audit.verify: the organisation's hash chain holds", async () => {
    const total = (await owner.audit.list({ limit: 1 })).total;
    const head = await owner.audit.head();
    assert.equal(head.seq, total);
    assert.match(head.hash, /^[0-9a-f]{64}$/);
    assert.ok(head.at && Date.parse(head.at) > 0);
    const report = await owner.audit.verify();
    assert.deepEqual(report, { verified: total, broken: null });
    await failsWith(housekeeping.audit.verify(), "FORBIDDEN");
  });

  it("webhooks.*: an endpoint receives a signed key.issued, listed, resent, then deleted", async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    try {
      const created = await owner.webhooks.create({ url: `http://127.0.0.1:${port}/hook`, events: ["key.issued"] });
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
      assert.equal(created.endpoint.enabled, true);
      assert.deepEqual((await owner.webhooks.list()).items, [created.endpoint]);
      await failsWith(housekeeping.webhooks.list(), "FORBIDDEN");
      const noEvents = await failsWith(owner.webhooks.create({ url: `http://127.0.0.1:${port}/`, events: [] }), "INVALID_INPUT");
      assert.equal(noEvents.field, "events");
      const rotated = await owner.webhooks.rotateSecret({ id: created.endpoint.id });
      assert.notEqual(rotated.secret, created.secret);
      const updated = await owner.webhooks.update({ id: created.endpoint.id, events: ["key.issued", "key.lost"] });
      assert.deepEqual(updated.events, ["key.issued", "key.lost"]);

      const key = await owner.keys.createKey({ developmentId: oakPark.id, keyType: "fob", label: "Webhook fob" });
      await owner.keys.issueKey({ id: key.id, issuedTo: "Sam Hook" });
      const deadline = Date.now() + 10_000;
      let page = await owner.webhooks.deliveries({ endpointId: created.endpoint.id });
      while (page.items[0]?.status !== "delivered" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        page = await owner.webhooks.deliveries({ endpointId: created.endpoint.id });
      }
      const delivery = page.items[0];
      assert.equal(delivery?.status, "delivered", JSON.stringify(page));
      assert.equal(delivery?.event, "key.issued");
      assert.equal(page.nextCursor, null);
      assert.equal(received.length, 1);
      const request = received[0]!;
      assert.equal(request.headers["webhook-id"], delivery?.id);
      const signed = `${String(request.headers["webhook-id"])}.${String(request.headers["webhook-timestamp"])}.${request.body}`;
      const key64 = Buffer.from(rotated.secret.slice("whsec_".length), "base64");
      const expected = `v1,${createHmac("sha256", key64).update(signed).digest("base64")}`;
      assert.equal(request.headers["webhook-signature"], expected, "signed with the current secret");
      assert.equal(JSON.parse(request.body).data.entityId, key.id);

      const resent = await owner.webhooks.resend({ deliveryId: delivery!.id });
      assert.equal(resent.status, "pending");
      await failsWith(owner.webhooks.resend({ deliveryId: delivery!.id }), "INVALID_INPUT");
      await owner.webhooks.delete({ id: created.endpoint.id });
      assert.deepEqual((await owner.webhooks.list()).items, []);
      await failsWith(owner.webhooks.delete({ id: created.endpoint.id }), "NOT_FOUND");
    } finally {
      receiver.close();
    }
  });

  it("users.update: disabling a user ends their sessions and refuses their logins", async () => {
    const disabled = await owner.users.update({ id: hkUser.id, disabled: true });
    assert.equal(disabled.disabled, true);
    await failsWith(housekeeping.keys.listKeys(), "UNAUTHENTICATED");
    await failsWith(client(null).auth.login({ email: "hk@acme.test", password: hkPassword }), "UNAUTHENTICATED");
  });

  it("auth.logout revokes only its own token", async () => {
    const second = await client(null).auth.login({ email: server.ownerEmail, password: server.ownerPassword });
    const other = client(second.token);
    assert.equal((await other.auth.me()).user.id, ownerUser.id);
    assert.deepEqual(await other.auth.logout(), {});
    await failsWith(other.auth.me(), "UNAUTHENTICATED");
    assert.equal((await owner.auth.me()).user.id, ownerUser.id, "the first session still works");
  });

  it("people and firms: create, list, update, issue a key to a person, holderAt, holdingsAt, archive", async () => {
    const firm = await owner.firms.create({ name: "Sparks Ltd", phone: "020 7123 4567", email: "Office@Sparks.test" });
    assert.equal(firm.phone, "+442071234567");
    assert.equal(firm.email, "office@sparks.test");
    assert.equal((await owner.firms.get({ id: firm.id })).name, "Sparks Ltd");
    assert.deepEqual((await owner.firms.list({ search: "spark" })).items.map((f) => f.id), [firm.id]);
    const renamed = await owner.firms.update({ id: firm.id, expectedVersion: firm.version, name: "Sparks Electrical", phone: null });
    assert.equal(renamed.phone, null);
    const person = await owner.people.create({ name: "Eli Electrician", kind: "contractor", firmId: firm.id, phone: "07400 123456" });
    assert.equal(person.phone, "+447400123456");
    assert.equal((await owner.people.get({ id: person.id })).firmId, firm.id);
    assert.deepEqual((await owner.people.list({ firmId: firm.id, kind: "contractor" })).items.map((p) => p.id), [person.id]);
    const updated = await owner.people.update({ id: person.id, notes: "Tuesdays" });
    assert.equal(updated.notes, "Tuesdays");
    await failsWith(owner.people.update({ id: person.id, expectedVersion: person.version, name: "X" }), "VERSION_CONFLICT");

    let key = await owner.keys.createKey({ developmentId: riverside.id, keyType: "physical_key", label: "Plant room" });
    const issued = await owner.keys.issueKey({ id: key.id, holderId: person.id });
    assert.equal(issued.holderId, person.id);
    assert.equal(issued.issuedTo, "Eli Electrician");
    assert.equal(issued.issuedToPhone, "+447400123456");
    assert.equal(issued.returnRequested, false);
    assert.equal(issued.returnClaimedAt, null);
    assert.deepEqual((await owner.keys.listKeys({ firmId: firm.id })).items.map((k) => k.id), [key.id]);
    const at = issued.issuedAt ?? "";
    const held = await owner.keys.holderAt({ id: key.id, at });
    assert.equal(held.status, "issued");
    assert.equal(held.holding?.holderId, person.id);
    const history = await owner.keys.keyHistory({ id: key.id });
    assert.deepEqual(held.movementIds, [history.items[0]?.id]);
    const holdings = await owner.people.holdingsAt({ id: person.id, at });
    assert.deepEqual(holdings.items.map((h) => h.keyId), [key.id]);

    const archived = await owner.people.archive({ id: person.id });
    assert.equal(archived.archived, true);
    key = await owner.keys.returnKey({ id: key.id });
    key = await owner.keys.returnToStock({ id: key.id });
    assert.equal(key.holderId, null, "the holder is cleared back in stock");
    await failsWith(owner.keys.issueKey({ id: key.id, holderId: person.id }), "PERSON_ARCHIVED");
    assert.equal((await owner.firms.archive({ id: firm.id })).archived, true);
  });

  it("doors: create, get, list by development and kind, update (VERSION_CONFLICT), delete; timeZone", async () => {
    const harbour = await owner.developments.create({ name: "Harbour", timeZone: "America/New_York" });
    assert.equal(harbour.timeZone, "America/New_York");
    assert.equal((await owner.developments.update({ id: harbour.id, timeZone: "Europe/Paris" })).timeZone, "Europe/Paris");
    await failsWith(owner.developments.update({ id: harbour.id, timeZone: "Europe/Atlantis" }), "INVALID_INPUT");
    const gate = await owner.doors.create({ developmentId: harbour.id, name: "Main gate", kind: "gate", notes: "Sliding" });
    const flat = await owner.doors.create({ developmentId: harbour.id, name: "Flat 1", kind: "flat" });
    assert.equal(gate.version, 1);
    assert.deepEqual(await owner.doors.get({ id: gate.id }), gate);
    assert.deepEqual((await owner.doors.list({ developmentId: harbour.id })).items.map((d) => d.name), ["Flat 1", "Main gate"]);
    assert.deepEqual((await owner.doors.list({ developmentId: harbour.id, kind: "gate" })).items.map((d) => d.id), [gate.id]);
    const updated = await owner.doors.update({ id: gate.id, expectedVersion: 1, kind: "entrance", notes: null });
    assert.equal(updated.kind, "entrance");
    assert.equal(updated.notes, null);
    await failsWith(owner.doors.update({ id: gate.id, expectedVersion: 1, name: "X" }), "VERSION_CONFLICT");
    await failsWith(owner.developments.delete({ id: harbour.id }), "DEVELOPMENT_NOT_EMPTY");
    assert.deepEqual(await owner.doors.delete({ id: flat.id }), {});
    await failsWith(owner.doors.get({ id: flat.id }), "NOT_FOUND");
  });

  it("key sets: create, issue as one, partial return flags the missing key, KEYS_NOT_IN_STOCK, delete", async () => {
    const dev = await owner.developments.create({ name: "Ring Court", keyPrefix: "RC" });
    const front = await owner.keys.createKey({ developmentId: dev.id, keyType: "physical_key", label: "Front" });
    const plant = await owner.keys.createKey({ developmentId: dev.id, keyType: "fob", label: "Plant room" });
    const set = await owner.keySets.create({ developmentId: dev.id, name: "Caretaker's ring", keyIds: [front.id, plant.id] });
    assert.equal(set.state, "in_stock");
    assert.deepEqual(set.members.map((m) => m.keyRef), [front.keyRef, plant.keyRef]);
    assert.deepEqual(await owner.keySets.get({ id: set.id }), set);
    assert.deepEqual((await owner.keySets.list({ developmentId: dev.id })).items.map((s) => s.id), [set.id]);
    const renamed = await owner.keySets.update({ id: set.id, expectedVersion: 1, name: "Caretaker" });
    assert.equal(renamed.version, 2);
    const issued = await owner.keySets.issue({ id: set.id, issuedTo: "Jo Doe", notes: "Weekend" });
    assert.equal(issued.state, "issued");
    assert.deepEqual(issued.members.map((m) => m.status), ["issued", "issued"]);
    const history = await owner.keys.keyHistory({ id: plant.id });
    assert.equal(history.items[0]?.notes, "Key set Caretaker: Weekend");
    const refused = await failsWith(owner.keySets.issue({ id: set.id, issuedTo: "Sam" }), "KEYS_NOT_IN_STOCK");
    assert.deepEqual(refused.data?.keyRefs, [front.keyRef, plant.keyRef]);
    const partial = await owner.keySets.return({ id: set.id, keyIds: [front.id] });
    assert.equal(partial.state, "incomplete");
    assert.deepEqual(partial.members.map((m) => m.missing), [false, true]);
    assert.equal((await owner.keys.getKey({ id: plant.id })).returnRequested, true);
    await failsWith(owner.keySets.delete({ id: set.id }), "KEYS_NOT_IN_STOCK");
    assert.equal((await owner.keySets.return({ id: set.id })).state, "in_stock");
    assert.deepEqual(await owner.keySets.delete({ id: set.id }), {});
    await failsWith(owner.keySets.get({ id: set.id }), "NOT_FOUND");
  });

  it("acknowledged handover: keys.issueKey with acknowledge texts a code, keys.confirmHandover takes it", async () => {
    const dev = await owner.developments.create({ name: "Handover Court", keyPrefix: "HC" });
    const key = await owner.keys.createKey({ developmentId: dev.id, keyType: "physical_key", label: "Plant room" });
    const before = (await twilio.requests()).length;
    const issued = await owner.keys.issueKey({ id: key.id, issuedTo: "Sam", issuedToPhone: "+447400123457", acknowledge: "sms_code" });
    assert.equal(issued.handover?.state, "awaiting");
    const texts = await twilio.requests();
    assert.equal(texts.length, before + 1);
    const code = /is (\d{6})\./.exec(texts[texts.length - 1]?.fields.get("Body") ?? "")?.[1] ?? "";
    assert.equal(code.length, 6);
    assert.deepEqual((await owner.keys.listKeys({ unacknowledged: true })).items.map((k) => k.id), [key.id]);
    const wrong = await failsWith(owner.keys.confirmHandover({ id: key.id, code: code === "000000" ? "000001" : "000000" }), "HANDOVER_REFUSED");
    assert.deepEqual([wrong.data?.reason, wrong.data?.triesLeft], ["wrong_code", 4]);
    const done = await owner.keys.confirmHandover({ id: key.id, code });
    assert.equal(done.handover?.state, "acknowledged");
    assert.equal(done.handover?.phone, "+447400123457");
    assert.equal((await owner.keys.keyHistory({ id: key.id })).items[0]?.action, "handover_acknowledged");
  });

  it("access grants: create with a schedule and a doorcode, get, list, access.check, CODE_TAKEN", async () => {
    const dev = await owner.developments.create({ name: "Grant Court" });
    const front = await owner.doors.create({ developmentId: dev.id, name: "Front entrance", kind: "entrance" });
    const ann = await owner.people.create({ name: "Ann Staff", kind: "staff" });
    const bob = await owner.people.create({ name: "Bob Staff", kind: "staff" });
    const grant = await owner.grants.create({
      developmentId: dev.id,
      name: "Staff",
      startsAt: "2027-01-01T00:00:00Z",
      doors: [{ doorId: front.id, schedule: [{ days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "17:00" }] }],
      personIds: [ann.id],
      doorcode: { policy: "strict", code: "482913" },
    });
    assert.equal(grant.doorcodePolicy, "strict");
    assert.equal(grant.doorcodes.length, 1);
    assert.deepEqual(await owner.grants.get({ id: grant.id }), grant);
    assert.deepEqual((await owner.grants.list({ personId: ann.id })).items.map((g) => g.id), [grant.id]);
    const inside = await owner.access.check({ personId: ann.id, doorId: front.id, at: "2027-07-05T08:00:00Z" });
    assert.equal(inside.allowed, true);
    assert.equal(inside.doorcodeId, grant.doorcodes[0]?.id);
    const outside = await owner.access.check({ personId: ann.id, doorId: front.id, at: "2027-07-09T16:00:00Z" });
    assert.equal(outside.reason, "out_of_schedule");
    assert.equal(outside.nextAllowedAt, "2027-07-12T08:00:00Z");
    const taken = await failsWith(
      owner.grants.create({
        developmentId: dev.id,
        name: "Bob",
        startsAt: "2027-01-01T00:00:00Z",
        doors: [{ doorId: front.id }],
        personIds: [bob.id],
        doorcode: { policy: "strict", code: "482913" },
      }),
      "CODE_TAKEN",
    );
    assert.equal(taken.data?.doorId, front.id);
  });

  it("grants.sendCredentials, reports.doorLog and reports.doorLogCsv", async () => {
    const dev = await owner.developments.create({ name: "Log Court" });
    const front = await owner.doors.create({ developmentId: dev.id, name: "Front", kind: "entrance" });
    const master = await owner.keys.createKey({ developmentId: dev.id, keyType: "master_key", label: "Master" });
    await owner.keys.setDoors({ id: master.id, doorIds: [front.id] });
    const eve = await owner.people.create({ name: "=Eve Staff", kind: "staff", phone: "07400 123457" });
    await owner.keys.issueKey({ id: master.id, holderId: eve.id });
    const grant = await owner.grants.create({
      developmentId: dev.id,
      name: "Night staff",
      startsAt: "2027-01-01T00:00:00Z",
      doors: [{ doorId: front.id }],
      personIds: [eve.id],
      doorcode: { policy: "strict", code: "583920" },
    });
    const before = (await twilio.requests()).length;
    const sent = await owner.grants.sendCredentials({ id: grant.id, personId: eve.id });
    assert.equal(sent.status, "sent");
    const requests = await twilio.requests();
    assert.equal(requests.length, before + 1);
    assert.equal(requests[before]?.fields.get("Body"), "Log Court: your door codes (Night staff): Front 583920 (any time).");

    const range = { doorId: front.id, from: "2000-01-01T00:00:00Z", to: "2000-12-31T00:00:00Z" };
    assert.deepEqual((await owner.reports.doorLog(range)).items, []);
    const now = { doorId: front.id, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    const log = await owner.reports.doorLog(now);
    // The key was created before it opened the door: only what it did since is in the door's log.
    assert.deepEqual(log.items.map((e) => `${e.source}:${e.action}`), ["key:issued", "doorcode:allocated", "doorcode:sent"]);
    assert.equal(log.nextCursor, null);
    const bad = await failsWith(owner.reports.doorLog({ ...range, to: range.from }), "INVALID_INPUT");
    assert.equal(bad.field, "to");
    const file = await owner.reports.doorLogCsv(now);
    assert.match(file.filename, /^door-log-.*\.csv$/);
    const lines = file.csv.trimEnd().split("\r\n");
    assert.equal(lines[0], "at,source,action,actor,keyRef,keyId,person,personId,grant,grantId,doorcodeId,endReason,id");
    assert.equal(lines.length, 4);
    assert.ok(lines[1]?.includes(",'=Eve Staff,"), "a formula cell is neutralised");
  });

  it("CSV: *.exportCsv and *.importCsv of keys, access codes, people and doors", async () => {
    const dev = await owner.developments.create({ name: "Csv Court" });
    await owner.keys.createKey({ developmentId: dev.id, keyType: "fob", label: "=Fob", keyRef: "CSV-1" });
    await owner.keys.createAccessCode({ developmentId: dev.id, codeType: "gate", label: "Gate", code: "7391" });
    await owner.doors.create({ developmentId: dev.id, name: "Csv door", kind: "gate" });
    await owner.people.create({ name: "Csv Person", kind: "guest", phone: "07400 123458" });

    const keys = await owner.keys.exportKeysCsv({ developmentId: dev.id });
    assert.match(keys.filename, /^keys-\d{8}\.csv$/);
    assert.ok(keys.csv.startsWith("keyRef,developmentId,keyType,label,"));
    assert.ok(keys.csv.includes(",'=Fob,"), "a formula cell is neutralised");
    const codes = await owner.keys.exportAccessCodesCsv({ developmentId: dev.id, includeValues: true });
    assert.ok(codes.csv.includes(",7391,"), "the value, asked for");
    const people = await owner.people.exportCsv({ search: "csv person" });
    const doors = await owner.doors.exportCsv({ developmentId: dev.id });
    for (const [file, imported] of [
      [keys, owner.keys.importKeysCsv({ csv: keys.csv })],
      [codes, owner.keys.importAccessCodesCsv({ csv: codes.csv, dryRun: false })],
      [people, owner.people.importCsv({ csv: people.csv })],
      [doors, owner.doors.importCsv({ csv: doors.csv, dryRun: true })],
    ] as const) {
      const report = await imported;
      assert.equal(report.unchanged, 1, file.filename);
      assert.deepEqual([report.created, report.updated, report.refused], [0, 0, 0]);
      assert.equal(report.rows[0]?.outcome, "unchanged");
      assert.equal(report.rows[0]?.line, 2);
    }
    const refused = await owner.doors.importCsv({ csv: `developmentId,name,kind\r\n${dev.id},Bad,spoon\r\n` });
    assert.equal(refused.applied, false);
    assert.deepEqual(refused.rows.map((r) => [r.line, r.outcome, r.field]), [[2, "refused", "kind"]]);
    const header = await failsWith(owner.people.importCsv({ csv: "name,colour\r\n" }), "INVALID_INPUT");
    assert.equal(header.field, "csv");
  });

  it("grant edits, keycards and keys.setDoors: update, addPeople, replaceKeycard, removePeople, end", async () => {
    const dev = await owner.developments.create({ name: "Keycard Court" });
    const lobby = await owner.doors.create({ developmentId: dev.id, name: "Lobby", kind: "entrance" });
    const gym = await owner.doors.create({ developmentId: dev.id, name: "Gym", kind: "amenity" });
    const master = await owner.keys.createKey({ developmentId: dev.id, keyType: "master_key", label: "Master" });
    const opens = await owner.keys.setDoors({ id: master.id, doorIds: [lobby.id, gym.id] });
    assert.deepEqual([...opens.doorIds].sort(), [lobby.id, gym.id].sort());
    assert.deepEqual((await owner.keys.listKeys({ doorId: gym.id })).items.map((k) => k.id), [master.id]);
    await failsWith(owner.doors.delete({ id: gym.id }), "DOOR_IN_USE");
    const cards = [];
    for (const ref of ["KC-1", "KC-2", "KC-3"]) {
      cards.push(await owner.keys.createKey({ developmentId: dev.id, keyType: "card", label: "Card", keyRef: ref }));
    }
    const cy = await owner.people.create({ name: "Cy Staff", kind: "staff" });
    const di = await owner.people.create({ name: "Di Staff", kind: "staff" });
    const grant = await owner.grants.create({
      developmentId: dev.id,
      name: "Cleaners",
      startsAt: "2027-01-01T00:00:00Z",
      doors: [{ doorId: lobby.id }],
      personIds: [cy.id],
      keycard: { policy: "strict", keyRef: "KC-1" },
    });
    assert.equal(grant.keycards[0]?.keyRef, "KC-1");
    const updated = await owner.grants.update({ id: grant.id, name: "Cleaning team", doors: [{ doorId: lobby.id }, { doorId: gym.id }] });
    assert.equal(updated.name, "Cleaning team");
    assert.equal(updated.doors.length, 2);
    const added = await owner.grants.addPeople({ id: grant.id, personIds: [di.id] });
    assert.equal(added.personIds.length, 2);
    const replaced = await owner.grants.replaceKeycard({ id: grant.id, personId: cy.id, oldCard: "lost" });
    assert.notEqual(replaced.keycards.find((k) => k.personId === cy.id)?.keyRef, "KC-1");
    assert.equal((await owner.keys.getKey({ id: cards[0]!.id })).status, "lost");
    assert.equal(replaced.blastRadius?.keyId, cards[0]!.id);
    assert.equal(replaced.blastRadius?.status, "lost");
    const removed = await owner.grants.removePeople({ id: grant.id, personIds: [di.id] });
    assert.deepEqual(removed.personIds, [cy.id]);
    const ended = await owner.grants.end({ id: grant.id });
    assert.equal(ended.status, "ended");
    assert.deepEqual(ended.keycards, []);
    await failsWith(owner.grants.update({ id: grant.id, name: "Again" }), "INVALID_INPUT");
  });

  it("keys.blastRadius and keys.markLost: the doors a master key opens, what is at them, what to do", async () => {
    const dev = await owner.developments.create({ name: "Blast Yard" });
    const gate = await owner.doors.create({ developmentId: dev.id, name: "Gate", kind: "gate" });
    const master = await owner.keys.createKey({ developmentId: dev.id, keyType: "master_key", label: "Master" });
    await owner.keys.setDoors({ id: master.id, doorIds: [gate.id] });
    const spare = await owner.keys.createKey({ developmentId: dev.id, keyType: "physical_key", label: "Spare" });
    await owner.keys.setDoors({ id: spare.id, doorIds: [gate.id] });
    const code = await owner.keys.createAccessCode({ developmentId: dev.id, codeType: "gate", label: "Gate code", code: "2468", doorIds: [gate.id] });
    const radius = await owner.keys.blastRadius({ id: master.id });
    assert.deepEqual(radius.doors, [{ id: gate.id, name: "Gate", kind: "gate" }]);
    assert.deepEqual(radius.otherKeys.map((k) => k.id), [spare.id]);
    assert.deepEqual(radius.accessCodes.map((c) => [c.id, c.rotationDue]), [[code.id, false]]);
    assert.deepEqual(radius.actions, [
      { action: "rekey_door", doorId: gate.id },
      { action: "rotate_code", accessCodeId: code.id },
      { action: "replace_key", keyId: spare.id, doorIds: [gate.id] },
    ]);
    const lost = await owner.keys.markLost({ id: master.id });
    assert.equal(lost.status, "lost");
    assert.deepEqual(lost.blastRadius.accessCodes.map((c) => c.rotationDue), [true]);
    assert.equal((await owner.keys.summary({ developmentId: dev.id })).doorsExposedByLostKeys, 1);
    await failsWith(owner.keys.blastRadius({ id: NO_SUCH_ID }), "NOT_FOUND");
  });

  it("audits.*: a count finds, misses and flags; resolving marks the missing key lost", async () => {
    const dev = await owner.developments.create({ name: "Audit Yard", auditIntervalDays: 30 });
    assert.equal(dev.auditIntervalDays, 30);
    const hooked = await owner.keys.createKey({ developmentId: dev.id, keyType: "physical_key", label: "On the hook" });
    const gone = await owner.keys.createKey({ developmentId: dev.id, keyType: "fob", label: "Gone" });
    const first = await owner.audits.start({ developmentId: dev.id });
    assert.equal(first.audit.expected, 2);
    await failsWith(owner.audits.start({ developmentId: dev.id }), "INVALID_INPUT");
    assert.equal((await owner.audits.cancel({ id: first.audit.id })).audit.status, "cancelled");
    const audit = await owner.audits.start({ developmentId: dev.id });
    const recorded = await owner.audits.record({ id: audit.audit.id, keyRef: hooked.keyRef.toLowerCase() });
    assert.equal(recorded.line.outcome, "found");
    assert.equal(recorded.newlyRecorded, true);
    const stray = await owner.audits.record({ id: audit.audit.id, keyRef: keyA.keyRef });
    assert.equal(stray.line.reason, "other_development");
    await failsWith(owner.audits.record({ id: audit.audit.id, keyRef: "NOPE-1" }), "NOT_FOUND");
    assert.equal((await owner.audits.get({ id: audit.audit.id })).audit.found, 1);
    const done = await owner.audits.complete({ id: audit.audit.id });
    assert.deepEqual(done.missing.items.map((l) => l.keyId), [gone.id]);
    const lines = await owner.audits.lines({ id: audit.audit.id, outcome: "unexpected" });
    assert.deepEqual(lines.items.map((l) => l.keyId), [keyA.id]);
    const resolved = await owner.audits.resolve({ id: audit.audit.id });
    assert.equal(resolved.keysMarkedLost, 1);
    assert.deepEqual(resolved.actions, [{ action: "deactivate_key", keyId: gone.id }]);
    assert.equal((await owner.keys.getKey({ id: gone.id })).status, "lost");
    const listed = await owner.audits.list({ developmentId: dev.id });
    assert.deepEqual(listed.items.map((a) => a.status), ["resolved", "cancelled"]);
  });

  it("people.offboard and firms.offboard answer the checklist, which people.get and firms.get show", async () => {
    const firm = await owner.firms.create({ name: "Offboard Ltd" });
    const pat = await owner.people.create({ name: "Pat Plumber", kind: "contractor", firmId: firm.id });
    const kim = await owner.people.create({ name: "Kim Carpenter", kind: "contractor", firmId: firm.id });
    const key = await owner.keys.createKey({ developmentId: riverside.id, keyType: "physical_key", label: "Boiler room" });
    await owner.keys.issueKey({ id: key.id, holderId: kim.id });
    const code = await owner.keys.createAccessCode({ developmentId: riverside.id, codeType: "gate", label: "Offboard gate", code: "5150#" });
    await owner.keys.recordCodeDisclosure({ id: code.id, personId: kim.id });

    const one = await owner.people.offboard({ id: pat.id, reason: "Left the firm" });
    assert.deepEqual(one.people, [{ id: pat.id, name: "Pat Plumber" }]);
    assert.equal(one.complete, true, "Pat held nothing and knew nothing");
    await failsWith(owner.people.offboard({ id: kim.id, reason: " " }), "INVALID_INPUT");

    const all = await owner.firms.offboard({ id: firm.id, reason: "Contract ended" });
    assert.deepEqual(all.people.map((p) => p.name), ["Kim Carpenter", "Pat Plumber"]);
    assert.deepEqual(all.keysToRecover.map((k) => [k.id, k.holderId]), [[key.id, kim.id]]);
    assert.deepEqual(all.codesToRotate, [{ id: code.id, label: "Offboard gate", developmentId: riverside.id }]);
    assert.equal(all.complete, false);
    assert.deepEqual((await owner.firms.get({ id: firm.id })).offboarding, all);
    assert.equal((await owner.people.get({ id: kim.id })).offboarding?.reason, "Contract ended");
    assert.equal((await owner.keys.getKey({ id: key.id })).returnRequested, true);
    await owner.keys.returnKey({ id: key.id });
    assert.deepEqual((await owner.firms.get({ id: firm.id })).offboarding?.keysToRecover, []);
  });

  it("rpc.discover answers the checked-in OpenRPC document, without a token", async () => {
    const anon = client(null);
    assert.deepEqual(await anon.rpc.discover(), openrpc);
    assert.deepEqual(await anon.rpc.discover({}), openrpc);
  });

  it("every params the server accepted here validate against the OpenRPC params schema", () => {
    const validators = paramsValidators();
    assert.ok(accepted.length > 100, `only ${accepted.length} calls recorded`);
    for (const { method, params } of accepted) {
      const validate = validators.get(method);
      assert.ok(validate, `${method} is not in docs/openrpc.json`);
      assert.equal(validate(params), true, `${method} ${JSON.stringify(params)}: ${JSON.stringify(validate.errors)}`);
    }
  });

  it("every procedure of the generated Procedures type was called and answered", () => {
    const missing = Object.keys(covered).filter((name) => !answered.has(name));
    assert.deepEqual(missing, [], `not exercised with a result: ${missing.join(", ")}`);
  });
});
