export * from "./flags.ts";
export * from "./middleware.ts";
