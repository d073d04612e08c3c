/**
 * A dynamic-template upload as the official Paubox Node SDK (Paubox/paubox-node) sends it,
 * rewritten from reading its createFormData(): multipart/form-data with `data[name]` and
 * the template as the file `data[body]` named `<name>.hbs`, type `text/x-handlebars-template`.
 * Built with Node's own FormData, so the wire format is a real client's. Not the SDK's code.
 */
export interface Upload {
  payload: Buffer;
  headers: Record<string, string>;
}

export async function sdkTemplateUpload(
  name: string | null,
  content: string | Buffer | null,
): Promise<Upload> {
  const form = new FormData();
  if (name) form.append("data[name]", name);
  if (content !== null) {
    const bytes = typeof content === "string" ? Buffer.from(content) : content;
    form.append(
      "data[body]",
      new Blob([new Uint8Array(bytes)], { type: "text/x-handlebars-template" }),
      `${name || "template"}.hbs`,
    );
  }
  const encoded = new Response(form);
  return {
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { "content-type": encoded.headers.get("content-type") ?? "" },
  };
}
