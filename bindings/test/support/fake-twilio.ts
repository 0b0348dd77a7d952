// The fake Twilio of the Rust tests (crates/fake-twilio), run as a process: Twilio's
// "create Message" endpoint on loopback, with a record of what it received
// (`GET /_fake/requests`). keyward is pointed at it with KEYWARD_TWILIO_BASE_URL.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

import { bindingsDir } from "./keyward.js";

export type TwilioRequest = {
  path: string;
  /** The Basic-auth user (the account SID); the fake itself refuses a wrong password. */
  authUser: string | null;
  fields: URLSearchParams;
};

export type FakeTwilio = {
  /** The base URL for KEYWARD_TWILIO_BASE_URL (no trailing slash). */
  url: string;
  /** Every request the fake received, in order. */
  requests: () => Promise<TwilioRequest[]>;
  stop: () => Promise<void>;
};

type Recorded = { path: string; auth_user: string | null; form: [string, string][] };

/** `FAKE_TWILIO_BIN` if set, else `../target/debug/fake-twilio` relative to bindings/. */
function fakeTwilioBin(): string {
  const bin = process.env["FAKE_TWILIO_BIN"]
    ? resolve(process.env["FAKE_TWILIO_BIN"])
    : resolve(bindingsDir, "../target/debug/fake-twilio");
  if (!existsSync(bin)) {
    throw new Error(`fake-twilio not found at ${bin}: build it with \`cargo build -p fake-twilio\``);
  }
  return bin;
}

/** Starts the fake with this account, and waits for its `listening on URL` line. */
export async function startFakeTwilio(accountSid: string, authToken: string): Promise<FakeTwilio> {
  const child = spawn(fakeTwilioBin(), ["--account-sid", accountSid, "--auth-token", authToken], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = await new Promise<string>((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    child.once("exit", (code) => fail(new Error(`fake-twilio exited (code ${code}) before listening`)));
    lines.on("line", (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (m?.[1]) ok(m[1]);
    });
  });
  return {
    url,
    requests: async () => {
      const recorded = (await (await fetch(`${url}/_fake/requests`)).json()) as Recorded[];
      return recorded.map((r) => ({ path: r.path, authUser: r.auth_user, fields: new URLSearchParams(r.form) }));
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
