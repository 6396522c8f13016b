#!/usr/bin/env node
// The `raftkv` binary: etcd flags + ETCD_* env -> ServerConfig -> startServer(); graceful stop on
// SIGINT/SIGTERM. Only process-level concerns live here (exit codes, signals, stdout/stderr).

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { checkBootstrap, ConfigError, helpText, parseArgs, wantsHelp, wantsVersion, type ServerConfig } from './config.js'
import { SERVER_VERSION } from './http/misc.js'
import { startServer } from './index.js'
import { StartupError } from './startup-error.js'
import { BootstrapError } from './cluster/start-member.js'
import { createLogger, type Logger } from './log.js'

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000

/** raftkv's own version, from package.json (found from server/ when run with tsx, dist/server/ when built). */
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'raftkv' && pkg.version) return pkg.version
    } catch {
      // try the next location
    }
  }
  return 'unknown'
}

/** `--version` output, shaped like etcd's (name: value lines). */
export function versionText(): string {
  return [
    `raftkv Version: ${packageVersion()}`,
    `API Version: 2`,
    `etcd Compatibility: ${SERVER_VERSION}`,
    `Node Version: ${process.version}`,
    `Node OS/Arch: ${platform()}/${arch()}`,
    '',
  ].join('\n')
}

/** True when the data dir holds nothing yet, i.e. this start bootstraps (CLI-5). */
function isFreshDataDir(config: ServerConfig): boolean {
  if (!existsSync(config.dataDir)) return true
  try {
    return readdirSync(config.dataDir).length === 0
  } catch {
    return false
  }
}

async function main(argv: string[]): Promise<void> {
  // `raftkv lock ...` / `raftkv elect ...`: the recipe commands (recipe-cli.ts); any other
  // arguments are etcd's server flags, as before.
  if (argv[0] === 'lock' || argv[0] === 'elect') {
    const { runRecipeCommand } = await import('./recipe-cli.js')
    process.exit(await runRecipeCommand(argv[0], argv.slice(1)))
  }
  if (wantsHelp(argv)) {
    process.stdout.write(helpText())
    return
  }
  if (wantsVersion(argv)) {
    process.stdout.write(versionText())
    return
  }

  let config: ServerConfig
  try {
    config = parseArgs(argv, process.env)
    if (isFreshDataDir(config) && config.initialClusterState === 'new' && !config.forceNewCluster) checkBootstrap(config)
    // Refused rather than silently ignored (DISC-4: SRV discovery is optional and not implemented).
    if (isFreshDataDir(config) && config.discoverySrv !== '') {
      throw new ConfigError('--discovery-srv (DNS SRV discovery) is not supported by raftkv; use --discovery or --initial-cluster')
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`raftkv: error: ${e.message}\n`)
      if (e.exitCode === 2) process.stderr.write("Run 'raftkv --help' for usage.\n")
      process.exit(e.exitCode)
    }
    throw e
  }

  const log = createLogger(config)
  for (const w of config.warnings) log.warn(w)
  log.info(
    { version: packageVersion(), dataDir: config.dataDir, initialClusterState: config.initialClusterState },
    'starting raftkv',
  )

  // Installed before start-up so a signal during it still stops the member cleanly once it is up.
  let server: Awaited<ReturnType<typeof startServer>> | undefined
  installSignalHandlers(log, () => server?.close() ?? Promise.resolve(), () => server !== undefined)
  try {
    server = await startServer({
      ...config,
      logger: log,
      // As etcd: a member removed from the cluster stops and exits 0; a storage failure exits 1.
      onStop: (reason) => {
        if (reason === 'removed') {
          log.warn('this member was removed from the cluster; exiting')
          setTimeout(() => process.exit(0), 200).unref()
        } else {
          // Listeners are closed already; exit 1 (as etcd) even if nothing else is left to run.
          log.fatal('the member stopped after a storage failure; exiting with status 1')
          process.exitCode = 1
          setTimeout(() => process.exit(1), 200).unref()
        }
      },
    })
  } catch (e) {
    // One line naming the flag and value (StartupError) or the cause; the stack only at debug level.
    if (config.logLevel === 'debug') log.fatal({ err: e }, 'failed to start')
    const text = e instanceof StartupError || e instanceof BootstrapError ? e.message : `failed to start: ${(e as Error)?.message ?? String(e)}`
    process.stderr.write(`raftkv: error: ${text}\n`)
    process.exit(1)
  }
  log.info({ clientUrls: server.clientUrls }, 'ready to serve client requests')
  startedSignal?.()
}

/** Set while a signal that arrived during start-up waits for the member to be up. */
let startedSignal: (() => void) | undefined

/**
 * A terminal's Ctrl-C reaches every process of the foreground group, and npm also relays it to
 * its child: one key press can arrive twice within milliseconds. A repeat this soon is the same.
 */
const REPEAT_WINDOW_MS = 500

/**
 * First SIGINT/SIGTERM: a leader hands leadership over, the member stops, exit 0 (1 if close fails
 * or times out). A second signal (after REPEAT_WINDOW_MS) exits 1 at once.
 */
function installSignalHandlers(log: Logger, close: () => Promise<void>, isUp: () => boolean): void {
  let stoppingAt: number | undefined
  const stop = (): void => {
    const timer = setTimeout(() => {
      log.error({ timeoutMs: STOP_TIMEOUT_MS }, 'graceful shutdown timed out')
      process.exit(1)
    }, STOP_TIMEOUT_MS)
    timer.unref()
    close().then(
      () => {
        log.info('stopped')
        process.exit(0)
      },
      (e: unknown) => {
        log.error({ err: e }, 'error while shutting down')
        process.exit(1)
      },
    )
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppingAt !== undefined) {
      if (Date.now() - stoppingAt < REPEAT_WINDOW_MS) {
        log.debug({ signal }, 'repeated signal within the same stop (relayed by a parent); ignored')
        return
      }
      log.warn({ signal }, 'second signal, exiting immediately')
      process.exit(1)
    }
    stoppingAt = Date.now()
    log.info({ signal }, 'received signal, shutting down')
    if (isUp()) stop()
    else startedSignal = stop
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`raftkv: ${(e as Error)?.stack ?? String(e)}\n`)
  process.exit(1)
})
