/** Tiny path helpers (deno std lives on JSR, which this project cannot reach). */
export function fromFileUrl(url: URL): string {
  return decodeURIComponent(url.pathname);
}

export function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/").replace(/\/$/, "");
}
