/**
 * POST /admin/grants {accountId, amount, reason, reference?, note?} — credit an account.
 *
 * Idempotent: the grant is keyed by a reference — `reference` in the body or the
 * `Idempotency-Key` header (one is required; both must agree). The ledger's unique cause key
 * ('admin:<reference>') makes a second application impossible: a repeat with the same amount
 * and reason answers 200 with the original grant and `Idempotent-Replayed: true`; the same
 * reference with other values is 422 IDEMPOTENCY_KEY_REUSED. A new grant answers 201.
 * `reason` is the ledger reason (lower snake case, e.g. support, compensation); `note` is
 * free text kept only in the audit log. Unknown account → 404 NOT_FOUND (accounts are created
 * by their owner's first call, never by an admin typo).
 */
import { z } from "zod";
import { ApiError } from "../../_shared/http/errors.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import type { AdminRoutes } from "../deps.ts";

const REFERENCE = z.string().regex(
  /^[\x21-\x7e]{1,200}$/,
  "1..200 printable characters, no spaces",
);

const GrantBody = z.object({
  accountId: z.string().uuid(),
  amount: z.number().int().min(1).max(1_000_000_000),
  reason: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "lower snake case, at most 32 characters"),
  reference: REFERENCE.optional(),
  note: z.string().max(500).optional(),
});

interface GrantRow {
  ledger_id: string;
  amount: string;
  balance: string;
  held: string;
  available: string;
  applied: boolean;
}

export const grantRoutes: AdminRoutes = (app, deps) => {
  app.post("/grants", validate("json", GrantBody), async (c) => {
    c.set("adminAction", "grants.create");
    const body = c.req.valid("json");
    const header = c.req.header("Idempotency-Key");
    if (header !== undefined && !REFERENCE.safeParse(header).success) {
      throw new ApiError("VALIDATION_FAILED", "Invalid Idempotency-Key", {
        fields: [{
          path: "headers.idempotency-key",
          message: "1..200 printable characters, no spaces",
        }],
      });
    }
    if (body.reference && header && body.reference !== header) {
      throw new ApiError("VALIDATION_FAILED", "reference and Idempotency-Key differ", {
        fields: [{ path: "reference", message: "Must equal the Idempotency-Key header" }],
      });
    }
    const reference = body.reference ?? header;
    if (!reference) {
      throw new ApiError("VALIDATION_FAILED", "A reference or an Idempotency-Key is required", {
        fields: [{ path: "reference", message: "Required (or send Idempotency-Key)" }],
      });
    }
    c.set("adminAccountId", body.accountId.toLowerCase());
    c.set("adminAudit", {
      amount: body.amount,
      reason: body.reason,
      reference,
      ...(body.note ? { note: body.note } : {}),
    });

    const [row] = await deps.sql()<GrantRow[]>`
      select ledger_id, amount, balance, held, available, applied
        from api.grant(${body.accountId}::uuid, ${body.amount}::bigint, ${body.reason}::text,
                       ${`admin:${reference}`}::text)`;
    c.set("adminAudit", {
      ...c.var.adminAudit,
      applied: row.applied,
      ledgerId: Number(row.ledger_id),
    });
    if (!row.applied) c.header("Idempotent-Replayed", "true");
    return c.json({
      ledgerId: Number(row.ledger_id),
      accountId: body.accountId.toLowerCase(),
      amount: Number(row.amount),
      reason: body.reason,
      reference,
      applied: row.applied,
      balance: Number(row.balance),
      held: Number(row.held),
      available: Number(row.available),
    }, row.applied ? 201 : 200);
  });
};
