/**
 * One authenticated call to the App Store Server API, for GET /admin/diag/appstore/ping:
 * GET {APPSTORE_API_BASE_URL}/inApps/v1/transactions/{transactionId} ("Get Transaction Info").
 * With a made-up transaction id Apple answers 404 (TransactionIdNotFoundError) or 400 once the
 * JWT is accepted, and 401 when it is not — so the status alone says whether our credentials
 * work, without touching real data. Bodies are not passed on except Apple's errorCode and a
 * short errorMessage.
 */
import { redactString } from "../../_shared/log/redact.ts";

export interface AppStorePingResult {
  reachable: boolean;
  /** HTTP status, when an answer arrived. */
  status?: number;
  /** false only for 401: Apple refused the JWT. */
  authenticated?: boolean;
  latencyMs: number;
  appleError?: { errorCode?: number; errorMessage?: string };
  /** "timeout" | "unreachable" when no answer arrived. */
  error?: string;
}

export async function pingAppStore(options: {
  baseUrl: string;
  token: string;
  transactionId: string;
  fetch: typeof fetch;
  timeoutMs?: number;
}): Promise<AppStorePingResult> {
  const url = `${options.baseUrl.replace(/\/+$/, "")}/inApps/v1/transactions/${
    encodeURIComponent(options.transactionId)
  }`;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let res: Response;
  try {
    res = await options.fetch(url, {
      headers: { authorization: `Bearer ${options.token}`, accept: "application/json" },
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (err) {
    const timeout = err instanceof DOMException && err.name === "TimeoutError";
    return { reachable: false, latencyMs: elapsed(), error: timeout ? "timeout" : "unreachable" };
  }
  const text = await res.text().catch(() => "");
  const result: AppStorePingResult = {
    reachable: true,
    status: res.status,
    authenticated: res.status !== 401,
    latencyMs: elapsed(),
  };
  try {
    const body = JSON.parse(text) as { errorCode?: unknown; errorMessage?: unknown };
    const errorCode = typeof body.errorCode === "number" ? body.errorCode : undefined;
    const errorMessage = typeof body.errorMessage === "string"
      ? redactString(body.errorMessage).slice(0, 200)
      : undefined;
    if (errorCode !== undefined || errorMessage !== undefined) {
      result.appleError = { errorCode, errorMessage };
    }
  } catch {
    // Not JSON (e.g. an empty 401): the status says enough.
  }
  return result;
}
