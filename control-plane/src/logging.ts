// Structured JSON logs, one object per line: {"time","level","component","msg",...fields}. The sink is injectable
// so tests can capture lines and the CLI can silence them.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;                        // default from MESHLENS_LOG_LEVEL, else 'info'
  write?: (line: string) => void;          // default process.stderr
  now?: () => number;
}

export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const envLevel = process.env.MESHLENS_LOG_LEVEL as LogLevel | undefined;
  const threshold = LEVEL_ORDER[options.level ?? (envLevel && envLevel in LEVEL_ORDER ? envLevel : 'info')];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_ORDER[level] < threshold) return;
    write(JSON.stringify({ time: new Date(now()).toISOString(), level, component, msg, ...fields }) + '\n');
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (name) => createLogger(`${component}.${name}`, options),
  };
}

export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger,
};
