export {
  InlineBackend,
  type LocalTokenizerBackend,
  localTokenizerBackend,
  WorkerPoolBackend,
} from "./backends.ts";
export { tokenizerFields, tokenizerSourcesOf } from "./config.ts";
export {
  ModelResolver,
  NoLocalTokenizerError,
  type Resolution,
  runJob,
  type TokenizeJob,
} from "./resolver.ts";
export { serverTokenize } from "./server-tokenize.ts";
