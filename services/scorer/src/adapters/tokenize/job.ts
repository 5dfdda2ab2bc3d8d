// The resolution code is shared with kv-index's lookup service (@inferd/tokenizers).
export {
  ModelResolver,
  type Resolution,
  runJob,
  type TokenizeJob,
} from "@inferd/tokenizers";
