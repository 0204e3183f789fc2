/**
 * credits function end to end through the gateway: GET /credits/balance and
 * GET /credits/ledger (issue 4), checked against the real database.
 */
import assert from "node:assert/strict";
import { newUser } from "../support/auth.ts";
import { fnUrl } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const INITIAL_GRANT = Number(Deno.env.get("INITIAL_GRANT") ?? "3");

async function getJson(path: string, headers: Record<string, string>) {
  const res = await fetch(fnUrl(path), { headers });
  return { res, body: await res.json() };
}

Deno.test("credits: the first balance call creates the account with INITIAL_GRANT", async () => {
  const user = await newUser();
  const { res, body } = await getJson("/credits/balance", user.headers);
  assert.equal(res.status, 200);
  assert.deepEqual(body, { balance: INITIAL_GRANT, held: 0, available: INITIAL_GRANT });
  assert.equal(res.headers.get("cache-control"), "no-store");
  const again = await getJson("/credits/balance", user.headers);
  assert.deepEqual(again.body, body, "a second call grants nothing");
});

Deno.test("credits: 20 concurrent first calls grant exactly once", async () => {
  const user = await newUser();
  const answers = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => getJson(i % 2 ? "/credits/balance" : "/credits/ledger", user.headers),
    ),
  );
  for (const a of answers) assert.equal(a.res.status, 200);
  const sql = adminSql();
  try {
    const rows = await sql`
      select kind, delta::int from credits.ledger where account_id = ${user.id}::uuid`;
    assert.deepEqual([...rows], [{ kind: "initial_grant", delta: INITIAL_GRANT }]);
  } finally {
    await sql.end();
  }
});

Deno.test("credits: the first ledger call also creates the account", async () => {
  const user = await newUser();
  const { res, body } = await getJson("/credits/ledger", user.headers);
  assert.equal(res.status, 200);
  assert.equal(body.nextCursor, null);
  assert.equal(body.items.length, 1);
  const [item] = body.items;
  assert.equal(item.kind, "initial_grant");
  assert.equal(item.delta, INITIAL_GRANT);
  assert.equal(item.balanceAfter, INITIAL_GRANT);
  assert.equal(item.causeType, "account");
  assert.equal(item.causeKey, user.id);
  assert.match(item.hash, /^[0-9a-f]{64}$/);
  assert.ok(!Number.isNaN(Date.parse(item.createdAt)));
});

Deno.test("credits: ledger pages are newest first with a cursor, and end with null", async () => {
  const user = await newUser();
  await getJson("/credits/balance", user.headers);
  const sql = adminSql();
  try {
    for (let i = 1; i <= 4; i++) {
      await sql`select * from api.grant(${user.id}::uuid, ${i}::bigint, 'admin', ${`test:${i}`})`;
    }
  } finally {
    await sql.end();
  }
  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = cursor ? `&cursor=${cursor}` : "";
    const { res, body } = await getJson(`/credits/ledger?limit=2${q}`, user.headers);
    assert.equal(res.status, 200);
    assert.ok(body.items.length <= 2);
    seen.push(...body.items.map((i: { delta: number }) => i.delta));
    cursor = body.nextCursor;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.deepEqual(seen, [4, 3, 2, 1, INITIAL_GRANT], "newest first, every row exactly once");
  assert.equal(pages, 3);
});

Deno.test("credits: bad ledger query parameters are 400 VALIDATION_FAILED", async () => {
  const user = await newUser();
  for (const q of ["limit=0", "limit=101", "limit=abc", "cursor=-1", "cursor=abc", "other=1"]) {
    const { res, body } = await getJson(`/credits/ledger?${q}`, user.headers);
    assert.equal(res.status, 400, q);
    assert.equal(body.error.code, "VALIDATION_FAILED", q);
  }
});

Deno.test("credits: accounts never see each other's ledger", async () => {
  const a = await newUser();
  const b = await newUser();
  await getJson("/credits/balance", a.headers);
  const { body } = await getJson("/credits/ledger", b.headers);
  assert.equal(body.items.length, 1);
  assert.equal(body.items[0].causeKey, b.id);
});

Deno.test("credits: no token is 401, a wrong method is 405, an unknown route 404", async () => {
  const anon = await fetch(fnUrl("/credits/balance"));
  assert.equal(anon.status, 401);
  assert.equal((await anon.json()).error.code, "UNAUTHORIZED");
  const user = await newUser();
  const post = await fetch(fnUrl("/credits/balance"), { method: "POST", headers: user.headers });
  assert.equal(post.status, 405);
  assert.equal((await post.json()).error.code, "METHOD_NOT_ALLOWED");
  const missing = await fetch(fnUrl("/credits/nope"), { headers: user.headers });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
