// Browser (playground): the short texts the panels make of payloads and errors. Packet fields have
// their own rules (text or hex): see packet-fields.ts.

const decoder = new TextDecoder();

/** The bytes as UTF-8 text. */
export function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The first `n` characters, with an ellipsis when there were more. */
export function preview(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** What to show for a caught value: an Error's message, anything else as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A byte count for people: "1 MiB", "512 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}
