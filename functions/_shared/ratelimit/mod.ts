export * from "./policies.ts";
export * from "./decision.ts";
export * from "./headers.ts";
export * from "./client_ip.ts";
export * from "./take.ts";
export * from "./middleware.ts";
export * from "./errors.ts";
export * from "./unauthenticated.ts";
