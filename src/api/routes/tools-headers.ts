import type { FastifyInstance } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import { analyzeHeaders, type HeaderAnalysis } from "../../tools/analyze-headers.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";

export interface AnalyzeHeadersRequest {
  /** A raw message or just its header block; only the Received lines are read. */
  headers: string;
}

export type AnalyzeHeadersResponse = HeaderAnalysis;

/** Documents the body; parseBody below is what enforces it. */
const analyzeHeadersBody = {
  type: "object",
  required: ["headers"],
  additionalProperties: false,
  properties: {
    headers: {
      type: "string",
      description:
        "A raw message or its header block. Only the Received lines are read: at most 1 MB of " +
        "headers and the newest 100 Received lines.",
    },
  },
};

function parseBody(body: unknown): AnalyzeHeadersRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
  for (const key of Object.keys(body))
    if (key !== "headers")
      throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(key) ? key : "?" });
  const { headers } = body as { headers?: unknown };
  if (headers === undefined) throw new SealpostError("missing_field", { field: "headers" });
  if (typeof headers !== "string")
    throw new SealpostError("invalid_type", { field: "headers", detail: "headers must be a string." });
  return { headers };
}

/**
 * TLS tools. `POST /v1/tools/analyze-headers` reads the Received lines of a message the
 * caller pastes (it is not stored or logged) and reports, hop by hop, whether TLS was
 * recorded; see docs/tools.md.
 */
export function registerHeaderToolRoutes(app: FastifyInstance, _deps: ApiDeps): void {
  app.post(
    "/v1/tools/analyze-headers",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary: "Analyse the Received lines of a message for TLS, hop by hop",
        description:
          "Answers 200 with one entry per hop, oldest first (`tls`: `tls`, `likely_plaintext`, " +
          "`unknown` or `internal`), and a conclusion (`verdict`: `all_tls`, `gap`, `unknown` or " +
          "`internal_only`). A server that records nothing about TLS gives `unknown`, not `insecure`.",
        tags: ["tools"],
        body: analyzeHeadersBody,
      },
    },
    async (request): Promise<AnalyzeHeadersResponse> => analyzeHeaders(parseBody(request.body).headers),
  );
}
