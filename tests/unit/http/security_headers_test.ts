import assert from "node:assert/strict";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import { captureLogger, testConfig } from "./helpers.ts";

const EXPECTED: Record<string, string> = {
  "strict-transport-security": "max-age=63072000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "permissions-policy":
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
};

function app() {
  const a = createBaseApp("sec", { config: testConfig(), logger: captureLogger().logger });
  a.get("/ok", (c) => c.json({ ok: true }));
  a.get("/banner", (c) => {
    c.header("Server", "nginx/1.0");
    c.header("X-Powered-By", "Hono");
    return c.json({ ok: true });
  });
  a.get("/cached", (c) => {
    c.header("Cache-Control", "public, max-age=60");
    return c.json({ ok: true });
  });
  // A proxied fetch() response has immutable headers; the middleware must still apply.
  a.get(
    "/upstream",
    () =>
      immutable(new Response("audio", { headers: { "content-type": "audio/mpeg", server: "up" } })),
  );
  a.get("/fail", () => {
    throw new ApiError("FORBIDDEN", "no");
  });
  return a;
}

/** A Response whose headers throw on mutation, like one returned by fetch(). */
function immutable(res: Response): Response {
  const headers = res.headers;
  const guard = new Proxy(headers, {
    get(target, prop) {
      if (prop === "set" || prop === "delete" || prop === "append") {
        return () => {
          throw new TypeError("Headers are immutable");
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  Object.defineProperty(res, "headers", { value: guard });
  return res;
}

for (const path of ["/sec/ok", "/sec/fail", "/sec/missing", "/sec/upstream"]) {
  for (const [name, value] of Object.entries(EXPECTED)) {
    Deno.test(`${name} is set on ${path}`, async () => {
      const res = await app().request(path);
      assert.equal(res.headers.get(name), value);
      await res.body?.cancel();
    });
  }
}

Deno.test("server banner headers are removed", async () => {
  const res = await app().request("/sec/banner");
  assert.equal(res.headers.get("server"), null);
  assert.equal(res.headers.get("x-powered-by"), null);
  await res.body?.cancel();
});

Deno.test("responses default to Cache-Control: no-store, an explicit value is kept", async () => {
  const a = app();
  const res = await a.request("/sec/ok");
  assert.equal(res.headers.get("cache-control"), "no-store");
  await res.body?.cancel();
  const cached = await a.request("/sec/cached");
  assert.equal(cached.headers.get("cache-control"), "public, max-age=60");
  await cached.body?.cancel();
});

Deno.test("an immutable upstream response keeps its body and loses its banner", async () => {
  const res = await app().request("/sec/upstream");
  assert.equal(await res.text(), "audio");
  assert.equal(res.headers.get("content-type"), "audio/mpeg");
  assert.equal(res.headers.get("server"), null);
});
