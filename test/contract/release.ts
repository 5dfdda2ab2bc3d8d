// Writes the compatibility snapshot of the event-plane contract (docs/events/released/), as
// `pnpm proto:release` does for the proto files. Run it when a version is released.
import { writeFileSync } from "node:fs";
import { channelSummaries, RELEASED_PATH, readAsyncApi } from "./event-contract.ts";

const summaries = channelSummaries(readAsyncApi().doc);
writeFileSync(RELEASED_PATH, `${JSON.stringify(summaries, null, 2)}\n`);
console.log(`wrote ${summaries.length} channels to ${RELEASED_PATH}`);
