import type { Config } from "./schema.ts";

/**
 * The URL clients and recipients reach this instance at: the OAuth issuer and audience, the
 * JWKS base and the base of portal links. SEALPOST_PUBLIC_URL, else the API's own address
 * (https when SEALPOST_TLS_CERT and SEALPOST_TLS_KEY are set; an IPv6 host in brackets).
 * A small module of its own so the worker thread can use it without loading the API.
 */
export function issuerOf(config: Config): string {
  if (config.publicUrl !== undefined) return config.publicUrl;
  const https = config.tlsCert !== undefined && config.tlsKey !== undefined;
  const host = config.httpHost.includes(":") ? `[${config.httpHost}]` : config.httpHost;
  return `${https ? "https" : "http"}://${host}:${config.httpPort}`;
}
