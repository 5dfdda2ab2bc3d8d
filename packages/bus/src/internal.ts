export { formatErrorDescription, parseErrorDescription } from "./errors.ts";
export * from "./index.ts";
