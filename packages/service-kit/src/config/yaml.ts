import { parseDocument } from "yaml";

/**
 * A config file's YAML as plain values. What the parser only warns about (a tag it cannot resolve,
 * such as `!gO`, or an unknown `%` directive) is refused like a syntax error: the value would
 * otherwise be read as something else without a word, and `yaml` would print the warning on stderr
 * through `process.emitWarning`, outside the service's one-line-per-problem report. Throws an Error
 * whose message is one line: what is wrong and where (`Unresolved tag: !gO at line 1, column 1`).
 */
export function parseConfigYaml(text: string): unknown {
  // parseDocument collects warnings and errors without printing them (`parse` prints the warnings).
  const doc = parseDocument(text);
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw new Error(firstLine(problem.message));
  return doc.toJS();
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/:$/, "");
}
