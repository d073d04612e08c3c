import type { FastifyInstance } from "fastify";
import { ping } from "../../store/migrations.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { problemFor, sendProblem } from "../problem.ts";

export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/healthz",
    { config: access({ public: "liveness probe" }), schema: { summary: "Liveness", tags: ["ops"] } },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      config: access({ public: "readiness probe" }),
      schema: { summary: "Readiness: started and the store answers", tags: ["ops"] },
    },
    async (_req, reply) => {
      if (!deps.ready()) return sendProblem(reply, problemFor("not_ready"));
      try {
        await ping(deps.db);
      } catch {
        return sendProblem(reply, problemFor("not_ready", { detail: "The store does not answer." }));
      }
      return { status: "ready" };
    },
  );
  app.get(
    "/metrics",
    {
      config: access({ public: "Prometheus metrics: counts only, no org data" }),
      schema: { summary: "Prometheus metrics", tags: ["ops"] },
    },
    async (_req, reply) => reply.type("text/plain; version=0.0.4").send(await deps.metrics()),
  );
}
