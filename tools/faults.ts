// Command line for the fault-injection run: `npm run test:faults -- --seed N --time 60
// [--nodes 5] [--server etcd|raftkv] [--clients 6] [--keys 4] [--faults kill,pause,...] [--keep]`.
// Exits 0 when every check passed, 1 otherwise, 2 on a usage error or when the watchdog fires.

import { parseArgs } from 'node:util'
import { runFaults } from '../test/faults/runner.js'
import { ALL_FAULTS, type FaultKind } from '../test/faults/nemesis.js'
import type { ServerKind } from '../test/faults/cluster.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    time: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '3' },
    server: { type: 'string', default: 'raftkv' },
    clients: { type: 'string', default: '6' },
    keys: { type: 'string', default: '4' },
    faults: { type: 'string' },
    keep: { type: 'boolean' },
  },
})

function usage(msg: string): never {
  console.error(`${msg}\nusage: npm run test:faults -- --seed N --time S [--nodes 3|5] [--server etcd|raftkv] [--clients N] [--keys N] [--faults ${ALL_FAULTS.join(',')}] [--keep]`)
  process.exit(2)
}

const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
const timeS = Number(values.time)
const nodes = Number(values.nodes)
const server = values.server as ServerKind
if (!Number.isInteger(seed) || seed < 0) usage('--seed must be a non-negative integer')
if (!(timeS > 0)) usage('--time must be positive')
if (!Number.isInteger(nodes) || nodes < 3) usage('--nodes must be an integer >= 3')
if (server !== 'etcd' && server !== 'raftkv') usage('--server must be etcd or raftkv')
const faults = values.faults?.split(',').map((f) => f.trim()) as FaultKind[] | undefined
for (const f of faults ?? []) if (!ALL_FAULTS.includes(f)) usage(`unknown fault ${f}`)

// Watchdog: the run must end; cluster.ts kills its children on exit.
const watchdogMs = (timeS + 240) * 1000
setTimeout(() => {
  console.error(`watchdog: run exceeded ${watchdogMs / 1000} s; killing members and exiting`)
  process.exit(2)
}, watchdogMs).unref()
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(2))

const report = await runFaults({ seed, timeS, nodes, server, clients: Number(values.clients), keys: Number(values.keys), ...(faults ? { faults } : {}), keep: values.keep })
process.exit(report.failed === 0 && report.passed > 0 ? 0 : 1)
