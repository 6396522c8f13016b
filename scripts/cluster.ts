// `npm run cluster`: a local 3-member raftkv cluster on 127.0.0.1, logs prefixed by member name.
// Each member runs in its own process group, so a terminal's Ctrl-C reaches only this script, which
// then sends exactly one SIGTERM per member, the leader first: it hands over, every member exits 0. A member
// that died (or was killed) is brought back by `npm run cluster -- --restart NAME` with the same flags.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatPretty } from '../server/log.js'

const USAGE = `Usage: npm run cluster -- [options]

Starts a local 3-member raftkv cluster (infra1, infra2, infra3) on 127.0.0.1 and prints its logs.
Ctrl-C stops it: each member gets one SIGTERM, the leader first (it hands leadership over to a
member still running), and all exit 0. A second Ctrl-C makes the members exit at once.

Options:
  --fresh            delete the data dirs first (a new cluster)
  --base-port N      client ports N, N+2, N+4 and peer ports N+1, N+3, N+5
                     (default: etcd's local ports, clients 2379 22379 32379, peers 2380 22380 32380)
  --data-dir DIR     where the members' data dirs go (default: ./cluster-data)
  --restart NAME     start only member NAME again from its data dir (after it died or was killed);
                     give the same --base-port/--data-dir as the cluster was started with
  -h, --help         print this help
`

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

interface Options {
  fresh: boolean
  base?: number
  dataRoot: string
  restart?: string
}

function usageError(message: string): never {
  process.stderr.write(`cluster: ${message}\nRun 'npm run cluster -- --help' for usage.\n`)
  process.exit(2)
}

function parseOptions(args: string[]): Options {
  const opts: Options = { fresh: false, dataRoot: path.join(root, 'cluster-data') }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const value = (): string => {
      const v = args[++i]
      if (v === undefined) usageError(`${a} needs a value`)
      return v
    }
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE)
      process.exit(0)
    } else if (a === '--fresh') opts.fresh = true
    else if (a === '--base-port') {
      const v = value()
      const n = Number(v)
      if (!Number.isInteger(n) || n < 1 || n + 5 > 65535) usageError(`--base-port '${v}': not a port number`)
      opts.base = n
    } else if (a === '--data-dir') opts.dataRoot = path.resolve(value())
    else if (a === '--restart') opts.restart = value()
    else usageError(`unknown argument '${a}'`)
  }
  return opts
}

const opts = parseOptions(process.argv.slice(2))
const NAMES = ['infra1', 'infra2', 'infra3']
const members = NAMES.map((name, i) => {
  const client = opts.base === undefined ? [2379, 22379, 32379][i]! : opts.base + i * 2
  const peer = opts.base === undefined ? [2380, 22380, 32380][i]! : opts.base + i * 2 + 1
  return { name, client: `http://127.0.0.1:${client}`, peer: `http://127.0.0.1:${peer}`, dataDir: path.join(opts.dataRoot, `${name}.etcd`) }
})
const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',')

/** The command that brings one member back, with the flags this cluster was started with. */
function restartCommand(name: string): string {
  const extra = [opts.base !== undefined ? `--base-port ${opts.base}` : '', opts.dataRoot !== path.join(root, 'cluster-data') ? `--data-dir ${opts.dataRoot}` : '']
  return ['npm run cluster --', ...extra.filter(Boolean), '--restart', name].join(' ')
}

let toStart = members
if (opts.restart !== undefined) {
  const m = members.find((x) => x.name === opts.restart)
  if (!m) usageError(`--restart '${opts.restart}': no such member (one of ${NAMES.join(', ')})`)
  if (!existsSync(m.dataDir)) usageError(`--restart '${opts.restart}': no data dir at ${m.dataDir} (start the cluster without --restart)`)
  toStart = [m]
} else if (opts.fresh) {
  rmSync(opts.dataRoot, { recursive: true, force: true })
}

const tty = Boolean(process.stdout.isTTY)
const colours = tty ? ['\x1b[36m', '\x1b[35m', '\x1b[33m'] : ['', '', '']
const reset = tty ? '\x1b[0m' : ''
// Members run from the sources with the same loader as this script (a dist/ build may be stale).
const cli = ['--import', 'tsx', path.join(root, 'server/cli.ts')]
const procs = new Map<string, ChildProcess>()
let stoppingAt: number | undefined
let failed = false

for (const m of toStart) {
  const i = members.indexOf(m)
  const p = spawn(
    process.execPath,
    [
      ...cli,
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster-token', 'raftkv-local-cluster', '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
    ],
    // detached: its own process group, out of reach of the terminal's Ctrl-C (we send one SIGTERM).
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  procs.set(m.name, p)
  const prefix = `${colours[i]}${m.name.padEnd(6)}|${reset} `
  for (const stream of [p.stdout!, p.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      process.stdout.write(prefix + (line.startsWith('{') ? formatPretty(line, tty).trimEnd() : line) + '\n')
    })
  }
  p.on('exit', (code, signal) => {
    procs.delete(m.name)
    // The exit status tells how the stop went: a member that died earlier was reported then.
    if (stoppingAt !== undefined && code !== 0) failed = true
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`)
    if (stoppingAt === undefined) process.stdout.write(`${prefix}restart it with: ${restartCommand(m.name)}\n`)
  })
}

process.stdout.write(opts.restart !== undefined ? `raftkv cluster: restarting ${opts.restart}; Ctrl-C to stop it\n` : `raftkv cluster: Ctrl-C to stop\n`)
for (const m of toStart) {
  process.stdout.write(`  ${m.name}: client ${m.client}, peer ${m.peer}, pid ${procs.get(m.name)?.pid}, data dir ${m.dataDir}\n`)
  process.stdout.write(`          restart: ${restartCommand(m.name)}\n`)
}
if (opts.restart === undefined) {
  process.stdout.write(`  try: curl -s ${members[0]!.client}/v2/keys/hello -XPUT -d value=world; curl -s ${members[1]!.client}/v2/keys/hello\n`)
}

/** A terminal's Ctrl-C and npm's relay of it arrive together: a repeat this soon is the same stop. */
const REPEAT_WINDOW_MS = 500
const signalled = new Set<string>()

/** The name of the current leader, as the running members see it; undefined when none answers. */
async function leaderName(): Promise<string | undefined> {
  for (const m of toStart.filter((x) => procs.has(x.name))) {
    try {
      const get = async (p: string): Promise<unknown> => (await fetch(m.client + p, { signal: AbortSignal.timeout(1000) })).json()
      const self = (await get('/v2/stats/self')) as { leaderInfo?: { leader?: string } }
      const list = (await get('/v2/members')) as { members?: { id: string; name: string }[] }
      const lead = list.members?.find((x) => x.id === self.leaderInfo?.leader)?.name
      if (lead) return lead
    } catch {
      // ask the next member
    }
  }
  return undefined
}

function term(name: string): void {
  signalled.add(name)
  procs.get(name)?.kill('SIGTERM')
}

/**
 * One SIGTERM per member, the current leader first: it hands leadership to a member that is still
 * running, and the next leader is stopped next, so no stopping member waits out an election.
 */
async function stopInOrder(): Promise<void> {
  while (procs.size > 1) {
    const lead = await leaderName()
    if (lead === undefined || !procs.has(lead) || signalled.has(lead)) break
    const p = procs.get(lead)!
    const gone = new Promise((r) => p.once('exit', r))
    term(lead)
    await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))])
  }
  for (const name of procs.keys()) if (!signalled.has(name)) term(name)
}

function stop(): void {
  if (stoppingAt !== undefined) {
    if (Date.now() - stoppingAt < REPEAT_WINDOW_MS) return
    process.stdout.write('second signal: members exit at once\n')
    for (const p of procs.values()) p.kill('SIGTERM')
    return
  }
  stoppingAt = Date.now()
  process.stdout.write('stopping the cluster (one SIGTERM per member, the leader first)...\n')
  void stopInOrder()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.on('SIGHUP', stop)
// Members are in their own process groups: if this script fails, do not leave them behind.
process.on('exit', () => {
  for (const p of procs.values()) p.kill('SIGTERM')
})

await Promise.all([...procs.values()].map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.on('exit', r)))))
// Ended without a stop: every member died on its own.
process.exit(failed || stoppingAt === undefined ? 1 : 0)
