// A minimal Twilio "create Message" endpoint for the tests (shared/notes/sms.md §1):
// `POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, HTTP Basic; answers 201
// with a message sid. keyward is pointed at it with KEYWARD_TWILIO_BASE_URL.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type TwilioRequest = {
  path: string;
  authUser: string | null;
  authPassword: string | null;
  fields: URLSearchParams;
};

export type FakeTwilio = {
  /** The base URL for KEYWARD_TWILIO_BASE_URL (no trailing slash). */
  url: string;
  requests: TwilioRequest[];
  stop: () => Promise<void>;
};

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const requests: TwilioRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\.json$/.exec(path);
      if (req.method !== "POST" || !m) {
        res.writeHead(404, { "content-type": "application/json" }).end(
          JSON.stringify({ code: 20404, message: `not found: ${path}`, status: 404 }),
        );
        return;
      }
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? "");
      const [authUser, authPassword] = basic?.[1]
        ? Buffer.from(basic[1], "base64").toString("utf8").split(/:(.*)/s)
        : [];
      const fields = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      requests.push({ path, authUser: authUser ?? null, authPassword: authPassword ?? null, fields });
      const sid = `SM${requests.length.toString(16).padStart(32, "0")}`;
      res.writeHead(201, { "content-type": "application/json" }).end(
        JSON.stringify({
          account_sid: m[1],
          api_version: "2010-04-01",
          body: fields.get("Body"),
          direction: "outbound-api",
          error_code: null,
          error_message: null,
          from: fields.get("From"),
          messaging_service_sid: fields.get("MessagingServiceSid"),
          num_media: "0",
          num_segments: "1",
          sid,
          status: "queued",
          to: fields.get("To"),
        }),
      );
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
