// `npm run cluster`: a local 3-member raftkv cluster on 127.0.0.1 with etcd's usual local ports
// (clients 2379/22379/32379, peers 2380/22380/32380), data in ./cluster-data/, readable logs
// prefixed by member name. Ctrl-C stops all three gracefully. Flags: --fresh (wipe data first),
// --base-port N (clients N, N+20000, N+30000 style is kept only for the default; otherwise N, N+2, N+4).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatPretty } from '../server/log.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const fresh = args.includes('--fresh')
const baseIdx = args.indexOf('--base-port')
const base = baseIdx >= 0 ? Number(args[baseIdx + 1]) : undefined

const members = ['infra1', 'infra2', 'infra3'].map((name, i) => {
  const client = base === undefined ? [2379, 22379, 32379][i]! : base + i * 2
  const peer = base === undefined ? [2380, 22380, 32380][i]! : base + i * 2 + 1
  return { name, client: `http://127.0.0.1:${client}`, peer: `http://127.0.0.1:${peer}`, dataDir: path.join(root, 'cluster-data', `${name}.etcd`) }
})
if (fresh) rmSync(path.join(root, 'cluster-data'), { recursive: true, force: true })

const cli = existsSync(path.join(root, 'dist/server/cli.js')) ? [path.join(root, 'dist/server/cli.js')] : ['--import', 'tsx', path.join(root, 'server/cli.ts')]
const tty = Boolean(process.stdout.isTTY)
const colours = tty ? ['\x1b[36m', '\x1b[35m', '\x1b[33m'] : ['', '', '']
const reset = tty ? '\x1b[0m' : ''
const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',')
const procs: ChildProcess[] = []

members.forEach((m, i) => {
  const p = spawn(process.execPath, [
    ...cli,
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
    '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
    '--initial-cluster-token', 'raftkv-local-cluster', '--initial-cluster', initialCluster,
    '--initial-cluster-state', 'new',
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  procs.push(p)
  const prefix = `${colours[i]}${m.name.padEnd(6)}|${reset} `
  for (const stream of [p.stdout!, p.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      process.stdout.write(prefix + (line.startsWith('{') ? formatPretty(line, tty).trimEnd() : line) + '\n')
    })
  }
  p.on('exit', (code, signal) => process.stdout.write(`${prefix}exited (${signal ?? code})\n`))
})

process.stdout.write(`raftkv cluster: clients ${members.map((m) => m.client).join(', ')}; Ctrl-C to stop\n`)
process.stdout.write(`  try: curl -s ${members[0]!.client}/v2/keys/hello -XPUT -d value=world; curl -s ${members[1]!.client}/v2/keys/hello\n`)

let stopping = false
function stop(): void {
  if (stopping) {
    for (const p of procs) p.kill('SIGKILL')
    return
  }
  stopping = true
  process.stdout.write('stopping the cluster...\n')
  for (const p of procs) p.kill('SIGTERM')
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.on('exit', r)))))
process.exit(0)
