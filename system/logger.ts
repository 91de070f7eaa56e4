import winston from 'winston';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type Logger = winston.Logger;

// Field names that may carry registry credentials or other secrets. Whatever a caller passes
// under such a name is replaced before any transport sees it, wherever in the event it sits.
const SECRET_KEY = /auth|password|passwd|secret|token|credential/i;
const REDACTED = '[redacted]';

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(inner, depth + 1);
  }
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(info[key], 0);
  }
  return info;
});

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

// One line per event: time, level, message, then key=value pairs in the order given.
const text = winston.format.printf((info) => {
  const { level, message, timestamp, ...fields } = info;
  const pairs = Object.entries(fields).map(([key, value]) => `${key}=${textValue(value)}`);
  return [String(timestamp), level.padEnd(5), String(message), ...pairs].join(' ');
});

function formatFor(format: LogFormat): winston.Logform.Format {
  return winston.format.combine(
    redact(),
    winston.format.timestamp(),
    format === 'json' ? winston.format.json({ bigint: true } as object) : text,
  );
}

/**
 * winston formats every event (redaction, timestamp, text) and only then lets the transport
 * drop one below the level; checking the level first makes a disabled line, such as the debug
 * line of every CRI call, cost next to nothing.
 */
function skipDisabledLevels(logger: Logger): void {
  for (const level of LOG_LEVELS) {
    const write = logger[level];
    logger[level] = function (this: Logger, ...args: unknown[]) {
      return this.isLevelEnabled(level) ? (write as (...args: unknown[]) => Logger).apply(this, args) : this;
    } as winston.LeveledLogMethod;
  }
}

// Everything goes to stderr by default: systemd's journal and `npm start` both show it there.
export function createLogger(level: LogLevel, format: LogFormat, stream: NodeJS.WritableStream = process.stderr): Logger {
  const logger = winston.createLogger({
    level,
    format: formatFor(format),
    transports: [new winston.transports.Stream({ stream })],
  });
  skipDisabledLevels(logger);
  return logger;
}

/** Applies a new level and format in place, for SIGHUP reloads. */
export function reconfigureLogger(logger: Logger, level: LogLevel, format: LogFormat): void {
  logger.level = level;
  logger.format = formatFor(format);
}
