/**
 * A rendered message as the buffers it was built from. A 25 MB attachment renders to
 * about 34 MB of MIME; keeping the parts instead of joining them (and putting the DKIM
 * signature in front as one more part) saves a full copy per message. The delivery
 * layer streams the parts; only the sandbox, which stores a copy anyway, joins them.
 * A single Buffer is a body too.
 */
export type MessageBody = Buffer | readonly Buffer[];

export function bodyParts(body: MessageBody): readonly Buffer[] {
  return Buffer.isBuffer(body) ? [body] : body;
}

export function bodyLength(body: MessageBody): number {
  return bodyParts(body).reduce((n, b) => n + b.length, 0);
}

/** The body as one buffer: a copy unless it already is one. */
export function bodyBuffer(body: MessageBody): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.concat(body);
}
