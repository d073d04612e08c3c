/** Messages between the bench and its receiving-server process (over the fork IPC channel). */
export interface SinkStats {
  /** Messages accepted (250 after DATA). */
  messages: number;
  /** Envelope recipients of those messages. */
  recipients: number;
  bytes: number;
  /** Epoch ms of the first and the last accepted message since the last reset (0: none). */
  firstAt: number;
  lastAt: number;
  /** Messages received in a TLS session / in a plaintext one. */
  tls: number;
  plaintext: number;
  /** Messages whose header carries an RSA and an Ed25519 DKIM-Signature. */
  dkimRsa: number;
  dkimEd25519: number;
  connections: number;
  /** TLS protocol versions seen, with counts. */
  protocols: Record<string, number>;
}

export type SinkRequest =
  | { type: "start"; cert: string; key: string }
  | { type: "stats"; seq: number }
  | { type: "reset"; seq: number }
  | { type: "stop" };

export type SinkReply =
  | { type: "ready"; port: number }
  | { type: "stats"; seq: number; stats: SinkStats }
  | { type: "error"; message: string };

export function emptyStats(): SinkStats {
  return {
    messages: 0,
    recipients: 0,
    bytes: 0,
    firstAt: 0,
    lastAt: 0,
    tls: 0,
    plaintext: 0,
    dkimRsa: 0,
    dkimEd25519: 0,
    connections: 0,
    protocols: {},
  };
}
