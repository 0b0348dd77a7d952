// The built client in a real browser (Debian's Chromium, driven by playwright-core), on a
// page of another origin than the API: it works from an origin listed in
// KEYWARD_CORS_ORIGINS, and is refused by the browser from one that is not.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { chromium, type Browser, type Page } from "playwright-core";

import { createClient } from "../src/index.js";
import { bindingsDir, startKeyward, type Keyward } from "./support/keyward.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WAIT_MS = 20_000;

/** The page: imports the built client as an ES module, logs in, lists keys, shows the outcome. */
function pageHtml(config: { api: string; email: string; password: string }): string {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>keyward client test</title></head>
<body>
<p id="status">loading</p>
<pre id="out"></pre>
<script type="module">
import { createClient, KeywardError } from "/client.js";
const config = ${JSON.stringify(config)};
const status = document.getElementById("status");
const out = document.getElementById("out");
try {
  let token = null;
  const client = createClient({ url: config.api, token: () => token });
  const login = await client.auth.login({ email: config.email, password: config.password });
  token = login.token;
  const page = await client.keys.listKeys({ limit: 10 });
  out.textContent = JSON.stringify({ role: login.user.role, total: page.total, keyRefs: page.items.map((k) => k.keyRef) });
  status.textContent = "ok";
} catch (e) {
  out.textContent = JSON.stringify({
    name: e?.name,
    message: e?.message,
    keywardError: e instanceof KeywardError,
  });
  status.textContent = "failed";
}
</script>
</body>
</html>`;
}

/** A static server on 127.0.0.1 (its own origin): `/` is the page, `/client.js` the built client. */
async function startPageServer(html: () => string): Promise<{ server: Server; origin: string }> {
  const clientJs = await readFile(join(bindingsDir, "dist/src/index.js"), "utf8");
  const server = createServer((req, res) => {
    if (req.url === "/" || req.url === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html());
    } else if (req.url === "/client.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(clientJs);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

type Outcome = { status: string; out: Record<string, unknown>; log: string[] };

/** Opens the page and waits (event-driven, no sleeping) until it shows an outcome. */
async function outcomeOf(page: Page, url: string): Promise<Outcome> {
  const log: string[] = [];
  page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ""}`));
  await page.goto(url);
  try {
    await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", null, {
      timeout: WAIT_MS,
    });
  } catch (e) {
    throw new Error(`the page showed no outcome: ${String(e)}\n${log.join("\n")}`);
  }
  const [status, out] = await page.evaluate(() => [
    document.getElementById("status")?.textContent ?? "",
    document.getElementById("out")?.textContent ?? "",
  ]);
  return { status, out: JSON.parse(out || "{}") as Record<string, unknown>, log };
}

// `cargo xtask test` sets KEYWARD_TEST_BROWSER=skip on a machine without Chromium, and
// says so in a banner; under CI it never does (a missing Chromium fails the run there).
const skipBrowser = process.env["KEYWARD_TEST_BROWSER"] === "skip" && !existsSync(CHROMIUM);

describe("the built client in Chromium, across origins (CORS)", { skip: skipBrowser && `${CHROMIUM} is missing` }, () => {
  let keyward: Keyward;
  let allowed: { server: Server; origin: string };
  let other: { server: Server; origin: string };
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's Chromium with \`apt-get install -y chromium\` ` +
          "(.ci/run installs it); the browser test does not skip",
      );
    }
    const html = () => pageHtml({ api: keyward.url, email: keyward.ownerEmail, password: keyward.ownerPassword });
    allowed = await startPageServer(html);
    other = await startPageServer(html);
    assert.notEqual(allowed.origin, other.origin);
    keyward = await startKeyward({ corsOrigins: [allowed.origin] });

    // Something to list: one key, made from Node (no CORS there).
    const setup = createClient({ url: keyward.url });
    const { token } = await setup.auth.login({ email: keyward.ownerEmail, password: keyward.ownerPassword });
    const owner = createClient({ url: keyward.url, token });
    const dev = await owner.developments.create({ name: "Oak Park" });
    await owner.keys.createKey({ developmentId: dev.id, keyType: "fob", label: "Front door fob" });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    await browser?.close();
    await keyward?.stop();
    for (const s of [allowed, other]) {
      if (s) await new Promise<void>((ok) => s.server.close(() => ok()));
    }
  });

  it("from an origin in KEYWARD_CORS_ORIGINS: logs in and lists keys", async () => {
    const page = await browser.newPage();
    try {
      const { status, out, log } = await outcomeOf(page, `${allowed.origin}/`);
      assert.equal(status, "ok", `the page failed: ${JSON.stringify(out)}\n${log.join("\n")}`);
      assert.deepEqual(out, { role: "owner", total: 1, keyRefs: ["OP-001"] });
    } finally {
      await page.close();
    }
  });

  it("from another origin: the browser blocks the call and the client rejects", async () => {
    const page = await browser.newPage();
    try {
      const { status, out, log } = await outcomeOf(page, `${other.origin}/`);
      assert.equal(status, "failed", `the call went through from an origin not allowed: ${JSON.stringify(out)}`);
      // A CORS refusal is a network error for the page: fetch's TypeError, not a KeywardError.
      assert.equal(out["name"], "TypeError", JSON.stringify(out));
      assert.equal(out["keywardError"], false);
      assert.ok(
        log.some((line) => /CORS|Access-Control-Allow-Origin/i.test(line)),
        `no CORS refusal in the browser's log:\n${log.join("\n")}`,
      );
    } finally {
      await page.close();
    }
  });
});
