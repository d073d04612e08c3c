/**
 * Memory with a large message: one message with a 25 MB attachment to 50 recipients over
 * the REST API. Reports the sealpost process's resident memory at rest and at its peak
 * (VmHWM), and whether every recipient got the message at the receiving server.
 */
import { randomBytes } from "node:crypto";
import { Agent } from "node:http";
import { loadAverage } from "../lib/proc.ts";
import { BENCH_KEY, prepareInstance, type RunningInstance, startInstance } from "../lib/sealpost.ts";
import { getJson, postJson } from "../load/http.ts";
import { FROM } from "../load/message.ts";
import { type BenchContext, phaseMs } from "./context.ts";

export interface MemoryResult {
  attachmentBytes: number;
  requestBytes: number;
  recipients: number;
  status: number;
  acceptSeconds: number;
  delivered: number;
  /** Deliveries the API reports as delivered. */
  deliveredByApi: number;
  allDelivered: boolean;
  deliverSeconds: number;
  idleRssMb: number;
  peakRssMb: number;
  /** Peak minus idle, as a multiple of the attachment size. */
  peakOverAttachment: number;
  loadAverage: number;
  notes: string[];
}

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const { config, sink } = ctx;
  const prepared = await prepareInstance({
    store: "sqlite",
    sinkPort: sink.port,
    postgresUrl: config.postgresUrl,
    passthrough: config.sealpostEnv,
    env: {
      SEALPOST_MAX_MESSAGE_BYTES: String(
        Math.max(40 * 1024 * 1024, Math.ceil((config.attachmentBytes * 4) / 3) + 1024 * 1024),
      ),
    },
  });
  let inst: RunningInstance | null = null;
  const notes: string[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  try {
    inst = await startInstance(prepared);
    await sink.reset();
    await new Promise((r) => setTimeout(r, 2000));
    const idleRssKb = inst.rssKb();
    const recipients = Array.from(
      { length: config.attachmentRecipients },
      (_, i) => `patient${i}@dest.example`,
    );
    const body = Buffer.from(
      JSON.stringify({
        from: FROM,
        to: recipients,
        subject: "Imaging report",
        text: "The imaging report is attached.",
        attachments: [
          {
            filename: "scan.bin",
            content_type: "application/octet-stream",
            content: randomBytes(config.attachmentBytes).toString("base64"),
          },
        ],
      }),
    );
    const started = Date.now();
    const res = await postJson(agent, inst.baseUrl, "/v1/messages", BENCH_KEY, body, 120_000);
    const acceptSeconds = (Date.now() - started) / 1000;
    let id = "";
    if (res.status === 202) id = (JSON.parse(res.body) as { id: string }).id;
    else notes.push(`POST answered ${res.status}: ${res.body.slice(0, 300)}`);
    ctx.log(
      `  accepted (${res.status}) in ${acceptSeconds.toFixed(1)} s; waiting for ${recipients.length} deliveries…`,
    );
    const stats =
      id === ""
        ? await sink.stats()
        : await sink.waitForMessages(recipients.length, phaseMs(ctx, 300_000), (s) =>
            ctx.log(`  … ${s.messages}/${recipients.length} delivered`),
          );
    let deliveredByApi = 0;
    if (id !== "") {
      // The worker records results in a group commit just after the send; give it a moment.
      for (let i = 0; i < 50; i++) {
        const view = await getJson(agent, inst.baseUrl, `/v1/messages/${id}`, BENCH_KEY);
        const deliveries = (JSON.parse(view.body) as { deliveries?: { status: string }[] }).deliveries ?? [];
        deliveredByApi = deliveries.filter((d) => d.status === "delivered").length;
        if (deliveredByApi >= recipients.length || stats.messages < recipients.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const peakRssKb = inst.peakRssKb();
    return {
      attachmentBytes: config.attachmentBytes,
      requestBytes: body.length,
      recipients: recipients.length,
      status: res.status,
      acceptSeconds: Math.round(acceptSeconds * 100) / 100,
      delivered: stats.messages,
      deliveredByApi,
      allDelivered: stats.messages >= recipients.length && deliveredByApi >= recipients.length,
      deliverSeconds: stats.lastAt > 0 ? Math.round((stats.lastAt - started) / 100) / 10 : 0,
      idleRssMb: mb(idleRssKb),
      peakRssMb: mb(peakRssKb),
      peakOverAttachment: Math.round(((peakRssKb - idleRssKb) * 1024 * 100) / config.attachmentBytes) / 100,
      loadAverage: loadAverage(),
      notes,
    };
  } finally {
    agent.destroy();
    await inst?.stop();
    await prepared.dispose();
  }
}
