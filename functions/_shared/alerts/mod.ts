/** Alert delivery (issue 7): webhook URL checks, signatures, delivery and the outbox dispatcher. */
export {
  type AlertChannel,
  type AlertPayload,
  type AlertSeverity,
  deliverAlert,
  type DeliveryOptions,
  type DeliveryResult,
} from "./deliver.ts";
export { dispatchAlerts, type DispatchOptions, type DispatchReport } from "./dispatch.ts";
export { addressProblem, parseIpv4, parseIpv6 } from "./ip.ts";
export {
  ALERT_ID_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  type VerifyOptions,
  verifySignature,
} from "./signature.ts";
export {
  dnsResolve,
  type Resolver,
  validateWebhookUrl,
  WebhookUrlError,
  type WebhookUrlOptions,
} from "./url.ts";
