/**
 * The one log format: a JSON line per event on stderr, with its time and
 * level, so an operator can grep it and a collector can parse it.
 *
 * @module
 */

/** How severe a log line is. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields that go with a log line; never a secret. */
export type LogFields = Record<string, unknown>;

/** A structured log line's sink: every module logs through one of these. */
export type Logger = (message: string, fields?: LogFields) => void;

/** Writes `message` and `fields` as one JSON line to stderr at `level`. */
export function writeLog(
  level: LogLevel,
  message: string,
  fields?: LogFields,
): void {
  console.error(JSON.stringify({
    time: new Date().toISOString(),
    level,
    message,
    ...fields,
  }));
}

/** The default logger: error-level JSON lines on stderr. */
export function defaultLog(message: string, fields?: LogFields): void {
  writeLog("error", message, fields);
}

/** A failure as a log field: the stack when there is one. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.stack ?? err.message : String(err);
}
