// Starts the real keyward binary for the tests: a fresh SQLite database in a temporary
// folder, an organisation bootstrapped in it, `keyward serve` on a free port.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The bindings/ folder (this file is compiled to bindings/dist/test/support/). */
export const bindingsDir = fileURLToPath(new URL("../../../", import.meta.url));

/** `KEYWARD_BIN` if set, else `../target/debug/keyward` relative to bindings/. */
export function keywardBin(): string {
  const bin = process.env["KEYWARD_BIN"]
    ? resolve(process.env["KEYWARD_BIN"])
    : resolve(bindingsDir, "../target/debug/keyward");
  if (!existsSync(bin)) {
    throw new Error(
      `keyward binary not found at ${bin}: build it with \`cargo build -p keyward\` ` +
        "(in the repository root) or point KEYWARD_BIN at it",
    );
  }
  return bin;
}

export type Keyward = {
  /** The JSON-RPC endpoint, e.g. `http://127.0.0.1:40123/`. */
  url: string;
  /** The organisation made by `keyward bootstrap`. */
  orgId: string;
  orgName: string;
  ownerEmail: string;
  ownerName: string;
  ownerPassword: string;
  /** What the server wrote on stderr so far (RUST_LOG=warn). */
  stderr: () => string;
  stop: () => Promise<void>;
};

export type StartOptions = {
  /** `KEYWARD_CORS_ORIGINS`. */
  corsOrigins?: string[];
  /** More environment for `keyward serve`, e.g. `KEYWARD_TWILIO_BASE_URL`. */
  env?: Record<string, string>;
};

const STARTUP_LIMIT_MS = 30_000;
const STOP_LIMIT_MS = 10_000;

/** Bootstraps an organisation in a new database and starts `keyward serve` on it. */
export async function startKeyward(options: StartOptions = {}): Promise<Keyward> {
  const bin = keywardBin();
  const dir = await mkdtemp(join(tmpdir(), "keyward-ts-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYWARD_DATABASE_URL: `sqlite://${join(dir, "keyward.db")}`,
    RUST_LOG: process.env["KEYWARD_TEST_LOG"] ? "info" : "warn",
  };
  // Only what the test asks for: no ambient CORS list, listen address or Twilio endpoint.
  delete env["KEYWARD_CORS_ORIGINS"];
  delete env["KEYWARD_LISTEN"];
  delete env["KEYWARD_TWILIO_BASE_URL"];

  const orgName = "Acme Lettings";
  const ownerEmail = "owner@acme.test";
  const ownerName = "Olive Owner";
  const ownerPassword = "correct horse battery staple";
  let orgId: string;
  try {
    const { stdout } = await promisify(execFile)(
      bin,
      ["bootstrap", "--org", orgName, "--email", ownerEmail, "--name", ownerName],
      { env: { ...env, KEYWARD_PASSWORD: ownerPassword }, timeout: STARTUP_LIMIT_MS },
    );
    orgId = stdout.trim();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`keyward bootstrap failed: ${String(e)}`);
  }

  const serveEnv = { ...env, ...options.env };
  if (options.corsOrigins) serveEnv["KEYWARD_CORS_ORIGINS"] = options.corsOrigins.join(",");
  const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0"], {
    env: serveEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  const echo = Boolean(process.env["KEYWARD_TEST_LOG"]);
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
    if (echo) process.stderr.write(chunk);
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_LIMIT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const url = await listeningUrl(child, () => stderr);
    return {
      url,
      orgId,
      orgName,
      ownerEmail,
      ownerName,
      ownerPassword,
      stderr: () => stderr,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Resolves with the URL of the `keyward listening on URL` line (no sleeping, no polling). */
function listeningUrl(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => finish(new Error(`keyward serve did not listen within ${STARTUP_LIMIT_MS} ms`)), STARTUP_LIMIT_MS);
    const onExit = (code: number | null, signal: string | null) =>
      finish(new Error(`keyward serve exited (code ${code}, signal ${signal}) before listening:\n${stderr()}`));
    function finish(result: Error | string) {
      clearTimeout(timer);
      child.off("exit", onExit);
      lines.off("line", onLine);
      if (typeof result === "string") ok(result);
      else fail(result);
    }
    function onLine(line: string) {
      const m = /^keyward listening on (http:\/\/\S+?)\/?$/.exec(line.trim());
      if (m?.[1]) finish(`${m[1]}/`);
    }
    lines.on("line", onLine);
    child.once("exit", onExit);
  });
}
