// The TanStack Query options (`@keyward/client/tanstack`): their types, checked by the
// compiler (each `@ts-expect-error` line must fail to compile), and their behaviour with
// @tanstack/query-core's QueryClient against the real keyward binary.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { MutationObserver, QueryClient, hashKey } from "@tanstack/query-core";

import {
  createClient,
  KeywardError,
  type Client,
  type Development,
  type ErrorKind,
  type Items,
  type Key,
  type Page,
  type Procedures,
} from "../src/index.js";
import {
  createQueryOptions,
  KEYWARD,
  READ_PROCEDURES,
  WRITE_PROCEDURES,
  type KeywardQueries,
} from "../src/tanstack.js";
import { startKeyward, type Keyward } from "./support/keyward.js";

/** `true` only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only with `true`. */
type Expect<T extends true> = T;
type QueryData<F extends (...args: never[]) => { queryFn: () => Promise<unknown> }> = Awaited<
  ReturnType<ReturnType<F>["queryFn"]>
>;

export type TanstackTypes = [
  Expect<Equal<QueryData<KeywardQueries["keys"]["getKey"]["queryOptions"]>, Key>>,
  Expect<Equal<QueryData<KeywardQueries["keys"]["listKeys"]["queryOptions"]>, Page<Key>>>,
  Expect<Equal<QueryData<KeywardQueries["developments"]["list"]["queryOptions"]>, Items<Development>>>,
  Expect<Equal<Parameters<ReturnType<KeywardQueries["keys"]["createKey"]["mutationOptions"]>["mutationFn"]>[0], Procedures["keys.createKey"]["input"]>>,
  Expect<Equal<(typeof READ_PROCEDURES)[number] | (typeof WRITE_PROCEDURES)[number], keyof Procedures>>,
  Expect<Equal<Extract<(typeof READ_PROCEDURES)[number], (typeof WRITE_PROCEDURES)[number]>, never>>,
];

/** Never called: its body only has to compile (or, on the marked lines, not to). */
export async function typeChecks(queries: KeywardQueries, queryClient: QueryClient, key: Key): Promise<void> {
  // --- what compiles, with the result types inferred -----------------------------------
  const page: Page<Key> = await queryClient.fetchQuery(queries.keys.listKeys.queryOptions({ status: "issued" }));
  const one: Key = await queryClient.fetchQuery(queries.keys.getKey.queryOptions({ id: key.id }));
  const cached: Key | undefined = queryClient.getQueryData(queries.keys.getKey.queryKey({ id: key.id }));
  queries.keys.listKeys.queryOptions();
  const created: Key = await new MutationObserver(queryClient, queries.keys.createKey.mutationOptions()).mutate({
    developmentId: "d",
    keyType: "fob",
    label: "Bin store",
  });
  void [page, one, cached, created];

  // --- reads have no mutationOptions, writes no queryOptions ---------------------------
  // @ts-expect-error keys.createKey changes the register: it is a mutation
  queries.keys.createKey.queryOptions({ developmentId: "d", keyType: "fob", label: "x" });
  // @ts-expect-error keys.getKey is a read: it is a query
  queries.keys.getKey.mutationOptions();
  // @ts-expect-error keys.revealAccessCode records the reveal: it is a mutation
  queries.keys.revealAccessCode.queryOptions({ id: "c" });

  // --- params are the procedure's ------------------------------------------------------
  // @ts-expect-error keys.getKey needs its id
  queries.keys.getKey.queryOptions();
  // @ts-expect-error `statuss` is not a field of ListKeysInput
  queries.keys.listKeys.queryOptions({ statuss: "issued" });
  // The key is tagged with its data: the cache read is a Key without a type argument.
  const tagged = queryClient.getQueryData(queries.keys.getKey.queryKey({ id: key.id }));
  const isKey: Expect<Equal<typeof tagged, Key | undefined>> = true;
  const observer = new MutationObserver(queryClient, queries.developments.create.mutationOptions());
  // @ts-expect-error developments.create takes `name`
  await observer.mutate({ title: "Oak Park" });
  void isKey;
}

/** Awaits a promise that must reject with a KeywardError of `kind`. */
async function failsWith(promise: Promise<unknown>, kind: ErrorKind): Promise<KeywardError> {
  try {
    const result = await promise;
    assert.fail(`expected ${kind}, got ${JSON.stringify(result)}`);
  } catch (e) {
    assert.ok(e instanceof KeywardError, `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    return e;
  }
}

const NO_SUCH_ID = "01900000-0000-7000-8000-000000000000";

describe("TanStack Query options over the real server", () => {
  let server: Keyward;
  let client: Client;
  let queries: KeywardQueries;
  /** Methods sent over the wire, in order. */
  const sent: string[] = [];

  before(async () => {
    server = await startKeyward();
    const login = await createClient({ url: server.url }).auth.login({
      email: server.ownerEmail,
      password: server.ownerPassword,
    });
    const recordingFetch: typeof fetch = async (input, init) => {
      sent.push((JSON.parse(String(init?.body)) as { method: string }).method);
      return fetch(input, init);
    };
    client = createClient({ url: server.url, token: login.token, fetch: recordingFetch });
    queries = createQueryOptions(client);
  });

  after(async () => {
    await server?.stop();
  });

  it("the subpath export resolves to this module", async () => {
    const specifier = "@keyward/client/tanstack";
    const byName = (await import(specifier)) as typeof import("../src/tanstack.js");
    assert.equal(byName.READ_PROCEDURES.length, READ_PROCEDURES.length);
    assert.equal(typeof byName.createQueryOptions, "function");
  });

  it("every procedure is a query or a mutation, never both", () => {
    const all = [...READ_PROCEDURES, ...WRITE_PROCEDURES];
    assert.equal(new Set(all).size, all.length);
    const clientMethods = Object.entries(client)
      .filter(([, v]) => typeof v === "object")
      .flatMap(([ns, methods]) => Object.keys(methods as object).map((m) => `${ns}.${m}`));
    assert.deepEqual([...all].sort(), clientMethods.sort());
    const entry = (name: string) => {
      const [ns, method] = name.split(".") as [string, string];
      return (queries as unknown as Record<string, Record<string, Record<string, unknown>>>)[ns]![method]!;
    };
    for (const name of READ_PROCEDURES) {
      assert.deepEqual(Object.keys(entry(name)).sort(), ["queryKey", "queryOptions"], name);
    }
    for (const name of WRITE_PROCEDURES) {
      assert.deepEqual(Object.keys(entry(name)), ["mutationOptions"], name);
    }
    assert.ok(READ_PROCEDURES.includes("keys.listKeys" as never));
    assert.ok(WRITE_PROCEDURES.includes("keys.revealAccessCode" as never));
  });

  it("query keys are ['keyward', procedure, params]; left-out params are {}", () => {
    assert.deepEqual(queries.keys.listKeys.queryKey({ limit: 5 }), [KEYWARD, "keys.listKeys", { limit: 5 }]);
    assert.deepEqual(queries.developments.list.queryOptions().queryKey, ["keyward", "developments.list", {}]);
    assert.equal(hashKey(queries.keys.listKeys.queryKey()), hashKey(queries.keys.listKeys.queryKey({})));
    assert.notEqual(
      hashKey(queries.keys.listKeys.queryKey({ limit: 1 })),
      hashKey(queries.keys.listKeys.queryKey({ limit: 2 })),
    );
    assert.deepEqual(queries.keys.createKey.mutationOptions().mutationKey, ["keyward", "keys.createKey"]);
  });

  it("queries fetch, cache and refetch after invalidation; mutations change the register", async () => {
    const queryClient = new QueryClient();
    const list = queries.developments.list.queryOptions();
    sent.length = 0;
    assert.deepEqual(await queryClient.fetchQuery(list), { items: [] });
    // Fresh in the cache: not asked again.
    assert.deepEqual(await queryClient.fetchQuery({ ...list, staleTime: Infinity }), { items: [] });
    assert.deepEqual(sent, ["developments.list"]);

    const create = new MutationObserver(queryClient, queries.developments.create.mutationOptions());
    const oakPark = await create.mutate({ name: "Oak Park" });
    assert.equal(oakPark.name, "Oak Park");
    assert.equal(create.getCurrentResult().status, "success");
    assert.deepEqual(create.getCurrentResult().data, oakPark);

    // Invalidating keyward's keys makes the next read ask the server again.
    await queryClient.invalidateQueries({ queryKey: [KEYWARD] });
    const after = await queryClient.fetchQuery({ ...list, staleTime: Infinity });
    assert.deepEqual(after.items.map((d) => d.id), [oakPark.id]);
    assert.deepEqual(queryClient.getQueryData(list.queryKey), after);
    assert.deepEqual(sent, ["developments.list", "developments.create", "developments.list"]);

    // Params travel to the procedure: a key of this development, read back by id.
    const key = await new MutationObserver(queryClient, queries.keys.createKey.mutationOptions()).mutate({
      developmentId: oakPark.id,
      keyType: "fob",
      label: "Bin store",
    });
    const read = await queryClient.fetchQuery(queries.keys.getKey.queryOptions({ id: key.id }));
    assert.equal(read.label, "Bin store");
    const page = await queryClient.fetchQuery(queries.keys.listKeys.queryOptions({ developmentId: oakPark.id, limit: 1 }));
    assert.deepEqual(page.items.map((k) => k.id), [key.id]);
    queryClient.clear();
  });

  it("errors are KeywardErrors, in the query's and the mutation's state", async () => {
    const queryClient = new QueryClient();
    const missing = queries.keys.getKey.queryOptions({ id: NO_SUCH_ID });
    await failsWith(queryClient.fetchQuery(missing), "NOT_FOUND");
    const state = queryClient.getQueryState(missing.queryKey);
    assert.equal(state?.status, "error");
    assert.ok(state?.error instanceof KeywardError);

    const create = new MutationObserver(queryClient, queries.developments.create.mutationOptions());
    const refused = await failsWith(create.mutate({ name: "" }), "INVALID_INPUT");
    assert.equal(refused.field, "name");
    assert.equal(create.getCurrentResult().status, "error");
    queryClient.clear();
  });
});
