#!/usr/bin/env node
import { benchHelp, runBench } from "./commands/bench.ts";
import { EVENTS_HELP, runEvents } from "./commands/events.ts";
import { KV_HELP, runKv } from "./commands/kv.ts";
import { runService } from "./commands/run-service.ts";
import { runUp, UP_HELP } from "./commands/up.ts";

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  up: {
    summary:
      "run the whole stack locally: nats, redis, kv-index, scorer, gateway, autoscaler, simulated vLLM fleet",
    run: runUp,
  },
  sim: {
    summary: "run the vLLM-compatible model server simulator (vLLM's flags; --fleet N)",
    run: (a) => runService("model-sim", a),
  },
  scorer: {
    summary: "run the endpoint picker; --config FILE --validate checks a picker config",
    run: (a) => runService("scorer", a),
  },
  gateway: { summary: "run the OpenAI-compatible gateway", run: (a) => runService("gateway", a) },
  "kv-index": { summary: "run the KV-cache index service", run: (a) => runService("kv-index", a) },
  autoscaler: {
    summary: "run the SLO autoscaler; --config FILE --validate prints the effective policy",
    run: (a) => runService("autoscaler", a),
  },
  deployer: {
    summary: "run the deployer: model pools as local processes or on Kubernetes, the endpoint inventory",
    run: (a) => runService("deployer", a),
  },
  bench: {
    summary:
      "benchmarks: routing policies, autoscaling policies, simulator, gateway, scorer, kv-index, tokenizer",
    run: runBench,
  },
  events: {
    summary:
      "follow any event stream of the NATS contract decoded (requests, kv-events, decisions, inventory, load)",
    run: runEvents,
  },
  kv: {
    summary: "KV-cache tools: decode a vLLM event payload, hash blocks as vLLM does, tail the event stream",
    run: runKv,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `inferd — prefix-cache-aware LLM serving\n\nUsage: pnpm inferd <command> [options]\n\nCommands:\n${rows.join("\n")}\n\n${UP_HELP}\n${EVENTS_HELP}\n${KV_HELP}\n${benchHelp()}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(help());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`inferd: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    process.stderr.write(`inferd ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

// Exit explicitly: a failed command may leave a connection or timer that would keep the process alive.
process.exit(await main(process.argv.slice(2)));
