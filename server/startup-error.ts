// Start-up failures a user can fix: each names the flag and the value it is about, in one line
// (`--data-dir 'afile': not a directory`). The CLI prints the message without a stack trace.
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ServerConfig } from './config.js'

export class StartupError extends Error {
  constructor(
    readonly flag: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`--${flag} '${value}': ${reason}`)
    this.name = 'StartupError'
  }
}

/** errno codes as short words, for messages a user reads. */
const ERRNO_WORDS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
}

/** `permission denied` for an errno error; the error's own message when the code is unknown. */
export function errnoWords(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code
  return (code && ERRNO_WORDS[code]) ?? (e as Error)?.message ?? String(e)
}

/** A listener that could not bind, named by its flag and URL. */
export function listenError(flag: string, url: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException)?.code
  if (code === undefined || !ERRNO_WORDS[code]) return e as Error
  return new StartupError(flag, url, errnoWords(e))
}

type FileKind = 'cert' | 'key' | 'ca'

/** Reads and parses one TLS file so a bad path or PEM is reported against its flag. */
function checkTlsFile(flag: string, file: string, kind: FileKind): void {
  let pem: Buffer
  try {
    pem = readFileSync(file)
  } catch (e) {
    throw new StartupError(flag, file, `cannot read: ${errnoWords(e)}`)
  }
  try {
    if (kind === 'key') createPrivateKey(pem)
    else new X509Certificate(pem)
  } catch (e) {
    const what = kind === 'key' ? 'a PEM private key' : 'a PEM certificate'
    throw new StartupError(flag, file, `not ${what} (${(e as Error).message})`)
  }
}

/**
 * Every certificate, key and CA file given (client and peer) can be read and parsed. Run before the
 * data dir is touched, so a typo in a path fails the start with nothing changed.
 */
export function checkTlsFiles(config: Pick<ServerConfig, 'clientTls' | 'peerTls' | 'explicitFlags'>): void {
  const set = new Set(config.explicitFlags)
  const caFlag = (modern: string, legacy: string): string => (set.has(modern) || !set.has(legacy) ? modern : legacy)
  const files: [string, string, FileKind][] = [
    ['cert-file', config.clientTls.certFile, 'cert'],
    ['key-file', config.clientTls.keyFile, 'key'],
    [caFlag('trusted-ca-file', 'ca-file'), config.clientTls.trustedCaFile, 'ca'],
    ['peer-cert-file', config.peerTls.certFile, 'cert'],
    ['peer-key-file', config.peerTls.keyFile, 'key'],
    [caFlag('peer-trusted-ca-file', 'peer-ca-file'), config.peerTls.trustedCaFile, 'ca'],
  ]
  for (const [flag, file, kind] of files) if (file !== '') checkTlsFile(flag, file, kind)
}
