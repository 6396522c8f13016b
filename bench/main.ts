// `npm run bench`: compares raftkv with a real etcd (same machine, same cluster shape and flags)
// over the v2 HTTP API. Starts the clusters, runs every workload on both targets alternately
// (A, B, A, B so machine drift cancels), prints a table, the issue's PASS/FAIL targets and writes
// bench-results/<timestamp>.json. Everything it starts is stopped by pid; data dirs are removed.
// This is a benchmark, not a test: it asserts nothing (test/bench/smoke.test.ts checks it runs).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startCluster, type Cluster, type Target } from './cluster.js'
import type { ConnFactory } from './conn.js'
import { nodeConnFactory } from './node-client.js'
import { parseOptions, USAGE, type BenchOptions } from './options.js'
import { cleanup, installSignalHandlers, recordPids, sweepStale, trackDir } from './procs.js'
import { formatProfileSummary, summarizeProfiles, type ProfileSummary } from './profile-summary.js'
import { rawConnFactory } from './raw-client.js'
import { evaluateChecks, formatChecks, formatDetails, formatProblems, formatTable, merge, toRecord, withRatio, type Cell, type RunRecord } from './report.js'
import { runOnce, type RunResult } from './runner.js'
import { WORKLOADS, type Workload } from './workloads.js'
import { formatScale, runScale, type ScaleResult } from './scale.js'
import { formatRecipes, runRecipes, type RecipeRow } from './recipes.js'

const repoRoot = resolve(new URL('..', import.meta.url).pathname)

/** One line on stderr, rewritten in place on a terminal; plain lines otherwise. */
class Progress {
  private readonly tty = process.stderr.isTTY === true
  private shown = false
  update(text: string): void {
    if (!this.tty) return
    process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns || 120) - 1)}`)
    this.shown = true
  }
  /** A line that stays (non-terminals get only these). */
  log(text: string): void {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[K')
    this.shown = false
    process.stderr.write(text + '\n')
  }
  clear(): void {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[K')
    this.shown = false
  }
}

interface Plan { workload: Workload; clients: number }

function planCells(o: BenchOptions): Plan[] {
  const plans: Plan[] = []
  for (const w of WORKLOADS) {
    if (o.only !== null && !o.only.includes(w.name)) continue
    for (const c of o.clients ?? w.defaultClients) plans.push({ workload: w, clients: c })
  }
  return plans
}

/** How to start one raftkv member (etcd flags are appended), or null when there is no server yet. */
function raftkvCommand(o: BenchOptions): { cmd: string[] } | null {
  if (o.raftkvCommand !== null) return { cmd: o.raftkvCommand }
  if (existsSync(join(repoRoot, 'server/cli.ts'))) return { cmd: [process.execPath, '--import', 'tsx', 'server/cli.ts'] }
  return null
}

function etcdVersion(path: string): string {
  try {
    return /etcd Version: (\S+)/.exec(execFileSync(path, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * node --cpu-prof names files CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, one per thread
 * (tsx runs its loader in a worker). Keeps the main-thread profile of each member, renamed to
 * <member>-<n>m.cpuprofile, and deletes the loader-thread ones. Returns the kept paths.
 */
function nameProfiles(dir: string, cluster: Cluster | undefined, members: number): string[] {
  const kept: string[] = []
  for (const f of readdirSync(dir)) {
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(f)
    if (m === null) continue
    const member = cluster?.members.find((x) => x.process.pid === Number(m[1]))
    if (m[2] !== '0') { rmSync(join(dir, f)); continue }
    const to = join(dir, `${member?.name ?? `pid${m[1]}`}-${members}m.cpuprofile`)
    renameSync(join(dir, f), to)
    kept.push(to)
  }
  return kept.sort()
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-')
}

async function main(): Promise<number> {
  let o: BenchOptions
  try {
    o = parseOptions(process.argv.slice(2), [...WORKLOADS.map((w) => w.name), 'recipes'])
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  if (o.help) { process.stdout.write(USAGE + '\n'); return 0 }
  const progress = new Progress()
  installSignalHandlers(() => o.keep, () => progress.clear())

  let targets: Target[] = [...o.targets]
  const notes: string[] = []
  const rkCmd = raftkvCommand(o)
  if (targets.includes('raftkv') && rkCmd === null) {
    notes.push('raftkv NOT run: server/cli.ts does not exist')
    targets = targets.filter((t) => t !== 'raftkv')
  }
  if (targets.includes('raftkv') && rkCmd !== null) {
    const script = rkCmd.cmd.find((a) => /\.(c|m)?(j|t)s$/.test(a))
    if (script !== undefined && !existsSync(resolve(repoRoot, script))) {
      progress.log(`raftkv launcher ${script} not found${script.startsWith('dist/') ? ' (run npm run build first)' : ''}`)
      return 2
    }
  }
  if (targets.includes('etcd') && !existsSync(o.etcdPath)) {
    notes.push(`etcd NOT run: ${o.etcdPath} not found`)
    targets = targets.filter((t) => t !== 'etcd')
  }
  for (const n of notes) progress.log(`note: ${n}`)
  if (targets.length === 0) { progress.log('nothing to benchmark'); return 1 }

  const startedAt = new Date()
  const loadBefore = loadavg()[0]
  const runStamp = stamp()
  const outDir = resolve(repoRoot, o.outDir)
  mkdirSync(outDir, { recursive: true })
  const workDir = mkdtempSync(join(tmpdir(), 'raftkv-bench-'))
  trackDir(workDir)
  recordPids(workDir)
  for (const d of sweepStale(tmpdir(), 'raftkv-bench-', workDir)) progress.log(`removed the work dir of a bench run that was killed: ${d}`)
  const profileRoot = o.profile && targets.includes('raftkv') ? join(outDir, `profile-${runStamp}`) : undefined
  const plans = planCells(o)
  const totalRuns = o.members.length * plans.length * targets.length * o.rounds
  const putWorkload = WORKLOADS.find((w) => w.name === 'put')!
  // Cluster warm-up: PUTs at 64 clients beside each other workload of the run (at most 16 clients).
  const warmupPlans: Plan[] = [{ workload: putWorkload, clients: 64 }]
  for (const p of plans) if (!warmupPlans.some((x) => x.workload === p.workload)) warmupPlans.push({ workload: p.workload, clients: Math.min(16, p.clients) })
  const estS = (totalRuns * (o.durationMs + o.warmupMs + 300)) / 1000 + o.members.length * targets.length * (4 + o.clusterWarmupMs / 1000)
  if (o.scale === null) progress.log(`bench: targets ${targets.join(', ')}; members ${o.members.join(',')}; ${plans.length} cells x ${o.rounds} round(s) = ${totalRuns} runs of ${(o.durationMs / 1000).toFixed(1)} s (+${(o.warmupMs / 1000).toFixed(1)} s warm-up); about ${Math.ceil(estS / 60)} min`)

  let factory: ConnFactory & { destroy?(): void } = rawConnFactory
  if (o.generator === 'http') factory = nodeConnFactory()

  if (o.scale !== null) {
    const members = o.members.length === 2 && o.members[0] === 1 && o.members[1] === 3 ? 1 : o.members[0]
    const results: ScaleResult[] = []
    for (const t of targets) {
      progress.log(`scale: ${t}, ${members} member(s), loading ${o.scale} keys`)
      results.push(await runScale(t, {
        keys: o.scale, members, loadClients: 64, listings: o.listings, probeMs: o.probeMs, durationMs: o.durationMs, warmupMs: o.warmupMs, factory,
        spec: { workDir, heartbeatMs: o.heartbeatMs, electionMs: o.electionMs, snapshotCount: o.snapshotCount, raftkvCommand: rkCmd?.cmd ?? [], etcdPath: o.etcdPath, repoRoot },
        log: (line) => progress.update(line),
      }))
    }
    progress.clear()
    const file = join(outDir, `scale-${runStamp}.json`)
    writeFileSync(file, JSON.stringify({ version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), options: { ...o, targets }, loadAverage1m: { start: loadBefore, end: loadavg()[0] }, results }, null, 2) + '\n')
    process.stdout.write(`${formatScale(results)}\nresults: ${file}\n`)
    return 0
  }

  const runs: RunRecord[] = []
  const cells: Cell[] = []
  const profiles: Record<string, ProfileSummary & { dir: string }> = {}
  const restarts: { members: number; target: Target; why: string }[] = []
  // The recipe rows: SDK Lock / Election on each cluster of the run, v2 and (etcd) v3.
  const recipeRows: RecipeRow[] = []
  const recipeOpts = { durationMs: o.durationMs, warmupMs: o.warmupMs, workers: 4, observers: 4 }
  const wantRecipes = o.only === null || o.only.includes('recipes')
  let runNo = 0
  for (const members of o.members) {
    const clusters = new Map<Target, Cluster>()
    const raftkvWindowsUs: [number, number][] = []
    const failures = new Map<Target, string>()
    const profileDir = profileRoot !== undefined ? join(profileRoot, `${members}m`) : undefined
    const start = async (t: Target): Promise<void> => {
      progress.update(`starting ${t} with ${members} member(s)...`)
      try {
        clusters.set(t, await startCluster({
          target: t, members, workDir, heartbeatMs: o.heartbeatMs, electionMs: o.electionMs, snapshotCount: o.snapshotCount,
          raftkvCommand: rkCmd?.cmd ?? [], etcdPath: o.etcdPath, repoRoot, profileDir: t === 'raftkv' ? profileDir : undefined,
        }))
        failures.delete(t)
      } catch (err) {
        clusters.delete(t)
        const msg = (err as Error).message
        failures.set(t, msg.split('\n')[0])
        progress.log(`${t} (${members} members) failed to start: ${msg}`)
        return
      }
      const cluster = clusters.get(t)!
      if (o.clusterWarmupMs <= 0) return
      // A fresh raftkv member runs unoptimized JavaScript until V8 has compiled the paths a load
      // takes, which under load on two cores goes on for 10-15 s: after PUTs alone a lock cycle
      // ran at half its steady speed (failed compares, read rounds and watches warm separately).
      // The table measures members that have served every workload for a while, as a running
      // cluster has: all of the run's workloads at once, unmeasured; both targets get the same.
      progress.update(`warming up ${t} with ${members} member(s): ${warmupPlans.map((w) => w.workload.name).join(', ')}...`)
      const failed = await Promise.all(warmupPlans.map((w) =>
        runOnce(cluster, w.workload, { clients: w.clients, warmupMs: 0, durationMs: o.clusterWarmupMs, maxOps: o.maxOps, factory }).then(
          () => undefined,
          (err: Error) => `${w.workload.name}: ${err.message}`,
        )))
      // The cells that follow report (and recover from) a cluster that is really broken.
      for (const f of failed) if (f !== undefined) progress.log(`${t} (${members} members) warm-up failed: ${f}`)
    }
    /** A cluster that failed a run is replaced by a fresh one, so one bug does not void the rest of the table. */
    const restart = async (t: Target, why: string): Promise<void> => {
      progress.log(`restarting ${t} (${members} members) with fresh data dirs: ${why}`)
      restarts.push({ members, target: t, why })
      await clusters.get(t)?.stop()
      await start(t)
    }
    for (const t of targets) {
      await start(t)
    }
    for (const plan of plans) {
      const cell: Cell = { members, workload: plan.workload.name, op: plan.workload.op, clients: plan.clients }
      const perTarget = new Map<Target, { stats: RunResult | null; failure?: string }[]>()
      for (let round = 1; round <= o.rounds; round++) {
        for (const t of targets) {
          runNo++
          const list = perTarget.get(t) ?? []
          perTarget.set(t, list)
          const cluster = clusters.get(t)
          const label = `[${runNo}/${totalRuns}] ${t} ${members}m ${plan.workload.name} c=${plan.clients} r${round}`
          if (cluster === undefined) { list.push({ stats: null, failure: `cluster did not start: ${failures.get(t)}` }); continue }
          try {
            progress.update(`${label}: setup`)
            const r = await runOnce(cluster, plan.workload, {
              clients: plan.clients, warmupMs: o.warmupMs, durationMs: o.durationMs, maxOps: o.maxOps, factory,
              onProgress: (ops, errors, ms) => progress.update(`${label}: ${ops} ops, ${Math.round(ops / (ms / 1000))}/s, ${errors} errors, ${(ms / 1000).toFixed(1)}/${(o.durationMs / 1000).toFixed(1)} s`),
            })
            list.push({ stats: r })
            if (t === 'raftkv') raftkvWindowsUs.push(r.windowUs)
            runs.push(toRecord(r, { members, workload: plan.workload.name, clients: plan.clients, target: t, round }))
            const errs = r.errors > 0 ? `, ${r.errors} errors (${r.errorSamples.join('; ')})` : ''
            if (process.stderr.isTTY !== true || r.errors > 0) progress.log(`${label}: ${r.opsPerSec.toFixed(0)} op/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${errs}`)
            if (r.ops === 0 || r.errors >= r.ops) await restart(t, `${label}: ${r.ops} ops, ${r.errors} errors`)
          } catch (err) {
            const msg = (err as Error).message
            list.push({ stats: null, failure: msg })
            progress.log(`${label}: FAILED: ${msg}`)
            await restart(t, `${label} failed: ${msg.split('\n')[0]}`)
          }
        }
      }
      for (const [t, list] of perTarget) cell[t] = merge(list)
      cells.push(withRatio(cell))
    }
    if (wantRecipes) {
      for (const t of targets) {
        const cluster = clusters.get(t)
        if (cluster === undefined) continue
        const endpoints = cluster.members.map((m) => `http://${m.host}:${m.clientPort}`)
        for (const api of t === 'etcd' ? (['v2', 'v3'] as const) : (['v2'] as const)) {
          progress.update(`recipes: ${t} ${api} ${members}m`)
          try {
            recipeRows.push(await runRecipes(t, api, members, endpoints, recipeOpts))
          } catch (err) {
            progress.log(`recipes: ${t} ${api} ${members}m FAILED: ${(err as Error).message}`)
          }
        }
      }
    }
    progress.update(`stopping ${members}-member clusters...`)
    await Promise.all([...clusters.values()].map((c) => c.stop()))
    if (profileDir !== undefined && existsSync(profileDir)) {
      const files = nameProfiles(profileDir, clusters.get('raftkv'), members)
      if (files.length > 0) profiles[`${members}m`] = { ...summarizeProfiles(files, repoRoot, 15, raftkvWindowsUs.length > 0 ? raftkvWindowsUs : undefined), dir: profileDir }
    }
  }
  progress.clear()
  factory.destroy?.()

  const checks = targets.length === 2 ? evaluateChecks(cells) : []
  const legend = [...new Map(plans.map((p) => [p.workload.name, p.workload])).values()].map((w) => `  ${w.name.padEnd(8)} op = ${w.op}: ${w.description}`)
  const out: string[] = []
  out.push('')
  out.push(`settings: ${o.members.join(',')} member(s); --heartbeat-interval ${o.heartbeatMs} --election-timeout ${o.electionMs} --snapshot-count ${o.snapshotCount} for both, fsync on; ${(o.durationMs / 1000).toFixed(1)} s measured (+${(o.warmupMs / 1000).toFixed(1)} s warm-up) x ${o.rounds} round(s) per target, alternating; each cluster warmed up with ${(o.clusterWarmupMs / 1000).toFixed(1)} s of PUTs at 64 clients beside the run's other workloads; generator ${o.generator}${rkCmd !== null && targets.includes('raftkv') ? `; raftkv: ${rkCmd.cmd.slice(1).join(' ')}` : ''}`)
  for (const n of notes) out.push(`NOTE: ${n}`)
  out.push(formatTable(cells))
  if (recipeRows.length > 0) {
    out.push('')
    out.push(formatRecipes(recipeRows, recipeOpts))
  }
  const details = formatDetails(cells)
  if (details.length > 0) {
    out.push('')
    out.push('details:')
    out.push(...details)
  }
  const problems = formatProblems(cells)
  for (const r of restarts) problems.push(`  ${r.target} ${r.members}m cluster restarted with fresh data after: ${r.why}`)
  if (problems.length > 0) {
    out.push('')
    out.push('problems:')
    out.push(...problems)
  }
  out.push('')
  out.push('workloads:')
  out.push(...legend)
  if (checks.length > 0) {
    out.push('')
    out.push('targets (3 members):')
    out.push(formatChecks(checks))
  }
  for (const [shape, s] of Object.entries(profiles)) {
    out.push('')
    out.push(formatProfileSummary(`raftkv CPU profile, ${shape}`, s))
  }
  const genCpu = runs.length ? runs.reduce((a, r) => a + r.generatorCpuUsPerOp * r.ops, 0) / Math.max(1, runs.reduce((a, r) => a + r.ops, 0)) : 0
  out.push('')
  out.push(`load generator (${o.generator}): ${genCpu.toFixed(1)} us CPU per op on average`)

  const loadAfter = loadavg()[0]
  if (Math.max(loadBefore, loadAfter) > cpus().length) {
    out.push(`WARNING: 1-minute load average ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end on ${cpus().length} CPUs: other processes competed for the CPUs, so absolute numbers are noisy (the A/B alternation keeps the ratios fairer)`)
  }
  const file = join(outDir, `${runStamp}.json`)
  const doc = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { loadAverage1m: { start: loadBefore, end: loadAfter }, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version, platform: `${process.platform}-${process.arch}`, etcdVersion: targets.includes('etcd') ? etcdVersion(o.etcdPath) : null },
    options: { ...o, targets, raftkvCommand: rkCmd?.cmd ?? null },
    notes,
    workloads: plans.map((p) => ({ name: p.workload.name, op: p.workload.op, description: p.workload.description, clients: p.clients })),
    cells,
    checks,
    restarts,
    runs,
    profiles,
    recipes: recipeRows,
  }
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
  out.push(`results: ${file}`)
  if (o.keep) out.push(`data dirs and logs kept in ${workDir}`)
  process.stdout.write(out.join('\n') + '\n')
  return runs.length > 0 || recipeRows.length > 0 ? 0 : 1
}

let code = 1
try {
  code = await main()
} catch (err) {
  process.stderr.write(`\nbench failed: ${(err as Error).stack ?? err}\n`)
} finally {
  await cleanup(process.argv.includes('--keep'))
}
process.exit(code)
