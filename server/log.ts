// Structured logging for the server: one JSON object per line (pino), or a short readable line
// when the output is a terminal. Owns no policy about what to log; callers add fields.

import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino'
import type { LogLevel } from './config.js'

/** The logger every server module takes. A pino Logger: `log.info({ peer }, 'message')`, `log.child({...})`. */
export type Logger = PinoLogger

/** Options for createLogger; only `name` and `logLevel` come from ServerConfig. */
export interface LoggerConfig {
  /** Member name, written as `member` on every line. */
  name?: string
  /** Member id (16 hex digits) once known; later ids can be added with `log.child({ memberId })`. */
  memberId?: string
  logLevel?: LogLevel
}

export interface LoggerOptions {
  /** Where lines go; default process.stdout. */
  destination?: NodeJS.WritableStream
  /** Readable lines instead of JSON; default: true when the destination is a TTY. */
  pretty?: boolean
}

/** etcd's panic/fatal have no pino counterpart beyond fatal. */
function pinoLevel(level: LogLevel | undefined): string {
  if (level === undefined) return 'info'
  return level === 'panic' ? 'fatal' : level
}

/**
 * Create the server logger. JSON lines carry `level` (label), `time` (ISO), `member`, `memberId`
 * (when given) and `msg`. Writes are synchronous so the last lines before an exit are not lost.
 */
export function createLogger(config: LoggerConfig = {}, options: LoggerOptions = {}): Logger {
  const out = options.destination ?? process.stdout
  const pretty = options.pretty ?? Boolean((out as { isTTY?: boolean }).isTTY)
  const base: Record<string, string> = {}
  if (config.name !== undefined) base.member = config.name
  if (config.memberId !== undefined) base.memberId = config.memberId
  const stream: DestinationStream = pretty
    ? { write: (line: string) => void out.write(formatPretty(line)) }
    : { write: (line: string) => void out.write(line) }
  return pino(
    {
      level: pinoLevel(config.logLevel),
      base,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  )
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/** Change the level at run time (MISC-5 `PUT /config/local/log`). Throws on an unknown level. */
export function setLogLevel(log: Logger, level: LogLevel): void {
  log.level = pinoLevel(level)
}

const COLOURS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[35m' }

/** Turn one pino JSON line into `16:27:01.123 INFO  member msg key=value ...`. Non-JSON passes through. */
export function formatPretty(line: string, colour = true): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { level, time, msg, member, memberId, err, ...rest } = o
  const lvl = String(level ?? 'info')
  const t = typeof time === 'string' ? time.slice(11, 23) : ''
  const who = [member, memberId].filter((x) => x !== undefined).join('/')
  const tag = lvl.toUpperCase().padEnd(5)
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ')
  const c = colour ? (COLOURS[lvl] ?? '') : ''
  const reset = colour && c !== '' ? '\x1b[0m' : ''
  let s = `${t} ${c}${tag}${reset} ${who !== '' ? who + ' ' : ''}${String(msg ?? '')}${fields !== '' ? ' ' + fields : ''}\n`
  if (err && typeof err === 'object' && 'stack' in err) s += String((err as { stack: unknown }).stack) + '\n'
  return s
}
