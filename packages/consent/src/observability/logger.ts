/** Structured JSON logs (pino). Request and response bodies, query strings and tokens are never logged: they can carry PHI or secrets. */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/app-config.js';

export type { Logger };

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.totp', '*.token'], censor: '[redacted]' },
  });
}
