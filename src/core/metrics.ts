import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Db } from "../store/db.ts";
import { queueDepth } from "../store/queue.ts";
import type { Clock } from "./clock.ts";

/** Prometheus metrics. Labels carry codes and modes only, never addresses or content. */
export interface Metrics {
  registry: Registry;
  accepted: Counter<"mode">;
  render(): Promise<string>;
}

export function createMetrics(db: Db, clock: Clock): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "sealpost_process_" });
  const accepted = new Counter({
    name: "sealpost_messages_accepted_total",
    help: "Messages accepted (durably stored) by this node.",
    labelNames: ["mode"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "sealpost_queue_deliveries",
    help: "Deliveries owed work: due now, or waiting (scheduled for later, deferred for a retry, sending under a lease).",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const depth = await queueDepth(db, clock.now());
      this.set({ state: "due" }, depth.due);
      this.set({ state: "scheduled" }, depth.scheduled);
      this.set({ state: "deferred" }, depth.deferred);
      this.set({ state: "sending" }, depth.sending);
    },
  });
  return { registry, accepted, render: () => registry.metrics() };
}
