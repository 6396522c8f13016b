// Command-line flags of `npm run bench` and their defaults. Pure parsing, no I/O.
import type { Target } from './cluster.js'

/** Parsed bench options. Durations in milliseconds. */
export interface BenchOptions {
  targets: Target[]
  members: number[]
  only: string[] | null
  /** Overrides every workload's default client counts. */
  clients: number[] | null
  durationMs: number
  warmupMs: number
  /** Unmeasured PUT load (64 clients) on every cluster right after it started, both targets. */
  clusterWarmupMs: number
  /** A/B pairs per cell (A, B, A, B ... alternating). */
  rounds: number
  maxOps: number
  generator: 'raw' | 'http'
  profile: boolean
  outDir: string
  keep: boolean
  heartbeatMs: number
  electionMs: number
  snapshotCount: number
  /** Command that starts one raftkv member (etcd flags are appended). */
  raftkvCommand: string[] | null
  etcdPath: string
  quick: boolean
  help: boolean
  /** Scale mode: keys to load (null = the normal workload table). */
  scale: number | null
  /** Scale mode: concurrent recursive listings while small requests are timed. */
  listings: number
  /** Scale mode: how long the small-request probe runs, ms. */
  probeMs: number
}

export const USAGE = `usage: npm run bench -- [flags]
  --quick                 short run (1 round, ~1 s per run) for a first look
  --duration <s>          measured seconds per run (default 2; quick 0.8)
  --warmup <s>            unmeasured seconds before each run (default 0.5; quick 0.2)
  --cluster-warmup <s>    unmeasured load on each cluster after it started, before its first cell:
                          PUTs at 64 clients beside every other workload of the run (default 15;
                          quick 1; 0 = none): raftkv's JIT optimizes a path only after it ran hot for
                          a while, 10-15 s under load on two cores (etcd gets the same warm-up)
  --rounds <n>            A/B pairs per cell, alternating raftkv/etcd (default 2; quick 1)
  --max-ops <n>           stop a run early after n operations (default 1000000)
  --clients 1,64,256      client counts for every workload (default: per workload)
  --only put,get          workloads: put,put-hot,get,qget,cas,lock,post,watch,recipes
                          (recipes: SDK Lock cycles and Election.observe notify latency, v2 and etcd v3)
  --members 1,3           cluster sizes (default 1,3)
  --target raftkv|etcd|both   (default both; etcd is skipped when /usr/bin/etcd is missing)
  --generator raw|http    load generator connections (default raw; http = node:http Agent)
  --profile               run raftkv under node --cpu-prof; print the profile files and top functions
  --raftkv-cmd "<cmd>"    how to start one raftkv member (default: node --import tsx server/cli.ts,
                          or "node dist/server/cli.js" with --dist)
  --dist                  use the built server (npm run build first)
  --etcd <path>           etcd binary (default /usr/bin/etcd)
  --heartbeat-interval <ms> --election-timeout <ms> --snapshot-count <n>  (default 100, 1000, 10000)
  --out <dir>             where the JSON result goes (default bench-results)
  --keep                  keep data dirs and logs (printed at the end)
  --scale <keys>          scale mode: load <keys> keys of 256 B into each target (first --members
                          size, default 1), then report RSS, data dir, snapshots, restart, GET/PUT
                          on the loaded store and small-request latency during big listings
  --listings <n>          scale mode: concurrent recursive listings in the probe (default 5)
  --probe <s>             scale mode: seconds the probe runs (default 5)`

function list(v: string, flag: string): string[] {
  const items = v.split(',').map((x) => x.trim()).filter((x) => x !== '')
  if (items.length === 0) throw new Error(`${flag}: empty list`)
  return items
}

function positiveNumbers(v: string, flag: string, integer: boolean): number[] {
  return list(v, flag).map((x) => {
    const n = Number(x)
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${flag}: invalid value ${JSON.stringify(x)}`)
    return n
  })
}

/** Parses argv (without node and script). Throws Error with a message on bad input. */
export function parseOptions(argv: string[], knownWorkloads: string[]): BenchOptions {
  const o: BenchOptions = {
    targets: ['raftkv', 'etcd'], members: [1, 3], only: null, clients: null,
    durationMs: 2000, warmupMs: 500, clusterWarmupMs: 15000, rounds: 2, maxOps: 1_000_000, generator: 'raw', profile: false,
    outDir: 'bench-results', keep: false, heartbeatMs: 100, electionMs: 1000, snapshotCount: 10000,
    raftkvCommand: null, etcdPath: '/usr/bin/etcd', quick: false, help: false,
    scale: null, listings: 5, probeMs: 5000,
  }
  let durationSet = false, warmupSet = false, clusterWarmupSet = false, roundsSet = false, dist = false
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v: string | undefined
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq) }
    const value = (): string => {
      if (v !== undefined) return v
      const next = argv[++i]
      if (next === undefined) throw new Error(`${a} needs a value`)
      return next
    }
    switch (a) {
      case '--help': case '-h': o.help = true; break
      case '--quick': o.quick = true; break
      case '--profile': o.profile = true; break
      case '--keep': o.keep = true; break
      case '--dist': dist = true; break
      case '--duration': o.durationMs = positiveNumbers(value(), a, false)[0] * 1000; durationSet = true; break
      case '--warmup': { const w = Number(value()); if (!(w >= 0)) throw new Error('--warmup: invalid'); o.warmupMs = w * 1000; warmupSet = true; break }
      case '--cluster-warmup': { const w = Number(value()); if (!(w >= 0)) throw new Error('--cluster-warmup: invalid'); o.clusterWarmupMs = w * 1000; clusterWarmupSet = true; break }
      case '--rounds': o.rounds = positiveNumbers(value(), a, true)[0]; roundsSet = true; break
      case '--max-ops': o.maxOps = positiveNumbers(value(), a, true)[0]; break
      case '--clients': o.clients = positiveNumbers(value(), a, true); break
      case '--members': o.members = positiveNumbers(value(), a, true); break
      case '--only': {
        o.only = list(value(), a)
        const bad = o.only.filter((w) => !knownWorkloads.includes(w))
        if (bad.length > 0) throw new Error(`--only: unknown workload(s) ${bad.join(',')}; known: ${knownWorkloads.join(',')}`)
        break
      }
      case '--target': {
        const t = value()
        if (t === 'both') o.targets = ['raftkv', 'etcd']
        else if (t === 'raftkv' || t === 'etcd') o.targets = [t]
        else throw new Error('--target must be raftkv, etcd or both')
        break
      }
      case '--generator': {
        const g = value()
        if (g !== 'raw' && g !== 'http') throw new Error('--generator must be raw or http')
        o.generator = g
        break
      }
      case '--raftkv-cmd': o.raftkvCommand = list(value().replace(/\s+/g, ','), a); break
      case '--etcd': o.etcdPath = value(); break
      case '--out': o.outDir = value(); break
      case '--heartbeat-interval': o.heartbeatMs = positiveNumbers(value(), a, true)[0]; break
      case '--election-timeout': o.electionMs = positiveNumbers(value(), a, true)[0]; break
      case '--snapshot-count': o.snapshotCount = positiveNumbers(value(), a, true)[0]; break
      case '--scale': o.scale = positiveNumbers(value(), a, true)[0]; break
      case '--listings': o.listings = positiveNumbers(value(), a, true)[0]; break
      case '--probe': o.probeMs = positiveNumbers(value(), a, false)[0] * 1000; break
      default: throw new Error(`unknown flag ${a}\n${USAGE}`)
    }
  }
  if (o.quick) {
    if (!durationSet) o.durationMs = 800
    if (!warmupSet) o.warmupMs = 200
    if (!clusterWarmupSet) o.clusterWarmupMs = 1000
    if (!roundsSet) o.rounds = 1
  }
  if (dist && o.raftkvCommand === null) o.raftkvCommand = [process.execPath, 'dist/server/cli.js']
  return o
}
