import assert from "node:assert/strict";
import { callStatement, sqlLiteral } from "../../../functions/_shared/db/call.ts";

Deno.test("sqlLiteral keeps plain values readable and casts them", () => {
  assert.equal(sqlLiteral(null, "uuid"), "null::uuid");
  assert.equal(sqlLiteral(undefined, "text"), "null::text");
  assert.equal(sqlLiteral(true, "boolean"), "true");
  assert.equal(sqlLiteral(-42, "bigint"), "-42::bigint");
  assert.equal(sqlLiteral("gpt-4o-mini", "text"), "'gpt-4o-mini'::text");
  assert.equal(
    sqlLiteral("3f2b1c4d-0000-4000-8000-000000000001", "uuid"),
    "'3f2b1c4d-0000-4000-8000-000000000001'::uuid",
  );
  assert.equal(sqlLiteral(new Uint8Array([0, 255, 16]), "bytea"), "decode('00ff10', 'hex')");
});

Deno.test("sqlLiteral hex-encodes anything that could break out of a literal", () => {
  for (
    const evil of ["a'b", "x'); drop table credits.ledger; --", "back\\slash", "é", "a\nb", "$$"]
  ) {
    const lit = sqlLiteral(evil, "text");
    assert.match(lit, /^convert_from\(decode\('[0-9a-f]+', 'hex'\), 'UTF8'\)::text$/, evil);
    const hexPart = /'([0-9a-f]+)'/.exec(lit)![1];
    const bytes = Uint8Array.from(hexPart.match(/../g)!.map((h) => parseInt(h, 16)));
    assert.equal(new TextDecoder().decode(bytes), evil, "decodes back to the same text");
  }
  assert.match(
    sqlLiteral({ v: 1, json: { a: "it's" } }, "jsonb"),
    /^convert_from\(decode\('[0-9a-f]+', 'hex'\), 'UTF8'\)::jsonb$/,
  );
});

Deno.test("sqlLiteral refuses values of the wrong shape", () => {
  assert.throws(() => sqlLiteral("1", "int"), TypeError);
  assert.throws(() => sqlLiteral(1.5, "bigint"), TypeError);
  assert.throws(() => sqlLiteral(2 ** 60, "bigint"), TypeError);
  assert.throws(() => sqlLiteral(1, "text"), TypeError);
  assert.throws(() => sqlLiteral("yes", "boolean"), TypeError);
  assert.throws(() => sqlLiteral("a\0b", "text"), TypeError);
  assert.throws(() => sqlLiteral("00", "bytea"), TypeError);
});

Deno.test("callStatement builds one statement without parameters", () => {
  assert.equal(
    callStatement("api.ai_settle", [["x", "text"], [1, "int"]], "applied, status"),
    "select applied, status from api.ai_settle('x'::text, 1::int)",
  );
  assert.throws(() => callStatement("api.ai_settle; drop", []), TypeError);
  assert.throws(() => callStatement("api.f", [], "*; drop"), TypeError);
});

Deno.test("sqlLiteral takes a JS bigint for bigint parameters only, within int8", () => {
  assert.equal(sqlLiteral(123456789012345678n, "bigint"), "123456789012345678::bigint");
  assert.equal(sqlLiteral(-5n, "bigint"), "-5::bigint");
  assert.throws(() => sqlLiteral(2n ** 63n, "bigint"), TypeError);
  assert.throws(() => sqlLiteral(-(2n ** 63n), "bigint"), TypeError);
  assert.throws(() => sqlLiteral(1n, "int"), TypeError);
  assert.throws(() => sqlLiteral(1n, "text"), TypeError);
});
