/**
 * The one logger: every module logs through a {@linkcode Logger}, which is
 * LogTape by default. On a terminal the lines are for people; otherwise
 * they are JSON lines with a time and a level, for a collector.
 *
 * @module
 */
import {
  configureSync,
  getConfig,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type LogRecord,
  type TextFormatter,
} from "@logtape/logtape";

/** How severe a log line is, least first; `LOG_LEVEL` picks the lowest written. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields that go with a log line; never a secret. */
export type LogFields = Record<string, unknown>;

/** How a line is logged: its level, `error` when not given. */
export interface LogOptions {
  level?: LogLevel;
}

/** A structured log line's sink: every module logs through one of these. */
export type Logger = (
  message: string,
  fields?: LogFields,
  options?: LogOptions,
) => void;

/** How {@linkcode configureLogging} writes. */
export interface LoggingOptions {
  level: LogLevel;
  /** `text` for people, `json` for collectors; by default text only on a terminal. */
  format?: "text" | "json";
}

const CATEGORY = ["chat"];
const encoder = new TextEncoder();

/** Shows the fields after the message as `key=value`, one line in all. */
function fieldsText(properties: Record<string, unknown>): string {
  let text = "";
  for (const [key, value] of Object.entries(properties)) {
    const shown = typeof value === "string" && /^[^\s"=]+$/.test(value)
      ? value
      : JSON.stringify(value);
    text += ` ${key}=${shown}`;
  }
  return text;
}

function formatterFor(format: "text" | "json"): TextFormatter {
  if (format === "json") {
    return getJsonLinesFormatter({ properties: "flatten" });
  }
  return getTextFormatter({
    timestamp: "date-time",
    format: (v) =>
      `${v.timestamp} [${v.level}] ${v.message}${
        fieldsText(v.record.properties)
      }`,
  });
}

/** Writes whole lines to stderr at once, so a line logged just before exit is not lost. */
function stderrSink(formatter: TextFormatter): (record: LogRecord) => void {
  return (record) => {
    let bytes = encoder.encode(formatter(record));
    while (bytes.length > 0) {
      bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
    }
  };
}

/** Sets up LogTape for this process (main.ts and each `deno serve` worker call it once). */
export function configureLogging(options: LoggingOptions): void {
  const format = options.format ??
    (Deno.stderr.isTerminal() ? "text" : "json");
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink(formatterFor(format)) },
    loggers: [
      { category: CATEGORY, lowestLevel: options.level, sinks: ["stderr"] },
      // LogTape's own notices about itself.
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}

/** The default logger: LogTape, configured at `info` on first use if nobody did. */
export function defaultLog(
  message: string,
  fields?: LogFields,
  options?: LogOptions,
): void {
  if (getConfig() === null) configureLogging({ level: "info" });
  // emit(), not info(): a message is plain text, never a template.
  getLogger(CATEGORY).emit({
    timestamp: Date.now(),
    level: options?.level ?? "error",
    message: [message],
    rawMessage: message,
    properties: fields ?? {},
  });
}

/** A failure as a log field: the stack when there is one. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.stack ?? err.message : String(err);
}
