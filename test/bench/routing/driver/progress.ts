import type { StageProgress } from "./loadgen.ts";

/**
 * One-line progress bar on a terminal (redrawn in place), or a line every few seconds when the
 * output is not a terminal (a log file, the CLI's pipe).
 */
export class Progress {
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  private lastPlain = 0;
  private drawn = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.out = out;
    this.tty = out.isTTY === true;
  }

  stage(label: string, p: StageProgress): void {
    const frac = Math.min(1, p.elapsed / p.duration);
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const text =
      `${label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ` +
      `sent ${p.sent}/${p.total} in-flight ${p.inFlight} done ${p.done} lag max ${p.lagMaxMs.toFixed(0)}ms`;
    if (this.tty) {
      const cols = this.out.columns ?? 120;
      this.out.write(`\r${text.slice(0, cols - 1).padEnd(Math.min(cols - 1, text.length + 2))}`);
      this.drawn = true;
    } else if (performance.now() - this.lastPlain > 5000) {
      this.lastPlain = performance.now();
      this.out.write(`${text}\n`);
    }
  }

  /** A message on its own line (ends the bar line first). */
  line(text: string): void {
    if (this.tty && this.drawn) this.out.write("\n");
    this.drawn = false;
    this.out.write(`${text}\n`);
  }
}
