/**
 * An error a service handler returns to its caller. `status` follows HTTP (400 bad input,
 * 404 unknown, 503 unavailable); `code` is a stable machine-readable word.
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ServiceError";
    this.status = status;
    this.code = code;
  }
}

/** A failed service call: an error reply, a timeout or no responder. */
export class ServiceCallError extends Error {
  readonly status: number;
  readonly code: string;
  readonly subject: string;
  constructor(subject: string, status: number, code: string, message: string) {
    super(`${subject}: ${code}: ${message}`);
    this.name = "ServiceCallError";
    this.subject = subject;
    this.status = status;
    this.code = code;
  }
}

/** The micro-services protocol carries one description string; ours is `<code>: <message>`. */
export function formatErrorDescription(code: string, message: string): string {
  return `${code}: ${message}`;
}

export function parseErrorDescription(description: string): { code: string; message: string } {
  const i = description.indexOf(": ");
  if (i <= 0 || /\s/.test(description.slice(0, i))) return { code: "error", message: description };
  return { code: description.slice(0, i), message: description.slice(i + 2) };
}
