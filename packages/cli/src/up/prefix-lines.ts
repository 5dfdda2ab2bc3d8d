/**
 * Splits a byte stream into lines and writes each with a fixed prefix, so the interleaved
 * output of several child processes stays readable. A partial last line is held until its end.
 */
export function linePrefixer(
  prefix: string,
  write: (line: string) => void,
): { push(chunk: Buffer | string): void; flush(): void } {
  let pending = "";
  return {
    push(chunk) {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) write(`${prefix}${line}\n`);
    },
    flush() {
      if (pending.length > 0) write(`${prefix}${pending}\n`);
      pending = "";
    },
  };
}

const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93];

/** `name | ` padded to `width`, coloured when the terminal supports it. */
export function formatPrefix(name: string, index: number, width: number, colour: boolean): string {
  const label = `${name.padEnd(width)} | `;
  return colour ? `\u001b[${COLOURS[index % COLOURS.length]}m${label}\u001b[0m` : label;
}
